/* ptrace_set against real processes (test/targets/native/threads). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "clock.h"
#include "ptrace_set.h"
#include "sampler_loop.h"

#define MAXT 256

/* --- the target ------------------------------------------------------------ */

struct tproc {
  pid_t pid;    /* the target */
  pid_t reap;   /* what we wait for: the target, or its parent in between */
  int out;      /* its stdout */
};

static const char *target_path(void) {
  static char path[4096];
  const char *b = getenv("top_builddir");
  snprintf(path, sizeof path, "%s/test/targets/native/threads", b && *b ? b : ".");
  return path;
}

/* Read one line from fd within timeout_ms; while waiting, ps (if any)
 * handles ptrace events (the target's signals go on only when we do). */
static int read_line(int fd, char *buf, size_t size, int timeout_ms, struct ptrace_set *ps) {
  size_t k = 0;
  uint64_t end = clock_us() + (uint64_t)timeout_ms * 1000;
  while (k + 1 < size) {
    struct pollfd pfd = {fd, POLLIN, 0};
    int r = poll(&pfd, 1, ps ? 0 : 10);
    if (r > 0) {
      char c;
      if (read(fd, &c, 1) != 1) break;
      if (c == '\n') break;
      buf[k++] = c;
      continue;
    }
    if (clock_us() >= end) {
      buf[k] = '\0';
      return -1;
    }
    if (ps) ptrace_set_sleep_until(ps, clock_us() + 200);
  }
  buf[k] = '\0';
  return (int)k;
}

/* Start the target with its options (NULL-terminated). As a grandchild, it
 * is not our child (like a process given with -p). */
static void start_target(struct tproc *t, bool grandchild, ...) {
  const char *argv[16];
  int argc = 0;
  argv[argc++] = target_path();
  va_list ap;
  va_start(ap, grandchild);
  const char *a;
  while ((a = va_arg(ap, const char *)) != NULL && argc < 15) argv[argc++] = a;
  va_end(ap);
  argv[argc] = NULL;

  int p[2];
  assert_int_equal(pipe2(p, O_CLOEXEC), 0);
  pid_t c = fork();
  assert_true(c >= 0);
  if (c == 0) {
    dup2(p[1], STDOUT_FILENO);
    if (grandchild) {
      pid_t g = fork();
      if (g == 0) {
        execv(argv[0], (char *const *)argv);
        _exit(127);
      }
      close(STDOUT_FILENO);
      int st;
      waitpid(g, &st, 0);
      _exit(0);
    }
    execv(argv[0], (char *const *)argv);
    _exit(127);
  }
  close(p[1]);
  t->out = p[0];
  t->reap = c;
  char line[64];
  assert_true(read_line(t->out, line, sizeof line, 5000, NULL) > 0);
  assert_int_equal(strncmp(line, "ready ", 6), 0);
  t->pid = (pid_t)atoi(line + 6);
  assert_true(t->pid > 0);
  if (!grandchild) assert_int_equal(t->pid, c);
}

static void end_target(struct tproc *t) {
  kill(t->pid, SIGKILL);
  int st;
  waitpid(t->reap, &st, 0);
  close(t->out);
}

/* --- /proc ------------------------------------------------------------------ */

static size_t list_tasks(pid_t pid, pid_t *tids, size_t max) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
  DIR *d = opendir(path);
  if (d == NULL) return 0;
  size_t n = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL && n < max)
    if (de->d_name[0] >= '0' && de->d_name[0] <= '9') tids[n++] = atoi(de->d_name);
  closedir(d);
  return n;
}

static int read_file(pid_t pid, pid_t tid, const char *leaf, char *buf, size_t size) {
  char path[96];
  snprintf(path, sizeof path, "/proc/%d/task/%d/%s", (int)pid, (int)tid, leaf);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  ssize_t r = read(fd, buf, size - 1);
  close(fd);
  if (r < 0) return -1;
  buf[r] = '\0';
  return 0;
}

/* State letter of a thread ('?' when it is gone). */
static char task_state(pid_t pid, pid_t tid) {
  char buf[1024];
  if (read_file(pid, tid, "stat", buf, sizeof buf) < 0) return '?';
  char *p = strrchr(buf, ')');
  return p && p[1] ? p[2] : '?';
}

/* Wait (at most 2 s) for a thread to reach a state: a signal takes as
 * long as the scheduler says to be taken, more when the machine is busy. */
