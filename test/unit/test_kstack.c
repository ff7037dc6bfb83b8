/* Kernel stacks: the parser on fixed texts, then real reads of threads of
 * this process (blocked in nanosleep and in a futex) and the registers of
 * a child stopped by PTRACE_INTERRUPT in a wait and in user space. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "errors.h"
#include "kstack.h"
#include "kstack_read.h"

static size_t parse(const char *text, struct kstack *k) {
  return kstack_parse(text, strlen(text), k);
}

static void parses_frames_innermost_first(void **state) {
  (void)state;
  struct kstack k;
  const char *text = "[<0>] futex_wait_queue+0x60/0x90\n"
                     "[<0>] futex_wait+0x185/0x270\n"
                     "[<ffffffff81a0007c>] entry_SYSCALL_64_after_hwframe+0x6e/0xd8\n";
  assert_int_equal(parse(text, &k), 3);
  assert_string_equal(k.names[0], "futex_wait_queue");
  assert_string_equal(k.names[1], "futex_wait");
  assert_string_equal(k.names[2], "entry_SYSCALL_64_after_hwframe");
}

static void drops_module_suffix(void **state) {
  (void)state;
  struct kstack k;
  assert_int_equal(parse("[<0>] nf_hook_slow+0x41/0xc0 [nf_conntrack]\n"
                         "[<0>] poll_schedule_timeout.constprop.0+0x37/0x90\n", &k), 2);
  assert_string_equal(k.names[0], "nf_hook_slow");
  assert_string_equal(k.names[1], "poll_schedule_timeout.constprop.0");
}

static void empty_is_no_frames(void **state) {
  (void)state;
  struct kstack k;
  k.n = 7;
  assert_int_equal(kstack_parse("", 0, &k), 0);
  assert_int_equal(k.n, 0);
  assert_int_equal(parse("\n\n", &k), 0);
}

static void truncated_last_line_dropped(void **state) {
  (void)state;
  struct kstack k;
  assert_int_equal(parse("[<0>] do_sys_poll+0x1/0x2\n[<0>] do_sysc", &k), 1);
  assert_string_equal(k.names[0], "do_sys_poll");
  /* Cut inside the only line. */
  assert_int_equal(parse("[<0>] do_sys_po", &k), 0);
  /* len, not the terminator, bounds the text. */
  const char *text = "[<0>] a+0x1/0x2\n[<0>] b+0x1/0x2\n";
  assert_int_equal(kstack_parse(text, 17, &k), 1);
  assert_string_equal(k.names[0], "a");
}

static void garbage_lines_skipped(void **state) {
  (void)state;
  struct kstack k;
  const char *text = "hello\n"
                     "[<>] nohex+0x1/0x2\n"
                     "[<zz>] bad+0x1/0x2\n"
                     "[<0] unclosed+0x1/0x2\n"
                     "[<0>] \n"
                     "[<0>] +0x1/0x2\n"
                     "[<0>] good+0x1/0x2\n"
                     "\x01\xff binary\n"
                     "[<0>] 0xffffffffc0ffee00\n"
                     "[<0>] se;mi:colon+0x1/0x2\n";
  assert_int_equal(parse(text, &k), 3);
  assert_string_equal(k.names[0], "good");
  assert_string_equal(k.names[1], "0xffffffffc0ffee00"); /* unresolved: kept raw */
  assert_string_equal(k.names[2], "se_mi_colon");          /* cannot break the format */
}

static void bounded_by_frames_and_pool(void **state) {
  (void)state;
  static char text[64 * 1024];
  static struct kstack k;
  size_t len = 0;
  for (int i = 0; i < 100; i++)
    len += (size_t)snprintf(text + len, sizeof text - len, "[<0>] f%d+0x1/0x2\n", i);
  assert_int_equal(kstack_parse(text, len, &k), KSTACK_MAX_FRAMES);
  assert_string_equal(k.names[63], "f63");
  /* Names too long for the pool end the stack, without overflow. */
  char name[1000];
  memset(name, 'x', sizeof name - 1);
  name[sizeof name - 1] = '\0';
  len = 0;
  for (int i = 0; i < 10; i++)
    len += (size_t)snprintf(text + len, sizeof text - len, "[<0>] %s+0x1/0x2\n", name);
  assert_int_equal(kstack_parse(text, len, &k), KSTACK_POOL / sizeof name);
  assert_int_equal(strlen(k.names[0]), sizeof name - 1);
}

