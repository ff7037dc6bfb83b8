/* Snapshots and offline unwinding (src/native/snapshot.c, unwind.c).
 *
 * Each test starts a target, stops one of its threads with ptrace, takes
 * a snapshot (registers and a copy of the stack), lets the thread go and
 * only then unwinds and symbolises the copy. The function chain must be
 * the one the target was built to have, and the same as the one gdb
 * prints for the same stop.
 *
 * Targets: test/targets/native/nested (frame pointers, built by make),
 * the same program built here without frame pointers and with its chain
 * going through a shared library, and real CPython interpreters of
 * test/list-interpreters (pyenv-3.12, debian-3.11).
 *
 * The chains end in the C library (__libc_start_call_main, start_thread):
 * local symbols that Debian's libc6 strips and libc6-dbg's debug file
 * keeps. Without them the tests that name those frames skip, saying so. */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "elf_symbols.h"
#include "interpreters.h"
#include "proc_maps.h"
#include "remote.h"
#include "snapshot.h"
#include "unwind.h"

#define MAX_FRAMES 128
#define MAX_NAME 128


static char tmpdir[256];
static bool have_gdb;

/* ---- helpers ------------------------------------------------------------ */

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static int run(const char *fmt, ...) {
  char cmd[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  int rc = system(cmd);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

struct target {
  pid_t pid;
  int out; /* read end of its stdout */
};

/* Start argv and wait (at most 10 s) for it to print "ready". */
static bool target_start(struct target *t, char *const argv[]) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return false;
  pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    dup2(fds[1], 1);
    execvp(argv[0], argv);
    _exit(127);
  }
  close(fds[1]);
  t->pid = pid;
  t->out = fds[0];
  char buf[256];
  size_t got = 0;
  uint64_t deadline = now_ns() + 10000000000ull;
  while (now_ns() < deadline) {
    struct pollfd p = {fds[0], POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    ssize_t n = read(fds[0], buf + got, sizeof buf - 1 - got);
    if (n <= 0) break;
    got += (size_t)n;
    buf[got] = '\0';
    if (strstr(buf, "ready\n") != NULL) return true;
    if (got >= sizeof buf - 1) break;
  }
  return false;
}

static void target_stop(struct target *t) {
  if (t->pid > 0) {
    kill(t->pid, SIGKILL);
    waitpid(t->pid, NULL, 0);
  }
  if (t->out >= 0) close(t->out);
  t->pid = 0;
  t->out = -1;
}

/* The thread of pid other than the main one (the first found). */
static pid_t other_thread(pid_t pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
  DIR *d = opendir(path);
  if (d == NULL) return -1;
  pid_t tid = -1;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    int t = atoi(e->d_name);
    if (t > 0 && t != pid) {
      tid = t;
      break;
    }
  }
  closedir(d);
  return tid;
}

/* State letter of a thread ('S', 'R', 'T', 't'...). */
static char thread_state(pid_t pid, pid_t tid) {
  char path[96], buf[512];
  snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, (int)tid);
  FILE *f = fopen(path, "r");
  if (f == NULL) return '?';
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  char *p = strrchr(buf, ')');
  return p != NULL && p[1] == ' ' ? p[2] : '?';
}

/* Wait (at most 30 s: a hang guard, a loaded machine may take seconds to
 * run the thread there) until thread tid is blocked in the system call nr
 * (/proc/PID/task/TID/syscall): "ready" is printed by the last thread to
 * arrive, which may still be in write(2) when we see it. */
static bool wait_syscall(pid_t pid, pid_t tid, long nr) {
  char path[96];
  snprintf(path, sizeof path, "/proc/%d/task/%d/syscall", (int)pid, (int)tid);
  uint64_t deadline = now_ns() + 30000000000ull;
  while (now_ns() < deadline) {
    FILE *f = fopen(path, "r");
    long got = -2;
    if (f != NULL) {
      if (fscanf(f, "%ld", &got) != 1) got = -2;
      fclose(f);
    }
    if (got == nr) return true;
    sleep_ms(2);
  }
  return false;
}

/* Wait for a ptrace stop of tid, at most 30 s (a hang guard). */
static bool wait_stop(pid_t tid) {
  uint64_t deadline = now_ns() + 30000000000ull;
  while (now_ns() < deadline) {
    int st;
    pid_t r = waitpid(tid, &st, __WALL | WNOHANG);
    if (r == tid) return WIFSTOPPED(st);
    if (r < 0) return false;
    sleep_ms(1);
  }
  return false;
}