static char wait_task_state(pid_t pid, pid_t tid, char want) {
  char s = task_state(pid, tid);
  for (int i = 0; i < 2000 && s != want; i++) {
    usleep(1000);
    s = task_state(pid, tid);
  }
  return s;
}

/* utime + stime of a thread in ticks. */
static long task_cpu(pid_t pid, pid_t tid) {
  char buf[1024];
  if (read_file(pid, tid, "stat", buf, sizeof buf) < 0) return -1;
  char *p = strrchr(buf, ')');
  long ut = 0, st = 0;
  if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld", &ut, &st) != 2)
    return -1;
  return ut + st;
}

static long task_tracer(pid_t pid, pid_t tid) {
  char buf[4096];
  if (read_file(pid, tid, "status", buf, sizeof buf) < 0) return -1;
  char *p = strstr(buf, "TracerPid:");
  return p ? strtol(p + 10, NULL, 10) : -1;
}

/* The busiest thread of the target (the one that spins). */
static pid_t busiest(pid_t pid) {
  pid_t tids[MAXT], best = 0;
  long most = -1;
  size_t n = list_tasks(pid, tids, MAXT);
  for (size_t i = 0; i < n; i++) {
    long c = task_cpu(pid, tids[i]);
    if (c > most && tids[i] != pid) {
      most = c;
      best = tids[i];
    }
  }
  return best;
}

/* No thread traced, none stopped. Returns how many are not (0: all good);
 * the caller asserts, so that a child process can use it too. */
static int count_held(pid_t pid) {
  pid_t tids[MAXT];
  size_t n = list_tasks(pid, tids, MAXT);
  int bad = 0;
  for (size_t i = 0; i < n; i++) {
    long tr = task_tracer(pid, tids[i]);
    char s = task_state(pid, tids[i]);
    if (tr > 0 || s == 't' || s == 'T') bad++;
  }
  return n == 0 ? -1 : bad;
}

static void assert_all_free(pid_t pid) {
  int bad = count_held(pid);
  for (int k = 0; k < 20 && bad > 0; k++) { /* a state may lag a little */
    usleep(5000);
    bad = count_held(pid);
  }
  assert_int_equal(bad, 0);
}

static bool running(pid_t pid) {
  char s = task_state(pid, pid);
  return kill(pid, 0) == 0 && s != 'Z' && s != 'X' && s != '?';
}

/* Time on a CPU and time waiting for one, in ns (schedstat). */
static bool task_sched(pid_t pid, pid_t tid, uint64_t *run, uint64_t *wait) {
  char buf[256];
  unsigned long long r, w;
  if (read_file(pid, tid, "schedstat", buf, sizeof buf) < 0 || sscanf(buf, "%llu %llu", &r, &w) != 2)
    return false;
  *run = r;
  *wait = w;
  return true;
}

/* --- tests -------------------------------------------------------------------- */

static void on_alarm(int sig) {
  (void)sig;
  sampler_stop_requested = 1;
}