static void tells_ptrace_stop(void **state) {
  (void)state;
  struct kstack k;
  parse("[<0>] ptrace_stop.part.0+0x132/0x340\n[<0>] get_signal+0x6a6/0x8a0\n", &k);
  assert_true(kstack_in_ptrace_stop(&k));
  parse("[<0>] ptrace_stop+0x132/0x340\n", &k);
  assert_true(kstack_in_ptrace_stop(&k));
  parse("[<0>] ptrace_stopper+0x1/0x2\n[<0>] futex_wait+0x1/0x2\n", &k);
  assert_false(kstack_in_ptrace_stop(&k));
  parse("", &k);
  assert_false(kstack_in_ptrace_stop(&k));
}

/* --- real reads --------------------------------------------------------- */

static bool privileged(void) {
  struct kstack k;
  if (kstack_read_thread(getpid(), (pid_t)syscall(SYS_gettid), &k) == 0) return true;
  return false;
}

static void *sleeper(void *arg) {
  (void)arg;
  struct timespec ts = {30, 0};
  nanosleep(&ts, NULL);
  return NULL;
}

static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;

static void *locker(void *arg) {
  (void)arg;
  pthread_mutex_lock(&held); /* blocks in a futex until the test unlocks */
  pthread_mutex_unlock(&held);
  return NULL;
}

static bool has_frame(const struct kstack *k, const char *part) {
  for (size_t i = 0; i < k->n; i++)
    if (strstr(k->names[i], part) != NULL) return true;
  return false;
}

/* Read tid until its stack shows `part` (it may not be blocked yet: on a
 * loaded machine a new thread can wait seconds for a CPU; 30 s at most). */
static bool wait_for_frame(struct kstack_reader *kr, pid_t tid, const char *part,
                           struct kstack *k) {
  for (int i = 0; i < 6000; i++) {
    if (kstack_reader_read(kr, tid, k) == 0 && has_frame(k, part)) return true;
    usleep(5000);
  }
  return false;
}

struct tid_arg {
  void *(*fn)(void *);
  volatile pid_t tid;
};

static void *with_tid(void *arg) {
  struct tid_arg *t = arg;
  t->tid = (pid_t)syscall(SYS_gettid);
  return t->fn(NULL);
}

static pid_t start(pthread_t *th, struct tid_arg *t) {
  assert_int_equal(pthread_create(th, NULL, with_tid, t), 0);
  while (t->tid == 0) usleep(1000);
  return t->tid;
}

static void reads_blocked_threads(void **state) {
  (void)state;
  if (!privileged()) {
    print_message("skipped: reading kernel stacks needs CAP_SYS_ADMIN (run as root)\n");
    skip();
  }
  struct kstack_reader *kr = kstack_reader_new(getpid());
  assert_non_null(kr);
  static struct kstack k;

  pthread_t ts, tl;
  struct tid_arg as = {sleeper, 0}, al = {locker, 0};
  pid_t sleep_tid = start(&ts, &as);
  pthread_mutex_lock(&held);
  pid_t lock_tid = start(&tl, &al);

  assert_true(wait_for_frame(kr, sleep_tid, "nanosleep", &k));
  /* Outermost frame: the system call entry. */
  assert_non_null(strstr(k.names[k.n - 1], "entry_SYSCALL"));
  assert_true(wait_for_frame(kr, lock_tid, "futex", &k));
  /* The kept descriptor shows the present stack: twice the same. */
  assert_int_equal(kstack_reader_read(kr, lock_tid, &k), 0);
  assert_true(has_frame(&k, "futex"));

  /* This thread is running: no kernel frames but its own read. */
  assert_int_equal(kstack_reader_read(kr, (pid_t)syscall(SYS_gettid), &k), 0);
  assert_true(has_frame(&k, "stack"));

  /* A thread that ended: an error, not a lost privilege. */
  pthread_mutex_unlock(&held);
  pthread_join(tl, NULL);
  assert_int_equal(kstack_reader_read(kr, lock_tid, &k), -1);
  assert_true(kstack_reader_enabled(kr));

  pthread_kill(ts, SIGUSR1);
  pthread_join(ts, NULL);
  kstack_reader_free(kr);
}

static int open_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  assert_non_null(d);
  int n = 0;
  while (readdir(d) != NULL) n++;
  closedir(d);
  return n;
}

/* The descriptor kept for a thread is closed once a round (every thread
 * read once, told by a thread read again) passes without reading it, as
 * for a thread that ended: not a second later, after a hundred threads
 * came and went. */