/* Stop tid (PTRACE_SEIZE + PTRACE_INTERRUPT), read its registers, take a
 * snapshot of its stack and let it go (PTRACE_DETACH). */
static bool stop_and_snapshot(pid_t pid, pid_t tid, struct native_snapshot *s) {
  if (ptrace(PTRACE_SEIZE, tid, NULL, NULL) != 0) return false;
  bool ok = false;
  if (ptrace(PTRACE_INTERRUPT, tid, NULL, NULL) == 0 && wait_stop(tid)) {
    struct user_regs_struct regs;
    if (ptrace(PTRACE_GETREGS, tid, NULL, &regs) == 0) {
      uint64_t stack_end = 0;
      struct proc_maps pm;
      if (proc_maps_read(pid, &pm) == 0) {
        for (size_t i = 0; i < pm.count; i++)
          if (regs.rsp >= pm.maps[i].start && regs.rsp < pm.maps[i].end)
            stack_end = pm.maps[i].end;
        proc_maps_free(&pm);
      }
      struct remote *r = remote_open_pid(pid);
      ok = r != NULL &&
           snapshot_take(r, tid, &regs, stack_end, SNAPSHOT_STACK_DEFAULT, s) == 0;
      remote_close(r);
    }
  }
  ptrace(PTRACE_DETACH, tid, NULL, NULL);
  return ok;
}

/* Stop the whole process (SIGSTOP, group-stop), so that gdb later sees
 * the very stop we unwound. */
static bool group_stop(pid_t pid) {
  if (kill(pid, SIGSTOP) != 0) return false;
  uint64_t deadline = now_ns() + 30000000000ull;
  while (now_ns() < deadline) {
    if (thread_state(pid, pid) == 'T') return true;
    sleep_ms(1);
  }
  return false;
}

struct chain {
  int n;
  uint64_t pcs[MAX_FRAMES];
  char names[MAX_FRAMES][MAX_NAME];
  bool complete;
  uint64_t ns; /* time of the unwind */
};

static void symbolise(struct unwinder *u, struct chain *c) {
  for (int i = 0; i < c->n; i++) {
    const char *name;
    uint64_t off;
    /* Return addresses: look up the call instruction (pc - 1). */
    uint64_t pc = i == 0 ? c->pcs[i] : c->pcs[i] - 1;
    if (unwinder_symbol(u, pc, &name, &off) == 0)
      snprintf(c->names[i], MAX_NAME, "%s", name);
    else
      snprintf(c->names[i], MAX_NAME, "??");
  }
}

static void unwind_chain(struct unwinder *u, const struct native_snapshot *s,
                         struct chain *c) {
  uint64_t t0 = now_ns();
  c->n = unwinder_unwind(u, s, c->pcs, MAX_FRAMES, &c->complete);
  c->ns = now_ns() - t0;
  symbolise(u, c);
}

static void print_chain(const char *what, const struct chain *c) {
  print_message("  %s: %d frames, complete=%d:", what, c->n, c->complete);
  for (int i = 0; i < c->n; i++) print_message(" %s", c->names[i]);
  print_message("\n");
}

static int find_name(const struct chain *c, const char *name, int from) {
  for (int i = from; i < c->n; i++)
    if (strcmp(c->names[i], name) == 0) return i;
  return -1;
}

/* ---- gdb ---------------------------------------------------------------- */

/* gdb's backtrace of thread tid: function names, leaf first. Frames of
 * inlined functions (gdb prints no address for them, except maybe at #0)
 * are marked. */
struct gdb_bt {
  int n;
  char names[MAX_FRAMES][MAX_NAME];
  bool inlined[MAX_FRAMES];
};

static bool gdb_backtrace(pid_t pid, pid_t tid, struct gdb_bt *bt) {
  bt->n = 0;
  char cmd[512];
  snprintf(cmd, sizeof cmd,
           "timeout 60 gdb -nx -batch -p %d -ex 'set debuginfod enabled off' "
           "-ex 'set pagination off' -ex 'set backtrace past-main on' -ex 'thread apply all bt' 2>/dev/null",
           (int)pid);
  FILE *f = popen(cmd, "r");
  if (f == NULL) return false;
  char line[8192];
  bool in = false, found = false;
  char lwp[32];
  snprintf(lwp, sizeof lwp, "(LWP %d)", (int)tid);
  while (fgets(line, sizeof line, f) != NULL) {
    if (strncmp(line, "Thread ", 7) == 0) {
      in = strstr(line, lwp) != NULL;
      found |= in;
      continue;
    }
    if (!in || line[0] != '#' || bt->n >= MAX_FRAMES) continue;
    char *p = line + 1;
    while (*p >= '0' && *p <= '9') p++;
    while (*p == ' ') p++;
    bool addr = false;
    if (strncmp(p, "0x", 2) == 0) {
      char *in_ = strstr(p, " in ");
      if (in_ == NULL) continue;
      p = in_ + 4;
      addr = true;
    }
    size_t len = strcspn(p, " (\n");
    if (len >= MAX_NAME) len = MAX_NAME - 1;
    memcpy(bt->names[bt->n], p, len);
    bt->names[bt->n][len] = '\0';
    bt->inlined[bt->n] = !addr && bt->n > 0;
    bt->n++;
  }
  pclose(f);
  return found && bt->n > 0;
}