static void basics(void **state) {
  (void)state;
  /* A process that is gone. */
  pid_t c = fork();
  if (c == 0) _exit(0);
  waitpid(c, NULL, 0);
  struct ptrace_set *ps = ptrace_set_new(c);
  assert_non_null(ps);
  errno = 0;
  assert_int_equal(ptrace_set_sync(ps), -1);
  assert_int_equal(errno, ESRCH);
  struct user_regs_struct regs;
  assert_int_equal(ptrace_set_stop(ps, c, &regs, 1000), -1);
  ptrace_set_free(ps);

  /* sleep_until: sleeps to the deadline; returns early on a stop request. */
  struct tproc t;
  start_target(&t, false, "-s", "1", "-t", "20", NULL);
  ps = ptrace_set_new(t.pid);
  assert_int_equal(ptrace_set_sync(ps), 2);
  uint64_t t0 = clock_us();
  ptrace_set_sleep_until(ps, t0 + 30000);
  assert_true(clock_us() >= t0 + 30000);
  sampler_stop_requested = 1;
  t0 = clock_us();
  ptrace_set_sleep_until(ps, t0 + 20000000);
  assert_true(clock_us() - t0 < 20000000); /* at once: long before the deadline */
  sampler_stop_requested = 0;
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGALRM, &sa, &old);
  struct itimerval it = {{0, 0}, {0, 50000}};
  setitimer(ITIMER_REAL, &it, NULL);
  t0 = clock_us();
  ptrace_set_sleep_until(ps, t0 + 20000000);
  uint64_t took = clock_us() - t0;
  sigaction(SIGALRM, &old, NULL);
  assert_true(sampler_stop_requested);
  sampler_stop_requested = 0;
  /* Woken by the alarm (50 ms), before its deadline (however late the
   * alarm's handler ran on a loaded machine). */
  assert_true(took >= 40000 && took < 20000000);

  /* Misuse: unknown thread, resume without stop. */
  errno = 0;
  assert_int_equal(ptrace_set_stop(ps, 1, &regs, 1000), -1);
  assert_int_equal(errno, ESRCH);
  assert_int_equal(ptrace_set_resume(ps, t.pid), -1);
  /* A second stop of a stopped thread is fine; one resume ends it. */
  assert_int_equal(ptrace_set_stop(ps, t.pid, &regs, 1000000), 0);
  assert_int_equal(ptrace_set_stop(ps, t.pid, &regs, 1000000), 0);
  assert_int_equal(ptrace_set_resume(ps, t.pid), 0);
  /* Detach with a thread stopped; twice. */
  assert_int_equal(ptrace_set_stop(ps, t.pid, &regs, 1000000), 0);
  ptrace_set_detach_all(ps);
  ptrace_set_detach_all(ps);
  assert_int_equal(ptrace_set_threads(ps, (pid_t[4]){0}, 4), 0);
  assert_all_free(t.pid);
  /* A set can seize again after a detach. */
  assert_int_equal(ptrace_set_sync(ps), 2);
  ptrace_set_free(ps);
  assert_all_free(t.pid);
  end_target(&t);
}

static void stop_resume_cycles(void **state) {
  (void)state;
  struct tproc t;
  start_target(&t, false, "-b", "2", "-s", "2", "-t", "30", NULL);
  struct ptrace_set *ps = ptrace_set_new(t.pid);
  assert_non_null(ps);
  pid_t tids[MAXT], ptids[MAXT];
  int n = ptrace_set_sync(ps);
  assert_int_equal(n, (int)list_tasks(t.pid, ptids, MAXT));
  assert_int_equal(n, 5);
  assert_int_equal(ptrace_set_threads(ps, tids, MAXT), (size_t)n);
  for (int i = 0; i < n; i++) assert_int_equal(task_tracer(t.pid, tids[i]), (long)getpid());

  /* Every thread, busy or sleeping, stopped and resumed many times over:
   * each stop gives registers and the stopped state, each resume lets the
   * thread run again. (How long a stop takes is bench/native-sampling's
   * figure: timing here would assert nothing, or fail on a loaded
   * machine.) */
  enum { CYCLES = 250 };
  int checked = 0;
  for (int c = 0; c < CYCLES; c++) {
    pid_t tid = tids[c % n];
    struct user_regs_struct regs;
    assert_int_equal(ptrace_set_stop(ps, tid, &regs, 1000000), 0);
    assert_true(regs.rip != 0 && regs.rsp != 0);
    assert_int_equal(task_state(t.pid, tid), 't');
    assert_int_equal(ptrace_set_resume(ps, tid), 0);
    ptrace_set_poll(ps);
    if (c % 10 == 0) {
      ptrace_set_sleep_until(ps, clock_us() + 3000);
      char s = task_state(t.pid, tid);
      assert_true(s != 't' && s != 'T');
      checked++;
    }
  }
  assert_int_equal(checked, CYCLES / 10);
  assert_int_equal(ptrace_set_sync(ps), 5);
  ptrace_set_detach_all(ps);
  assert_all_free(t.pid);
  assert_true(running(t.pid));
  ptrace_set_free(ps);
  end_target(&t);
}

/* Ask the target for its counts (SIGUSR2), handling events meanwhile. */
static void counts(struct tproc *t, struct ptrace_set *ps, long *usr1, long *churn) {
  kill(t->pid, SIGUSR2);
  char line[128];
  for (;;) {
    assert_true(read_line(t->out, line, sizeof line, 3000, ps) >= 0);
    if (strncmp(line, "usr1 ", 5) == 0) break; /* (dots of -e come before) */
  }
  assert_int_equal(sscanf(line, "usr1 %ld churn %ld", usr1, churn), 2);
}