static void closes_descriptors_of_threads_gone(void **state) {
  (void)state;
  if (!privileged()) {
    print_message("skipped: reading kernel stacks needs CAP_SYS_ADMIN (run as root)\n");
    skip();
  }
  struct kstack_reader *kr = kstack_reader_new(getpid());
  assert_non_null(kr);
  static struct kstack k;
  pthread_t ts;
  struct tid_arg as = {sleeper, 0};
  pid_t a = (pid_t)syscall(SYS_gettid), b = start(&ts, &as);
  int before = open_fds();
  assert_int_equal(kstack_reader_read(kr, a, &k), 0);
  assert_int_equal(kstack_reader_read(kr, b, &k), 0);
  assert_int_equal(open_fds(), before + 2);
  /* Round 2 reads a only: b's descriptor stays until round 2 is over. */
  assert_int_equal(kstack_reader_read(kr, a, &k), 0);
  assert_int_equal(open_fds(), before + 2);
  assert_int_equal(kstack_reader_read(kr, a, &k), 0);
  assert_int_equal(open_fds(), before + 1);
  /* Read again, b is opened again. */
  assert_int_equal(kstack_reader_read(kr, b, &k), 0);
  assert_int_equal(open_fds(), before + 2);
  kstack_reader_free(kr);
  assert_int_equal(open_fds(), before);
  pthread_kill(ts, SIGUSR1);
  pthread_join(ts, NULL);
}

/* --- registers after PTRACE_INTERRUPT ------------------------------------ */

static void on_usr1(int sig) { (void)sig; }

static pid_t child_that(bool sleeps) {
  pid_t pid = fork();
  if (pid == 0) {
    if (sleeps) {
      struct timespec ts = {30, 0};
      nanosleep(&ts, NULL);
    } else {
      for (volatile unsigned long i = 0;; i++) {}
    }
    _exit(0);
  }
  return pid;
}

/* Seize, interrupt, read the registers, let go. */
static bool interrupt_regs(pid_t pid, struct user_regs_struct *regs) {
  int status;
  if (ptrace(PTRACE_SEIZE, pid, 0, 0) != 0) return false;
  bool ok = ptrace(PTRACE_INTERRUPT, pid, 0, 0) == 0 && waitpid(pid, &status, __WALL) == pid &&
            ptrace(PTRACE_GETREGS, pid, 0, regs) == 0;
  ptrace(PTRACE_DETACH, pid, 0, 0);
  return ok;
}

/* The fields of /proc/PID/stat after the command (state first). */
static bool stat_line(pid_t pid, char *out, size_t size) {
  char path[64], st[512] = "";
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (f == NULL) return false;
  if (fgets(st, sizeof st, f) == NULL) st[0] = '\0';
  fclose(f);
  const char *close = strrchr(st, ')');
  if (close == NULL || close[1] != ' ') return false;
  snprintf(out, size, "%s", close + 2);
  return true;
}

static void regs_tell_wait_from_user_space(void **state) {
  (void)state;
  pid_t sleeping = child_that(true), busy = child_that(false);
  assert_true(sleeping > 0 && busy > 0);
  /* Wait (30 s at most, whatever the load) until the sleeping child
   * sleeps (state S) and the busy one has run in its loop (user time):
   * a child that no CPU took yet still stands at the fork's return. */
  bool asleep = false, spun = false;
  for (int i = 0; i < 6000 && !(asleep && spun); i++) {
    char st[256];
    long utime;
    asleep = asleep || (stat_line(sleeping, st, sizeof st) && st[0] == 'S');
    spun = spun || (stat_line(busy, st, sizeof st) &&
                    sscanf(st, "%*c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %ld", &utime) == 1 &&
                    utime > 0);
    usleep(5000);
  }
  assert_true(asleep && spun);
  struct user_regs_struct regs;
  assert_true(interrupt_regs(sleeping, &regs));
  assert_true(kstack_regs_in_wait(&regs));
  assert_true(interrupt_regs(busy, &regs));
  assert_false(kstack_regs_in_wait(&regs));
  kill(sleeping, SIGKILL);
  kill(busy, SIGKILL);
  waitpid(sleeping, NULL, 0);
  waitpid(busy, NULL, 0);
}

int main(void) {
  error_progname = "test_kstack";
  signal(SIGUSR1, on_usr1);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(parses_frames_innermost_first),
      cmocka_unit_test(drops_module_suffix),
      cmocka_unit_test(empty_is_no_frames),
      cmocka_unit_test(truncated_last_line_dropped),
      cmocka_unit_test(garbage_lines_skipped),
      cmocka_unit_test(bounded_by_frames_and_pool),
      cmocka_unit_test(tells_ptrace_stop),
      cmocka_unit_test(reads_blocked_threads),
      cmocka_unit_test(closes_descriptors_of_threads_gone),
      cmocka_unit_test(regs_tell_wait_from_user_space),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