static void print_gdb(const struct gdb_bt *bt) {
  print_message("  gdb: %d frames:", bt->n);
  for (int i = 0; i < bt->n; i++)
    print_message(" %s%s", bt->names[i], bt->inlined[i] ? "(inl)" : "");
  print_message("\n");
}

/* Names equal but for what symbol tables and DWARF name differently: the
 * suffixes of compiler clones (.constprop.0, .isra.0, .part.0, .cold) and
 * leading underscores of aliases (__clone3 / clone3). */
static bool same_name(const char *a, const char *b) {
  while (*a == '_') a++;
  while (*b == '_') b++;
  size_t la = strcspn(a, "."), lb = strcspn(b, ".");
  return la == lb && strncmp(a, b, la) == 0;
}

/* Compare with gdb, frame by frame. A physical frame of gdb is a frame
 * with an address and the inlined frames that follow it (the caller of
 * an inlined function, which the symbol table names, comes last): our
 * name must be one of them. "??" on either side matches anything.
 * Returns the number of frames compared by name; *mismatches counts those
 * named differently, *len_diff is our frame count minus gdb's physical
 * one. */
static int compare_gdb(const struct chain *c, const struct gdb_bt *bt,
                       int *mismatches, int *len_diff) {
  int g = 0, compared = 0, physical = 0;
  *mismatches = 0;
  for (int i = 0; i < c->n && g < bt->n; i++) {
    int end = g + 1;
    while (end < bt->n && bt->inlined[end]) end++;
    const char *a = c->names[i];
    bool named = strcmp(a, "??") != 0, match = false;
    for (int k = g; k < end; k++) {
      named &= strcmp(bt->names[k], "??") != 0;
      match |= same_name(a, bt->names[k]);
    }
    if (named) {
      compared++;
      if (!match) {
        (*mismatches)++;
        print_message("  frame %d: ours %s, gdb %s\n", i, a, bt->names[end - 1]);
      }
    }
    g = end;
  }
  for (int i = 0; i < bt->n; i++) physical += !bt->inlined[i];
  *len_diff = c->n - physical;
  return compared;
}

/* ---- the C library's names ---------------------------------------------- */

/* Whether the elf_file of `path` (debug files looked for under `root`)
 * names every one of `names`; else the first it lacks. */
static const char *first_unnamed(const char *path, const char *root,
                                 const char *const *names) {
  struct elf_file *ef = elf_file_open(path, root);
  if (ef == NULL) return names[0];
  const char *missing = NULL;
  for (int i = 0; names[i] != NULL && missing == NULL; i++)
    if (elf_file_symbol(ef, names[i], NULL, NULL) != 0) missing = names[i];
  elf_file_close(ef);
  return missing;
}

/* The targets run with our own C library: the one this process maps. */
static bool own_libc(char *path, size_t size) {
  FILE *f = fopen("/proc/self/maps", "r");
  if (f == NULL) return false;
  char line[4096];
  bool found = false;
  while (!found && fgets(line, sizeof line, f) != NULL) {
    char *p = strchr(line, '/');
    if (p == NULL) continue;
    p[strcspn(p, "\n")] = '\0';
    const char *base = strrchr(p, '/') + 1;
    if (strncmp(base, "libc.so", 7) == 0 || strncmp(base, "libc-", 5) == 0) {
      snprintf(path, size, "%s", p);
      found = true;
    }
  }
  fclose(f);
  return found;
}

/* Skip the current test, saying why, unless the C library names the
 * frames the chains end with. */