static void thread_churn(void **state) {
  (void)state;
  struct tproc t;
  start_target(&t, false, "-c", "-b", "1", "-t", "30", NULL);
  struct ptrace_set *ps = ptrace_set_new(t.pid);
  assert_true(ptrace_set_sync(ps) >= 3);
  long u, churn0, churn1, churn2;
  counts(&t, ps, &u, &churn0);
  long stops = 0, vanished = 0, slow = 0, syncs = 0, rounds = 0;
  size_t most = 0;
  /* At least 2 s, and until the target made 200 threads: how many it
   * makes in a given time depends on the machine's load. */
  uint64_t end = clock_us() + 2000000, hard_end = clock_us() + 120000000;
  for (;;) {
    if (clock_us() >= end) {
      counts(&t, ps, &u, &churn1);
      if (churn1 - churn0 >= 200 || clock_us() >= hard_end) break;
      end = clock_us() + 500000;
    }
    ptrace_set_poll(ps);
    if (rounds % 20 == 0) {
      assert_true(ptrace_set_sync(ps) >= 2);
      syncs++;
    }
    pid_t tids[MAXT];
    size_t n = ptrace_set_threads(ps, tids, MAXT);
    if (n > most) most = n;
    for (size_t i = 0; i < n; i++) {
      struct user_regs_struct regs;
      errno = 0;
      if (ptrace_set_stop(ps, tids[i], &regs, 200000) == 0) {
        stops++;
        if (ptrace_set_resume(ps, tids[i]) != 0) assert_int_equal(errno, ESRCH);
      } else if (errno == ETIMEDOUT) {
        /* A live thread that no CPU took within 200 ms (a loaded machine):
         * allowed, as often as the load makes it; but the stop is not
         * lost: given time, it stops (or has ended, ESRCH). */
        slow++;
        errno = 0;
        if (ptrace_set_stop(ps, tids[i], &regs, 30000000) == 0) {
          if (ptrace_set_resume(ps, tids[i]) != 0) assert_int_equal(errno, ESRCH);
        } else {
          assert_int_equal(errno, ESRCH);
        }
      } else {
        assert_int_equal(errno, ESRCH);
        vanished++;
      }
    }
    rounds++;
    ptrace_set_sleep_until(ps, clock_us() + 1000);
  }
  printf("# churn: %ld threads created while traced; %ld rounds, %ld stops, "
         "%ld vanished, %ld slow, %ld syncs, up to %zu threads in the set\n",
         churn1 - churn0, rounds, stops, vanished, slow, syncs, most);
  assert_true(churn1 - churn0 >= 200);
  ptrace_set_detach_all(ps);
  assert_all_free(t.pid);
  usleep(200000);
  counts(&t, NULL, &u, &churn2);
  assert_true(churn2 > churn1);
  assert_true(running(t.pid));
  assert_all_free(t.pid);
  ptrace_set_free(ps);
  end_target(&t);
}

static void signals(void **state) {
  (void)state;
  struct tproc t;
  start_target(&t, false, "-b", "1", "-s", "1", "-e", "-t", "30", NULL);
  pid_t busy = busiest(t.pid);
  struct ptrace_set *ps = ptrace_set_new(t.pid);
  assert_int_equal(ptrace_set_sync(ps), 3);
  pid_t tids[MAXT];
  size_t n = ptrace_set_threads(ps, tids, MAXT);
  enum { SIGNALS = 1000 };
  int dots = 0;
  uint64_t t0 = clock_us();
  for (int i = 0; i < SIGNALS; i++) {
    struct user_regs_struct regs;
    pid_t tid = tids[i % n];
    if (i % 2 == 0) { /* signal lands while a thread is stopped */
      assert_int_equal(ptrace_set_stop(ps, tid, &regs, 1000000), 0);
      kill(t.pid, SIGUSR1);
      assert_int_equal(ptrace_set_resume(ps, tid), 0);
    } else { /* signal lands, then a stop, perhaps before it is handled */
      kill(t.pid, SIGUSR1);
      assert_int_equal(ptrace_set_stop(ps, tid, &regs, 1000000), 0);
      assert_int_equal(ptrace_set_resume(ps, tid), 0);
    }
    ptrace_set_poll(ps);
    /* Wait for this one to be handled before the next (the kernel merges
     * pending signals of a kind). */
    uint64_t end = clock_us() + 2000000;
    char c = 0;
    for (;;) {
      struct pollfd pfd = {t.out, POLLIN, 0};
      if (poll(&pfd, 1, 0) > 0 && read(t.out, &c, 1) == 1) break;
      assert_true(clock_us() < end);
      ptrace_set_sleep_until(ps, clock_us() + 100);
    }
    assert_int_equal(c, '.');
    dots++;
  }
  uint64_t took = clock_us() - t0;
  long usr1, churn;
  counts(&t, ps, &usr1, &churn);
  printf("# signals: %d SIGUSR1 sent while traced, %d handled (%ld counted) in %llu ms\n",
         SIGNALS, dots, usr1, (unsigned long long)(took / 1000));
  assert_int_equal(usr1, SIGNALS);

  /* SIGSTOP and SIGCONT still work while we are attached. */
  kill(t.pid, SIGSTOP);
  ptrace_set_sleep_until(ps, clock_us() + 100000);
  uint64_t run0 = 0, run1 = 0, waited = 0;
  assert_true(task_sched(t.pid, busy, &run0, &waited));
  long c0 = task_cpu(t.pid, busy);
  ptrace_set_sleep_until(ps, clock_us() + 300000);
  /* A sample of a thread in a group-stop leaves it stopped. */
  struct user_regs_struct regs;
  assert_int_equal(ptrace_set_stop(ps, busy, &regs, 1000000), 0);
  assert_int_equal(ptrace_set_resume(ps, busy), 0);
  ptrace_set_sleep_until(ps, clock_us() + 100000);
  long c1 = task_cpu(t.pid, busy);
  assert_true(task_sched(t.pid, busy, &run1, &waited));
  /* Stopped: it ran only the few microseconds of the sample's traps. */
  assert_true(run1 - run0 < 2000000);
  kill(t.pid, SIGCONT);
  /* Runs again: gets CPU time, as soon as a loaded machine gives it. */
  long c2 = c1;
  for (uint64_t until = clock_us() + 30000000; c2 <= c1 && clock_us() < until;) {
    ptrace_set_sleep_until(ps, clock_us() + 10000);
    c2 = task_cpu(t.pid, busy);
  }
  assert_true(c2 > c1);
  printf("# SIGSTOP: busy thread ran %llu us in 400 ms (%ld ticks); after SIGCONT: %ld ticks\n", (unsigned long long)(run1 - run0) / 1000, c1 - c0, c2 - c1);
  /* And signals still go through afterwards. */
  counts(&t, ps, &usr1, &churn);
  assert_int_equal(usr1, SIGNALS);

  /* A signal-delivery-stop we have not collected when we stop the thread,
   * then detach: the signal goes on with the detach. */
  pid_t quiet = 0;
  for (size_t i = 0; i < n; i++)
    if (tids[i] != t.pid && tids[i] != busy) quiet = tids[i];
  assert_true(quiet > 0);
  assert_int_equal(ptrace_set_stop(ps, quiet, &regs, 1000000), 0);
  assert_int_equal(syscall(SYS_tgkill, t.pid, quiet, SIGUSR1), 0);
  assert_int_equal(ptrace_set_resume(ps, quiet), 0);
  /* No poll: it waits in its signal-delivery-stop. */
  assert_int_equal(wait_task_state(t.pid, quiet, 't'), 't');
  assert_int_equal(ptrace_set_stop(ps, quiet, &regs, 1000000), 0);
  ptrace_set_detach_all(ps);
  assert_all_free(t.pid);
  char c = 0;
  struct pollfd pfd = {t.out, POLLIN, 0};
  assert_int_equal(poll(&pfd, 1, 2000), 1);
  assert_int_equal(read(t.out, &c, 1), 1);
  assert_int_equal(c, '.');
  /* The same when the thread was not stopped by us at all. */
  assert_int_equal(ptrace_set_sync(ps), 3);
  assert_int_equal(ptrace_set_stop(ps, quiet, &regs, 1000000), 0);
  assert_int_equal(syscall(SYS_tgkill, t.pid, quiet, SIGUSR1), 0);
  assert_int_equal(ptrace_set_resume(ps, quiet), 0);
  assert_int_equal(wait_task_state(t.pid, quiet, 't'), 't');
  ptrace_set_detach_all(ps);
  assert_all_free(t.pid);
  assert_int_equal(poll(&pfd, 1, 2000), 1);
  assert_int_equal(read(t.out, &c, 1), 1);
  assert_int_equal(c, '.');
  counts(&t, NULL, &usr1, &churn);
  assert_int_equal(usr1, SIGNALS + 2);

  /* Detached while the target is stopped (SIGSTOP): it stays stopped, as
   * whoever stopped it wants, and SIGCONT wakes it. */
  assert_int_equal(ptrace_set_sync(ps), 3);
  kill(t.pid, SIGSTOP);
  ptrace_set_sleep_until(ps, clock_us() + 100000);
  ptrace_set_detach_all(ps);
  pid_t all[MAXT];
  size_t na = list_tasks(t.pid, all, MAXT);
  for (size_t i = 0; i < na; i++) {
    assert_int_equal(task_tracer(t.pid, all[i]), 0);
    /* A thread detached before it reached the group-stop still takes it. */
    assert_int_equal(wait_task_state(t.pid, all[i], 'T'), 'T');
  }
  kill(t.pid, SIGCONT);
  c1 = task_cpu(t.pid, busy);
  usleep(200000);
  assert_true(task_cpu(t.pid, busy) > c1 + 5);
  assert_all_free(t.pid);
  assert_true(running(t.pid));
  ptrace_set_free(ps);
  end_target(&t);
}