static void require_libc_names(void) {
  static const char *const names[] = {"__libc_start_call_main", "start_thread", NULL};
  static int checked;
  static char why[4200];
  if (!checked) {
    char libc[4096];
    const char *missing;
    checked = 1;
    if (!own_libc(libc, sizeof libc))
      snprintf(why, sizeof why, "no C library (libc.so*) in /proc/self/maps");
    else if ((missing = first_unnamed(libc, "", names)) != NULL)
      snprintf(why, sizeof why,
               "%s names no %s, nor does a debug file of it under "
               "/usr/lib/debug (apt-get install libc6-dbg)",
               libc, missing);
  }
  if (why[0] != '\0') {
    print_message("skipped: %s\n", why);
    skip();
  }
}

/* ---- the nested targets ------------------------------------------------- */

static const char *const main_chain[] = {"wait_here", "level_c", "level_b",
                                         "level_a", "main", NULL};
static const char *const main_chain_lib[] = {"wait_here", "level_c", "lib_hop",
                                             "level_b", "level_a", "main", NULL};
static const char *const thread_chain[] = {"wait_here", "thread_z", "thread_y",
                                           "thread_x", "thread_main", NULL};
static const char *const thread_chain_lib[] = {
    "wait_here", "thread_z", "lib_hop", "thread_y", "thread_x", "thread_main", NULL};

/* The chain must contain `expect` as consecutive frames, and the frames
 * after it must reach the C library's start (main thread) or thread
 * start, with the walk complete. */
static void check_chain(const struct chain *c, const char *const *expect,
                        const char *outer) {
  int at = find_name(c, expect[0], 0);
  assert_true(at >= 0);
  for (int k = 0; expect[k] != NULL; k++) {
    assert_true(at + k < c->n);
    assert_string_equal(c->names[at + k], expect[k]);
  }
  assert_true(find_name(c, outer, at) > at);
  assert_true(c->complete);
}

/* Our names of the frames of the program itself, in order, against gdb's. */
static void check_against_gdb(const struct chain *c, const struct gdb_bt *bt,
                              const char *const *expect) {
  int mism, len_diff;
  int compared = compare_gdb(c, bt, &mism, &len_diff);
  print_message("  vs gdb: %d frames compared by name, %d differ, "
                "frame count ours-gdb = %d\n",
                compared, mism, len_diff);
  /* The program's own frames: exactly the same sequence in both. */
  int g = -1;
  for (int i = 0; i < bt->n; i++)
    if (strcmp(bt->names[i], expect[0]) == 0) {
      g = i;
      break;
    }
  assert_true(g >= 0);
  for (int k = 0; expect[k] != NULL; k++) {
    assert_true(g + k < bt->n);
    assert_string_equal(bt->names[g + k], expect[k]);
  }
  assert_int_equal(mism, 0);
  assert_int_equal(len_diff, 0);
}

static void nested_case(const char *exe, const char *const *mchain,
                        const char *const *tchain) {
  require_libc_names();
  struct target t = {0, -1};
  char *argv[] = {(char *)exe, NULL};
  print_message("target %s\n", exe);
  assert_true(target_start(&t, argv));
  pid_t tid = other_thread(t.pid);
  bool parked = tid > 0 && wait_syscall(t.pid, t.pid, SYS_pause) &&
                wait_syscall(t.pid, tid, SYS_pause);
  if (!parked) target_stop(&t);
  assert_true(parked);

  struct native_snapshot sm = {0}, st = {0};
  bool ok = stop_and_snapshot(t.pid, t.pid, &sm) &&
            stop_and_snapshot(t.pid, tid, &st);
  /* Both threads run again (blocked in pause()); nothing is traced. */
  char sm_state = thread_state(t.pid, t.pid), st_state = thread_state(t.pid, tid);

  struct unwinder *u = unwinder_new(t.pid);
  struct chain cm, ct;
  if (ok && u != NULL) {
    unwind_chain(u, &sm, &cm);
    unwind_chain(u, &st, &ct);
    print_chain("main thread", &cm);
    print_chain("other thread", &ct);
  }
  struct gdb_bt gm, gt;
  bool gdb_ok = have_gdb && gdb_backtrace(t.pid, t.pid, &gm) &&
                gdb_backtrace(t.pid, tid, &gt);
  target_stop(&t);

  assert_true(ok);
  assert_non_null(u);
  assert_true(sm_state == 'S' || sm_state == 'R');
  assert_true(st_state == 'S' || st_state == 'R');
  check_chain(&cm, mchain, "__libc_start_call_main");
  check_chain(&ct, tchain, "start_thread");
  /* The leaf is the interrupted instruction. */
  assert_int_equal(cm.pcs[0], sm.regs.rip);
  const char *path;
  uint64_t start, end, bias;
  int at = find_name(&cm, "main", 0);
  assert_int_equal(unwinder_mapping(u, cm.pcs[at], &path, &start, &end, &bias), 0);
  assert_true(cm.pcs[at] >= start && cm.pcs[at] < end);
  assert_non_null(strstr(path, "nested"));
  if (gdb_ok) {
    print_gdb(&gm);
    print_gdb(&gt);
    check_against_gdb(&cm, &gm, mchain);
    check_against_gdb(&ct, &gt, tchain);
  } else {
    print_message("  (no comparison with gdb: gdb %s)\n",
                  have_gdb ? "gave no backtrace" : "not found");
  }
  unwinder_free(u);
  snapshot_free(&sm);
  snapshot_free(&st);
}