static void target_killed_mid_stop(void **state) {
  (void)state;
  for (int mode = 0; mode < 2; mode++) {
    struct tproc t;
    start_target(&t, mode == 1, "-b", "2", "-s", "1", "-t", "30", NULL);
    struct ptrace_set *ps = ptrace_set_new(t.pid);
    assert_int_equal(ptrace_set_sync(ps), 4);
    pid_t tids[MAXT];
    size_t n = ptrace_set_threads(ps, tids, MAXT);
    pid_t victim = tids[0] == t.pid ? tids[1] : tids[0];
    pid_t other = victim == tids[n - 1] ? tids[n - 2] : tids[n - 1];
    struct user_regs_struct regs;
    assert_int_equal(ptrace_set_stop(ps, victim, &regs, 1000000), 0);
    assert_int_equal(kill(t.pid, SIGKILL), 0);

    uint64_t t0 = clock_us();
    assert_int_equal(ptrace_set_resume(ps, victim), -1);
    assert_true(clock_us() - t0 < 100000);
    t0 = clock_us();
    assert_int_equal(ptrace_set_stop(ps, other, &regs, 300000), -1);
    assert_true(clock_us() - t0 < 400000);
    t0 = clock_us();
    assert_int_equal(ptrace_set_stop(ps, victim, &regs, 300000), -1);
    assert_true(clock_us() - t0 < 400000);
    uint64_t end = clock_us() + 3000000;
    size_t left;
    while ((left = ptrace_set_threads(ps, tids, MAXT)) > 0 && clock_us() < end) {
      t0 = clock_us();
      ptrace_set_poll(ps);
      assert_true(clock_us() - t0 < 100000);
      usleep(1000);
    }
    assert_int_equal(left, 0);
    /* The parent gets its status: for our own child, that is us. */
    int st = 0;
    pid_t r = 0;
    end = clock_us() + 3000000;
    while ((r = waitpid(t.reap, &st, WNOHANG)) == 0 && clock_us() < end) usleep(1000);
    assert_int_equal(r, t.reap);
    if (mode == 0) {
      assert_true(WIFSIGNALED(st));
      assert_int_equal(WTERMSIG(st), SIGKILL);
    }
    errno = 0;
    assert_int_equal(ptrace_set_sync(ps), -1);
    assert_int_equal(errno, ESRCH);
    t0 = clock_us();
    ptrace_set_free(ps);
    assert_true(clock_us() - t0 < 100000);
    close(t.out);
  }
}

/* --- several processes in one set ----------------------------------------- */

/* Wait (at most 2 s, serving ps) for the dot a target prints when it
 * handles SIGUSR1 (-e). */
static void wait_dot(struct tproc *t, struct ptrace_set *ps) {
  uint64_t end = clock_us() + 2000000;
  char c = 0;
  for (;;) {
    struct pollfd pfd = {t->out, POLLIN, 0};
    if (poll(&pfd, 1, 0) > 0 && read(t->out, &c, 1) == 1) break;
    assert_true(clock_us() < end);
    ptrace_set_sleep_until(ps, clock_us() + 100);
  }
  assert_int_equal(c, '.');
}

static void all_ours(const pid_t *tids, size_t n, pid_t pid) {
  for (size_t i = 0; i < n; i++) assert_int_equal(task_tracer(pid, tids[i]), (long)getpid());
}

static void several_processes(void **state) {
  (void)state;
  struct tproc a, b;
  start_target(&a, false, "-b", "1", "-s", "1", "-e", "-t", "30", NULL);
  start_target(&b, true, "-b", "1", "-s", "2", "-e", "-t", "30", NULL);
  struct ptrace_set *ps = ptrace_set_new(a.pid);
  assert_int_equal(ptrace_set_sync(ps), 3);
  assert_int_equal(ptrace_set_add(ps, b.pid), 4);
  assert_int_equal(ptrace_set_sync(ps), 7);
  pid_t ta[MAXT], tb[MAXT];
  size_t na = ptrace_set_process_threads(ps, a.pid, ta, MAXT);
  size_t nb = ptrace_set_process_threads(ps, b.pid, tb, MAXT);
  assert_int_equal(na, 3);
  assert_int_equal(nb, 4);
  all_ours(ta, na, a.pid);
  all_ours(tb, nb, b.pid);

  /* A process that is gone is not added, and the set is as it was. */
  pid_t c = fork();
  if (c == 0) _exit(0);
  waitpid(c, NULL, 0);
  errno = 0;
  assert_int_equal(ptrace_set_add(ps, c), -1);
  assert_int_equal(errno, ESRCH);
  assert_int_equal(ptrace_set_sync(ps), 7);

  /* Stops in both, and each one's signals go on: one set's polls serve
   * both processes (a target that is not served never prints its dot). */
  for (int k = 0; k < 20; k++) {
    struct user_regs_struct regs;
    assert_int_equal(ptrace_set_stop(ps, ta[k % na], &regs, 1000000), 0);
    assert_int_equal(ptrace_set_stop(ps, tb[k % nb], &regs, 1000000), 0);
    kill(a.pid, SIGUSR1);
    kill(b.pid, SIGUSR1);
    assert_int_equal(ptrace_set_resume(ps, tb[k % nb]), 0);
    assert_int_equal(ptrace_set_resume(ps, ta[k % na]), 0);
    wait_dot(&b, ps);
    wait_dot(&a, ps);
  }

  /* One process out: it is free, the other still ours, and a sync does
   * not take it back; it can be added again. */
  ptrace_set_remove(ps, b.pid);
  assert_all_free(b.pid);
  all_ours(ta, na, a.pid);
  assert_int_equal(ptrace_set_sync(ps), 3);
  assert_int_equal(ptrace_set_process_threads(ps, b.pid, tb, MAXT), 0);
  assert_int_equal(ptrace_set_add(ps, b.pid), 4);

  /* detach_all (the guard's) frees every process; a sync takes them back. */
  ptrace_set_detach_all(ps);
  assert_all_free(a.pid);
  assert_all_free(b.pid);
  assert_int_equal(ptrace_set_sync(ps), 7);

  /* A process of the set exits: its threads leave the set and its parent
   * reaps it (a traced exit is reported to us first). */
  kill(b.pid, SIGKILL);
  uint64_t end = clock_us() + 3000000;
  while (ptrace_set_process_threads(ps, b.pid, tb, MAXT) > 0 && clock_us() < end)
    ptrace_set_sleep_until(ps, clock_us() + 1000);
  assert_int_equal(ptrace_set_process_threads(ps, b.pid, tb, MAXT), 0);
  ptrace_set_remove(ps, b.pid);
  pid_t r = 0;
  int st;
  while ((r = waitpid(b.reap, &st, WNOHANG)) == 0 && clock_us() < end) usleep(1000);
  assert_int_equal(r, b.reap);
  close(b.out);
  assert_int_equal(ptrace_set_sync(ps), 3);
  ptrace_set_free(ps);
  assert_all_free(a.pid);
  end_target(&a);
}

/* --- the guard: in a child process ---------------------------------------- */

static int report_fd = -1;
static pid_t report_pid;

static void report_at_exit(void) {
  char c = count_held(report_pid) == 0 ? 'D' : 'F';
  if (write(report_fd, &c, 1) != 1) _exit(3);
}

enum guard_way { BY_SIGTERM, BY_SIGSEGV, BY_EXIT };