static void test_nested_fp(void **state) {
  (void)state;
  const char *b = getenv("top_builddir");
  char exe[4096];
  snprintf(exe, sizeof exe, "%s/test/targets/native/nested", b ? b : ".");
  if (access(exe, X_OK) != 0) {
    /* Not built by make (a direct run): build it like make does. */
    snprintf(exe, sizeof exe, "%s/nested_fp", tmpdir);
    const char *s = getenv("top_srcdir");
    assert_int_equal(run("gcc -O2 -g -pthread -fno-omit-frame-pointer "
                         "%s/test/targets/native/nested.c -o %s",
                         s ? s : ".", exe),
                     0);
  }
  nested_case(exe, main_chain, thread_chain);
}

static void test_nested_nofp(void **state) {
  (void)state;
  char exe[512];
  snprintf(exe, sizeof exe, "%s/nested_nofp", tmpdir);
  nested_case(exe, main_chain, thread_chain);
}

static void test_nested_lib(void **state) {
  (void)state;
  char exe[512];
  snprintf(exe, sizeof exe, "%s/nested_lib", tmpdir);
  nested_case(exe, main_chain_lib, thread_chain_lib);
}

/* Two processes of one program with a library, mapped at other addresses
 * (ASLR): the second unwinder shares the first's files (austinp -C) and
 * still unwinds and names its own process's stack with its own load
 * biases, after the first is freed. */
static bool start_parked(struct target *t, const char *exe) {
  char *argv[] = {(char *)exe, NULL};
  if (!target_start(t, argv)) return false;
  pid_t tid = other_thread(t->pid);
  return tid > 0 && wait_syscall(t->pid, t->pid, SYS_pause) &&
         wait_syscall(t->pid, tid, SYS_pause);
}

static void test_shared_files(void **state) {
  (void)state;
  require_libc_names();
  char exe[512];
  snprintf(exe, sizeof exe, "%s/nested_lib", tmpdir);
  struct target a = {0, -1}, b = {0, -1};
  bool parked = start_parked(&a, exe) && start_parked(&b, exe);
  struct native_snapshot sa = {0}, sb = {0};
  bool ok = parked && stop_and_snapshot(a.pid, a.pid, &sa) &&
            stop_and_snapshot(b.pid, b.pid, &sb);
  struct unwinder *ua = ok ? unwinder_new(a.pid) : NULL;
  struct unwinder *ub = ua ? unwinder_new_sharing(b.pid, ua) : NULL;
  struct chain ca, cb;
  if (ub != NULL) {
    unwind_chain(ua, &sa, &ca);
    unwinder_free(ua);
    unwind_chain(ub, &sb, &cb);
    print_chain("first process", &ca);
    print_chain("second process, files shared", &cb);
  }
  target_stop(&a);
  target_stop(&b);
  assert_true(ok);
  assert_non_null(ub);
  check_chain(&ca, main_chain_lib, "__libc_start_call_main");
  check_chain(&cb, main_chain_lib, "__libc_start_call_main");
  assert_int_equal(cb.pcs[0], sb.regs.rip);
  const char *path;
  uint64_t start, end;
  int at = find_name(&cb, "main", 0);
  assert_int_equal(unwinder_mapping(ub, cb.pcs[at], &path, &start, &end, NULL), 0);
  assert_true(cb.pcs[at] >= start && cb.pcs[at] < end);
  print_message("  main at %#llx in the first process, %#llx in the second\n",
                (unsigned long long)ca.pcs[find_name(&ca, "main", 0)],
                (unsigned long long)cb.pcs[at]);
  unwinder_free(ub);
  snapshot_free(&sa);
  snapshot_free(&sb);
}

/* ---- CPython ------------------------------------------------------------ */

static const char py_busy[] =
    "import sys\n"
    "def work(n):\n"
    "    s = 0\n"
    "    for i in range(n):\n"
    "        s += i * i\n"
    "    return s\n"
    "def outer():\n"
    "    while True:\n"
    "        work(1000)\n"
    "print('ready', flush=True)\n"
    "outer()\n";

/* The chain of a busy interpreter's main thread; `timing`: also time warm
 * unwinds of the same snapshot. */
static void python_case(const char *label, bool timing) {
  const struct unit_interp *it = unit_interp_require(label);
  const char *python = it->path;
  /* The chain must end in main or the C library's start: without the
   * interpreter's own main, the C library must name its frames. */
  static const char *const main_only[] = {"main", NULL};
  if (first_unnamed(python, it->root != NULL ? it->root : "", main_only) != NULL)
    require_libc_names();
  struct target t = {0, -1};
  char *argv[UNIT_INTERP_MAX_ARGS + 3];
  size_t argc = 0;
  while (it->argv[argc] != NULL) {
    argv[argc] = it->argv[argc];
    argc++;
  }
  argv[argc++] = "-c";
  argv[argc++] = (char *)py_busy;
  argv[argc] = NULL;
  print_message("target %s (%s)\n", python, label);
  assert_true(target_start(&t, argv));
  sleep_ms(100);

  /* Group-stop the process first so that gdb sees the same stop. */
  struct native_snapshot s = {0};
  bool ok = group_stop(t.pid) && stop_and_snapshot(t.pid, t.pid, &s);

  uint64_t t0 = now_ns();
  struct unwinder *u = unwinder_new(t.pid);
  uint64_t t_new = now_ns() - t0;
  struct chain c;
  if (ok && u != NULL) {
    unwind_chain(u, &s, &c);
    print_chain("main thread", &c);
  }
  struct gdb_bt bt;
  bool gdb_ok = ok && have_gdb && gdb_backtrace(t.pid, t.pid, &bt);
  /* From here on only the snapshot is used. */
  target_stop(&t);

  assert_true(ok);
  assert_non_null(u);
  print_message("  unwinder_new: %.1f us, cold first unwind: %.1f us\n",
                t_new / 1e3, c.ns / 1e3);
  assert_true(find_name(&c, "_PyEval_EvalFrameDefault", 0) >= 0);
  assert_true(c.complete);
  assert_true(c.n >= 3);
  bool ends = false;
  for (int i = c.n - 4 < 0 ? 0 : c.n - 4; i < c.n; i++)
    ends |= strcmp(c.names[i], "main") == 0 ||
            strcmp(c.names[i], "__libc_start_call_main") == 0;
  assert_true(ends);

  if (gdb_ok) {
    print_gdb(&bt);
    int mism, len_diff;
    int compared = compare_gdb(&c, &bt, &mism, &len_diff);
    print_message("  vs gdb: %d frames compared by name, %d differ, "
                  "frame count ours-gdb = %d\n",
                  compared, mism, len_diff);
    assert_true(compared >= 3);
    assert_int_equal(mism, 0);
    assert_int_equal(len_diff, 0);
  } else {
    print_message("  (no comparison with gdb)\n");
  }

  if (timing) {
    /* The same snapshot, warm caches. */
    enum { N = 1000 };
    static uint64_t ns[N];
    uint64_t pcs[MAX_FRAMES];
    for (int i = 0; i < N; i++) {
      bool complete;
      uint64_t a = now_ns();
      int n = unwinder_unwind(u, &s, pcs, MAX_FRAMES, &complete);
      ns[i] = now_ns() - a;
      assert_int_equal(n, c.n);
      assert_true(complete);
    }
    for (int i = 1; i < N; i++)
      for (int j = i; j > 0 && ns[j - 1] > ns[j]; j--) {
        uint64_t x = ns[j];
        ns[j] = ns[j - 1];
        ns[j - 1] = x;
      }
    print_message("  warm unwind of %d frames: median %.2f us, p90 %.2f us "
                  "(%d unwinds)\n",
                  c.n, ns[N / 2] / 1e3, ns[N * 9 / 10] / 1e3, N);
  }
  unwinder_free(u);
  snapshot_free(&s);
}

static void test_python312(void **state) {
  (void)state;
  python_case("pyenv-3.12", true);
}

static void test_python311(void **state) {
  (void)state;
  python_case("debian-3.11", false);
}

/* ---- garbage ------------------------------------------------------------ */