static void guarded_child(pid_t target, pid_t busy, int fd, int go_fd, enum guard_way way) {
  struct rlimit nocore = {0, 0};
  setrlimit(RLIMIT_CORE, &nocore);
  report_fd = fd;
  report_pid = target;
  if (way == BY_EXIT) atexit(report_at_exit); /* runs after the guard's */
  struct ptrace_set *ps = ptrace_set_new(target);
  if (ps == NULL || ptrace_set_sync(ps) < 2) _exit(10);
  ptrace_set_guard(ps);
  struct user_regs_struct regs;
  if (ptrace_set_stop(ps, busy, &regs, 1000000) != 0) _exit(11);
  if (write(fd, "S", 1) != 1) _exit(12);
  char go;
  if (read(go_fd, &go, 1) != 1) _exit(15); /* the parent has looked */
  switch (way) {
  case BY_SIGTERM: {
    uint64_t end = clock_us() + 5000000;
    while (!sampler_stop_requested && clock_us() < end) ptrace_set_sleep_until(ps, clock_us() + 10000);
    char c = sampler_stop_requested && count_held(target) == 0 ? 'D' : 'F';
    if (write(fd, &c, 1) != 1) _exit(13);
    _exit(0); /* no atexit: what is checked is the handler's work */
  }
  case BY_SIGSEGV:
    raise(SIGSEGV);
    _exit(14);
  case BY_EXIT:
    exit(0);
  }
}

static void guard(void **state) {
  (void)state;
  const char *names[] = {"SIGTERM", "SIGSEGV", "exit(0)"};
  for (int way = BY_SIGTERM; way <= BY_EXIT; way++) {
    struct tproc t;
    start_target(&t, false, "-b", "2", "-s", "1", "-t", "30", NULL);
    pid_t busy = busiest(t.pid);
    int p[2], g[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    assert_int_equal(pipe2(g, O_CLOEXEC), 0);
    fflush(stdout);
    pid_t c = fork();
    assert_true(c >= 0);
    if (c == 0) {
      close(p[0]);
      close(g[1]);
      guarded_child(t.pid, busy, p[1], g[0], (enum guard_way)way);
      _exit(20);
    }
    close(p[1]);
    close(g[0]);
    char line[8];
    /* 'S': a thread is stopped by the child. */
    struct pollfd pfd = {p[0], POLLIN, 0};
    assert_int_equal(poll(&pfd, 1, 5000), 1);
    assert_int_equal(read(p[0], line, 1), 1);
    assert_int_equal(line[0], 'S');
    assert_int_equal(task_state(t.pid, busy), 't');
    assert_int_equal(task_tracer(t.pid, busy), (long)c);
    assert_int_equal(write(g[1], "G", 1), 1);
    close(g[1]);
    if (way == BY_SIGTERM) kill(c, SIGTERM);
    int st = 0;
    pid_t r = 0;
    uint64_t end = clock_us() + 5000000;
    while ((r = waitpid(c, &st, WNOHANG)) == 0 && clock_us() < end) usleep(1000);
    assert_int_equal(r, c);
    if (way == BY_SIGSEGV) {
      assert_true(WIFSIGNALED(st));
      assert_int_equal(WTERMSIG(st), SIGSEGV);
    } else {
      assert_true(WIFEXITED(st));
      assert_int_equal(WEXITSTATUS(st), 0);
      /* 'D': the child saw every thread detached before it went. */
      assert_int_equal(read(p[0], line, 1), 1);
      assert_int_equal(line[0], 'D');
    }
    close(p[0]);
    assert_all_free(t.pid);
    /* Running again: its CPU time grows (within 3 s: on a loaded machine a
     * runnable thread may wait long for a CPU). */
    long c0 = task_cpu(t.pid, busy);
    uint64_t until = clock_us() + 3000000;
    while (task_cpu(t.pid, busy) <= c0 && clock_us() < until) usleep(10000);
    assert_true(task_cpu(t.pid, busy) > c0);
    printf("# guard: %s: target detached and running\n", names[way]);
    end_target(&t);
  }
}

int main(void) {
  /* Our own SIGCHLD must not be ignored (the kernel would not send it). */
  signal(SIGCHLD, SIG_DFL);
  setvbuf(stdout, NULL, _IOLBF, 0);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(basics),
      cmocka_unit_test(stop_resume_cycles),
      cmocka_unit_test(thread_churn),
      cmocka_unit_test(signals),
      cmocka_unit_test(target_killed_mid_stop),
      cmocka_unit_test(several_processes),
      cmocka_unit_test(guard),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