static uint64_t rnd(uint64_t *x) {
  /* xorshift64 */
  *x ^= *x << 13;
  *x ^= *x >> 7;
  *x ^= *x << 17;
  return *x;
}

static void test_garbage(void **state) {
  (void)state;
  /* Our own process: its maps and files are real; the stack is noise. */
  struct unwinder *u = unwinder_new(getpid());
  assert_non_null(u);
  struct proc_maps pm;
  assert_int_equal(proc_maps_read(getpid(), &pm), 0);
  uint64_t seed = 0x9e3779b97f4a7c15ull;
  struct native_snapshot s = {0};
  s.stack_cap = s.stack_len = 16384;
  s.stack = malloc(s.stack_cap);
  assert_non_null(s.stack);
  uint64_t pcs[MAX_FRAMES];
  int frames = 0;
  for (int iter = 0; iter < 3000; iter++) {
    s.stack_addr = 0x7ff000000000ull + (rnd(&seed) & 0xfffff000ull);
    s.stack_len = rnd(&seed) % (s.stack_cap + 1);
    for (size_t i = 0; i < s.stack_cap; i += 8) {
      uint64_t v = rnd(&seed);
      /* Sometimes plausible: pointers into code or into the stack. */
      if (v % 4 == 0 && pm.count > 0) {
        const struct proc_map *m = &pm.maps[rnd(&seed) % pm.count];
        v = m->start + rnd(&seed) % (m->end - m->start);
      } else if (v % 4 == 1) {
        v = s.stack_addr + rnd(&seed) % (s.stack_cap + 64);
      }
      memcpy(s.stack + i, &v, 8);
    }
    unsigned long long *regs = (unsigned long long *)&s.regs;
    for (size_t i = 0; i < sizeof s.regs / sizeof *regs; i++) regs[i] = rnd(&seed);
    switch (iter % 3) {
    case 0: break; /* all random */
    case 1:
      s.regs.rsp = s.stack_addr + rnd(&seed) % (s.stack_cap + 16);
      s.regs.rbp = s.stack_addr + rnd(&seed) % (s.stack_cap + 16);
      /* fall through */
    case 2:
      if (pm.count > 0) {
        const struct proc_map *m = &pm.maps[rnd(&seed) % pm.count];
        s.regs.rip = m->start + rnd(&seed) % (m->end - m->start);
      }
      break;
    }
    bool complete;
    int n = unwinder_unwind(u, &s, pcs, MAX_FRAMES, &complete);
    assert_true(n >= 0 && n <= MAX_FRAMES);
    frames += n;
    for (int i = 0; i < n; i++) {
      const char *name;
      uint64_t off;
      unwinder_symbol(u, pcs[i], &name, &off);
    }
  }
  print_message("  3000 garbage unwinds: %d frames in all\n", frames);
  /* Snapshots of a bad stack pointer fail cleanly. */
  struct remote *r = remote_open_pid(getpid());
  struct user_regs_struct regs = {0};
  struct native_snapshot bad = {0};
  regs.rsp = 16;
  assert_int_equal(snapshot_take(r, getpid(), &regs, 0, 0, &bad), -1);
  regs.rsp = 0x10000000000ull; /* unmapped */
  assert_int_equal(snapshot_take(r, getpid(), &regs, 0, 0, &bad), -1);
  /* A "stack" of 31 pages followed by a hole. */
  const uint64_t pg = 4096;
  uint8_t *base = mmap(NULL, 32 * pg, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  assert_true(base != MAP_FAILED);
  assert_int_equal(munmap(base + 31 * pg, pg), 0);
  uint64_t b0 = (uint64_t)(uintptr_t)base, top = b0 + 31 * pg;
  for (uint64_t i = 0; i < 31 * pg; i++) base[i] = (uint8_t)(i * 7);
  /* stack_end unknown: the slice crosses the hole and shrinks to it. */
  regs.rsp = b0 + 16 * pg;
  assert_int_equal(snapshot_take(r, getpid(), &regs, 0, 0, &bad), 0);
  assert_int_equal(bad.stack_addr, regs.rsp - 128);
  assert_int_equal(bad.stack_len, top - (regs.rsp - 128));
  assert_memory_equal(bad.stack, base + 16 * pg - 128, bad.stack_len);
  regs.rsp = top - 512;
  assert_int_equal(snapshot_take(r, getpid(), &regs, 0, 0, &bad), 0);
  assert_int_equal(bad.stack_addr, top - 512 - 128);
  assert_int_equal(bad.stack_len, 512 + 128);
  /* stack_end known: clipped to it, and to max. */
  regs.rsp = top - 1000;
  assert_int_equal(snapshot_take(r, getpid(), &regs, top, 0, &bad), 0);
  assert_int_equal(bad.stack_len, 1128);
  regs.rsp = b0 + 10 * pg;
  assert_int_equal(snapshot_take(r, getpid(), &regs, top, 0, &bad), 0);
  assert_int_equal(bad.stack_len, SNAPSHOT_STACK_DEFAULT);
  assert_int_equal(snapshot_take(r, getpid(), &regs, top, 4096, &bad), 0);
  assert_int_equal(bad.stack_len, 4096);
  assert_true(bad.stack_cap >= SNAPSHOT_STACK_DEFAULT); /* reused, not shrunk */
  regs.rsp = top + 8;
  assert_int_equal(snapshot_take(r, getpid(), &regs, top, 0, &bad), -1);
  munmap(base, 31 * pg);
  remote_close(r);
  snapshot_free(&bad);
  proc_maps_free(&pm);
  free(s.stack);
  unwinder_free(u);
}

/* ---- maps refresh ------------------------------------------------------- */

/* A library loaded after the unwinder was made is found when a pc falls
 * in it (the maps are read again). */
static void test_late_library(void **state) {
  (void)state;
  struct unwinder *u = unwinder_new(getpid());
  assert_non_null(u);
  char lib[512];
  snprintf(lib, sizeof lib, "%s/libnestedhop.so", tmpdir);
  void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
  assert_non_null(h);
  void *fn = dlsym(h, "lib_hop");
  assert_non_null(fn);
  uint64_t pc = (uint64_t)(uintptr_t)fn + 1;
  const char *name = NULL, *path = NULL;
  uint64_t off = 0, start, end, bias;
  /* Refreshes are rate-bounded: right after unwinder_new, maybe none. */
  int rc = unwinder_symbol(u, pc, &name, &off);
  if (rc != 0) {
    sleep_ms(250);
    rc = unwinder_symbol(u, pc, &name, &off);
  }
  assert_int_equal(rc, 0);
  assert_string_equal(name, "lib_hop");
  assert_int_equal(off, 1);
  assert_int_equal(unwinder_mapping(u, pc, &path, &start, &end, &bias), 0);
  assert_non_null(strstr(path, "libnestedhop.so"));
  assert_true(pc >= start && pc < end);
  Dl_info info;
  assert_true(dladdr(fn, &info) != 0);
  assert_int_equal(bias, (uint64_t)(uintptr_t)info.dli_fbase);
  unwinder_free(u);
  dlclose(h);
}

/* ---- setup -------------------------------------------------------------- */

static int setup(void **state) {
  (void)state;
  snprintf(tmpdir, sizeof tmpdir, "/tmp/test_unwind.XXXXXX");
  if (mkdtemp(tmpdir) == NULL) return -1;
  const char *s = getenv("top_srcdir");
  if (s == NULL) s = ".";
  char lib[512];
  snprintf(lib, sizeof lib, "%s/nested_lib.c", tmpdir);
  FILE *f = fopen(lib, "w");
  if (f == NULL) return -1;
  fputs("/* The shared-library hop of nested.c (NESTED_VIA_LIB). */\n"
        "int lib_hop(int (*next)(int), int depth) {\n"
        "  return next(depth + 1) + 7;\n"
        "}\n",
        f);
  fclose(f);
  if (run("gcc -O2 -g -pthread -fomit-frame-pointer %s/test/targets/native/nested.c "
          "-o %s/nested_nofp",
          s, tmpdir) != 0 ||
      run("gcc -O2 -g -fPIC -shared -fomit-frame-pointer %s -o %s/libnestedhop.so",
          lib, tmpdir) != 0 ||
      run("gcc -O2 -g -pthread -DNESTED_VIA_LIB %s/test/targets/native/nested.c "
          "-o %s/nested_lib -L%s -lnestedhop -Wl,-rpath,%s",
          s, tmpdir, tmpdir, tmpdir) != 0)
    return -1;
  have_gdb = run("command -v gdb >/dev/null 2>&1") == 0;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  if (tmpdir[0] != '\0') run("rm -rf '%s'", tmpdir);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_nested_fp),   cmocka_unit_test(test_nested_nofp),
      cmocka_unit_test(test_nested_lib),  cmocka_unit_test(test_python312),
      cmocka_unit_test(test_python311),   cmocka_unit_test(test_garbage),
      cmocka_unit_test(test_late_library), cmocka_unit_test(test_shared_files),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
