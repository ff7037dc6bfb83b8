/* The threads of the processes of a run, seized with PTRACE_SEIZE.
 *
 * Rules the code keeps (the target comes first):
 *  - a thread is stopped only between a successful ptrace_set_stop and the
 *    matching ptrace_set_resume; every other ptrace-stop we come across
 *    (a signal, a clone, a late interrupt) is resumed at once, with the
 *    signal when it is a signal-delivery-stop;
 *  - group-stops (the target got SIGSTOP) are left to the target with
 *    PTRACE_LISTEN, so that SIGCONT still wakes it;
 *  - we wait for one thread at a time (waitpid(tid, __WALL)), never for
 *    "any child": the caller may have children of its own (a launched
 *    target) whose statuses are not ours to take. For the same reason the
 *    exit of the leader of a process that is our child is only looked at
 *    (WNOWAIT), never reaped: it belongs to whoever waits for the child.
 *    Waiting by tid also keeps the processes of a set apart: whatever
 *    the number of processes, each event is taken by the entry of the
 *    thread it is about, never by a poll meant for another process;
 *  - the array of threads may be read by a signal handler (the guard) at
 *    any moment: entries are written before they are counted, a grown
 *    array is filled before it is published, and the handler only makes
 *    system calls.
 *
 * Waiting. ptrace_set_stop blocks SIGCHLD in the calling thread and waits
 * for it with sigtimedwait (the kernel sends SIGCHLD to the tracer at every
 * ptrace-stop and exit); ptrace_set_sleep_until does the same for the whole
 * sleep. We do not spin: measured on 2 busy CPUs, spinning (even with
 * sched_yield) for 40 us to 2 ms before sleeping made the time a thread
 * stands stopped 3 to 10 times longer, since the spinner takes the CPU
 * that the interrupted thread or our own wake-up needs. Trade-off: a SIGCHLD that arrives
 * while we wait is consumed by us, not by a handler of the caller (the
 * caller should wait for its children with waitpid, not rely on SIGCHLD);
 * and when SIGCHLD is ignored (SIG_IGN) or taken by another thread, no
 * signal comes, so every wait is cut into slices (1 ms in stop, 5 ms in
 * sleep) after which we look again: events are then handled late by at
 * most one slice, never lost. Naps with short sleeps would avoid touching
 * the signal mask but add their whole length to every event. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "privilege.h"
#include "proc_stat.h"
#include "ptrace_set.h"
#include "sampler_loop.h"

#ifndef PTRACE_EVENT_STOP
#define PTRACE_EVENT_STOP 128
#endif

/* ptrace_set_stop sleeps at most this long without looking. */
#define STOP_SLICE_US 1000
/* The longest sleep of ptrace_set_sleep_until without looking at the
 * threads (matters only when no SIGCHLD comes). */
#define SLEEP_SLICE_US 5000
/* ptrace_set_detach_all: the wait for one running thread to stop, and for
 * all of them together. A thread that does not stop in time stays in the
 * set (a later call tries again; our exit detaches it anyway). */
#define DETACH_WAIT_US 100000
#define DETACH_BUDGET_US 2000000
/* Events handled for one thread in one poll (a signal storm must not keep
 * us from the others). */
#define EVENTS_PER_POLL 16

enum tstate {
  T_RUNNING,   /* seized and running (or in a stop not yet collected) */
  T_STOPPED,   /* in a stop of ours (ptrace_set_stop) */
  T_LISTENING, /* in a group-stop of the target, PTRACE_LISTEN */
  T_GONE,      /* exited; zombie not (yet) reaped */
  T_DETACHED,  /* detached by ptrace_set_detach_all */
};

struct thr {
  pid_t tid;
  pid_t pid;           /* its process */
  bool child_leader;   /* the leader of a process that is our child */
  volatile int state;
  volatile int sig;    /* T_STOPPED: the signal to deliver on resume */
  volatile int listen; /* T_STOPPED: resume with PTRACE_LISTEN (group-stop) */
};

struct tproc {
  pid_t pid;
  bool leader_is_child; /* the leader's exit status is not ours to reap */
};

struct ptrace_set {
  struct tproc procs[PTRACE_SET_MAX_PROCS]; /* read by the guard too */
  volatile size_t np;
  long options; /* of PTRACE_SEIZE */
  struct thr *volatile t;
  volatile size_t n;
  size_t cap;
};

/* --- small helpers, all async-signal-safe ------------------------------ */

static void nap_us(long us) {
  struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
  nanosleep(&ts, NULL);
}

static int detach_one(pid_t tid, bool child_leader, bool stopped, int sig, uint64_t wait_us);

static bool is_stop_signal(int sig) {
  return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}


/* One wait status of thread `tid`, without blocking. 1: *status is set;
 * 2: the leader of our child (child_leader) exited (seen with WNOWAIT,
 * left to the caller); 0: nothing; -1: errno (ECHILD: not ours any
 * more). */
static int wait_one(pid_t tid, bool child_leader, int *status) {
  if (child_leader) {
    siginfo_t si;
    si.si_pid = 0;
    if (waitid(P_PID, (id_t)tid, &si, WEXITED | WSTOPPED | WNOHANG | WNOWAIT | __WALL) < 0)
      return errno == EINTR ? 0 : -1;
    if (si.si_pid == 0) return 0;
    if (si.si_code == CLD_EXITED || si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED)
      return 2;
  }
  for (;;) {
    pid_t r = waitpid(tid, status, WNOHANG | __WALL);
    if (r == tid) return 1;
    if (r == 0) return 0;
    if (errno != EINTR) return -1;
  }
}

/* --- the arrays ---------------------------------------------------------- */

static ssize_t find_proc(const struct ptrace_set *ps, pid_t pid) {
  for (size_t k = 0; k < ps->np; k++)
    if (ps->procs[k].pid == pid) return (ssize_t)k;
  return -1;
}

static bool is_child_leader(const struct ptrace_set *ps, pid_t pid, pid_t tid) {
  ssize_t k = tid == pid ? find_proc(ps, pid) : -1;
  return k >= 0 && ps->procs[k].leader_is_child;
}

static ssize_t find(const struct ptrace_set *ps, pid_t tid) {
  for (size_t i = 0; i < ps->n; i++)
    if (ps->t[i].tid == tid) return (ssize_t)i;
  return -1;
}

/* Add `tid` of process `pid` (or reuse its entry: a tid comes back when
 * the kernel reuses it). Returns its index, -1 when out of memory. */
static ssize_t add(struct ptrace_set *ps, pid_t tid, pid_t pid, int state) {
  ssize_t i = find(ps, tid);
  bool child_leader = is_child_leader(ps, pid, tid);
  if (i >= 0) {
    ps->t[i].pid = pid;
    ps->t[i].child_leader = child_leader;
    ps->t[i].sig = 0;
    ps->t[i].listen = 0;
    ps->t[i].state = state;
    return i;
  }
  if (ps->n == ps->cap) {
    size_t cap = ps->cap ? 2 * ps->cap : 16;
    struct thr *nt = malloc(cap * sizeof *nt);
    if (nt == NULL) return -1;
    if (ps->n) memcpy(nt, ps->t, ps->n * sizeof *nt);
    struct thr *old = ps->t;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    ps->t = nt; /* a handler sees the old array or the new one, both whole */
    ps->cap = cap;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    free(old);
  }
  struct thr *e = &ps->t[ps->n];
  e->tid = tid;
  e->pid = pid;
  e->child_leader = child_leader;
  e->sig = 0;
  e->listen = 0;
  e->state = state;
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  ps->n = ps->n + 1;
  return (ssize_t)ps->n - 1;
}

static void drop(struct ptrace_set *ps, size_t i) {
  size_t last = ps->n - 1;
  if (i != last) ps->t[i] = ps->t[last];
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  ps->n = last;
}

/* --- events -------------------------------------------------------------- */

enum outcome { O_NONE, O_EXITED, O_STOPPED };

/* Make sense of a wait status of entry i. When `keep` (we are waiting for
 * a stop of ours), a stop is kept and described in the entry (signal to
 * re-inject, listen); otherwise the thread is resumed at once. The entry
 * is dropped when the thread exited (O_EXITED). */
static enum outcome dispatch(struct ptrace_set *ps, size_t i, int status, bool keep) {
  pid_t tid = ps->t[i].tid;
  if (WIFEXITED(status) || WIFSIGNALED(status)) {
    drop(ps, i);
    return O_EXITED;
  }
  if (!WIFSTOPPED(status)) return O_NONE;
  int sig = WSTOPSIG(status), event = status >> 16, inject = 0, listen = 0;
  if (event == PTRACE_EVENT_STOP) {
    /* An interrupt (ours, or a late one), the first stop of a new thread,
     * or a group-stop, which only reports a stop signal. */
    listen = is_stop_signal(sig);
  } else if (event == PTRACE_EVENT_CLONE || event == PTRACE_EVENT_FORK ||
             event == PTRACE_EVENT_VFORK) {
    unsigned long msg = 0;
    if (event == PTRACE_EVENT_CLONE && ptrace(PTRACE_GETEVENTMSG, tid, 0, &msg) == 0 && msg > 0) {
      /* Seized by the kernel already; its first stop comes by itself. If
       * memory is short, a sync will find it again (it is ours). */
      add(ps, (pid_t)msg, ps->t[i].pid, T_RUNNING);
    }
  } else if (event == PTRACE_EVENT_EXEC) {
    /* Only asked for in a privileged run (ptrace_set_new): the thread
     * stops here before the new program runs, and that program may be a
     * setuid one, which is not ours to trace. Let it go; a later sync
     * seizes it again if the privilege policy accepts what it became. */
    if (ptrace(PTRACE_DETACH, tid, 0, 0) == 0 || errno != ESRCH) {
      ps->t[i].state = T_DETACHED;
      return O_NONE;
    }
  } else if (event == 0) {
    inject = sig; /* signal-delivery-stop: the signal goes on */
  }
  /* Other events (exec, exit) carry no signal. */

  struct thr *e = &ps->t[i];
  if (keep) {
    e->sig = inject;
    e->listen = listen;
    e->state = T_STOPPED;
    return O_STOPPED;
  }
  if (listen) {
    if (ptrace(PTRACE_LISTEN, tid, 0, 0) == 0)
      e->state = T_LISTENING;
    else
      e->state = T_RUNNING; /* killed meanwhile: its exit comes next */
  } else {
    ptrace(PTRACE_CONT, tid, 0, (void *)(long)inject);
    e->state = T_RUNNING;
  }
  return O_NONE;
}

static bool zombie_or_gone(pid_t pid, pid_t tid) {
  char state;
  return proc_stat_state(pid, tid, &state, NULL) != 0 || state == 'Z' ||
         state == 'X' || state == 'x';
}

/* The TracerPid of a thread, -1 when unknown. */
static long tracer_of(pid_t pid, pid_t tid) {
  char buf[2048];
  if (proc_task_read(pid, tid, "status", buf, sizeof buf) < 0) return -1;
  return proc_status_number(buf, "TracerPid");
}

/* --- processes ----------------------------------------------------------- */

/* Add process pid to the list (nothing seized). -1: the list is full. */
static int add_proc(struct ptrace_set *ps, pid_t pid) {
  if (find_proc(ps, pid) >= 0) return 0;
  if (ps->np == PTRACE_SET_MAX_PROCS) {
    errno = ENOSPC;
    return -1;
  }
  struct tproc *p = &ps->procs[ps->np];
  p->pid = pid;
  /* Is the process our child? */
  char state;
  pid_t ppid;
  p->leader_is_child = proc_stat_state(pid, 0, &state, &ppid) == 0 && ppid == getpid();
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  ps->np = ps->np + 1;
  return 0;
}

static void drop_proc(struct ptrace_set *ps, pid_t pid) {
  ssize_t k = find_proc(ps, pid);
  if (k < 0) return;
  size_t last = ps->np - 1;
  /* A handler may see the last entry twice, never none of a live one. */
  if ((size_t)k != last) ps->procs[k] = ps->procs[last];
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  ps->np = last;
}

/* --- the interface ------------------------------------------------------- */

struct ptrace_set *ptrace_set_new(pid_t pid) {
  struct ptrace_set *ps = calloc(1, sizeof *ps);
  if (ps == NULL) return NULL;
  ps->options = PTRACE_O_TRACECLONE;
  /* A privileged run lets no thread keep our ptrace relation across an
   * exec (see dispatch). */
  if (privilege_active()) ps->options |= PTRACE_O_TRACEEXEC;
  add_proc(ps, pid);
  return ps;
}

/* Handle the pending events of the threads of process pid (0: of every
 * process). */
static void poll_threads(struct ptrace_set *ps, pid_t pid) {
  size_t i = 0;
  while (i < ps->n) {
    int state = ps->t[i].state;
    if (state == T_DETACHED || (pid != 0 && ps->t[i].pid != pid)) {
      i++;
      continue;
    }
    bool dropped = false;
    for (int k = 0; k < EVENTS_PER_POLL; k++) {
      int status;
      int r = wait_one(ps->t[i].tid, ps->t[i].child_leader, &status);
      if (r == 0) break;
      if (r == 2) {
        ps->t[i].state = T_GONE;
        break;
      }
      if (r < 0) {
        if (errno == ECHILD) {
          /* Not ours any more (reaped as a zombie leader by its parent). */
          drop(ps, i);
          dropped = true;
        }
        break;
      }
      if (dispatch(ps, i, status, false) == O_EXITED) {
        dropped = true;
        break;
      }
    }
    if (!dropped) i++;
  }
}

void ptrace_set_poll(struct ptrace_set *ps) {
  if (ps != NULL) poll_threads(ps, 0);
}

struct seize_op {
  struct ptrace_set *ps;
  pid_t pid, tid;
};

static int seize_attach(void *arg) {
  const struct seize_op *op = arg;
  return (int)ptrace(PTRACE_SEIZE, op->tid, 0, (void *)op->ps->options);
}

/* Undo a seize that the privilege policy refused after the fact. A thread
 * that does not stop in time to be detached stays in the set, so that the
 * final detach_all lets it go. */
static void seize_undo(void *arg) {
  const struct seize_op *op = arg;
  bool leader = is_child_leader(op->ps, op->pid, op->tid);
  if (!detach_one(op->tid, leader, false, 0, DETACH_WAIT_US))
    add(op->ps, op->tid, op->pid, T_RUNNING);
}

/* Seize `tid` of process `pid` (under the privilege policy), or find that
 * it is ours already. 1: in the set; 0: gone, skip it; -1: errno (may not
 * trace it). */
static int seize(struct ptrace_set *ps, pid_t pid, pid_t tid) {
  struct seize_op op = {ps, pid, tid};
  if (privilege_attach(pid, tid, seize_attach, seize_undo, &op) == 0) {
    if (add(ps, tid, pid, T_RUNNING) < 0) {
      ptrace(PTRACE_DETACH, tid, 0, 0); /* nothing to stop yet: plain detach */
      errno = ENOMEM;
      return -1;
    }
    return 1;
  }
  int e = errno;
  if (e == ESRCH) return 0;
  if (e == EPERM || e == EACCES) {
    /* Already ours (a new thread whose clone we have not seen yet), or
     * exiting (the kernel refuses to attach to an exiting task)? One that
     * the privilege policy refuses is not to be sampled, ours or not (a
     * seize undone in vain left it in the set, for the final detach). */
    long tracer = tracer_of(pid, tid);
    char why[8];
    if (tracer == (long)getpid() && privilege_check(pid, tid, why, sizeof why) == E_OK) {
      if (add(ps, tid, pid, T_RUNNING) < 0) {
        errno = ENOMEM;
        return -1;
      }
      return 1;
    }
    if (tracer < 0 || zombie_or_gone(pid, tid)) return 0;
  }
  errno = e;
  return -1;
}

/* Seize the threads of /proc/PID/task not yet ours; 0 or an errno. */
static int seize_listed(struct ptrace_set *ps, pid_t pid, const char *path) {
  int err = 0;
  /* Threads created by threads not yet seized are not followed by the
   * kernel: look again until a pass seizes nothing new. */
  for (int pass = 0; pass < 8; pass++) {
    DIR *d = opendir(path);
    if (d == NULL) return errno == ENOENT ? ESRCH : errno;
    int fresh = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
      if (de->d_name[0] < '0' || de->d_name[0] > '9') continue;
      pid_t tid = (pid_t)strtol(de->d_name, NULL, 10);
      ssize_t i = find(ps, tid);
      if (i >= 0 && ps->t[i].state != T_DETACHED) continue;
      int r = seize(ps, pid, tid);
      if (r > 0) fresh++;
      if (r < 0 && err == 0) err = errno;
    }
    closedir(d);
    if (err || fresh == 0) break;
  }
  return err;
}

/* ptrace_set_sync for one process, events already handled. */
static int sync_proc(struct ptrace_set *ps, pid_t pid) {
  char path[64];
  proc_task_path(path, pid, 0, "task");
  int err = seize_listed(ps, pid, path);
  /* Forget the threads that are gone from /proc (reaped). One that readdir
   * missed while others came and went is still there: look at each. */
  for (size_t i = 0; i < ps->n;) {
    char tp[64];
    proc_task_path(tp, pid, ps->t[i].tid, NULL);
    if (ps->t[i].pid == pid && ps->t[i].state != T_STOPPED && access(tp, F_OK) != 0 &&
        errno == ENOENT)
      drop(ps, i);
    else
      i++;
  }
  if (err) {
    errno = err;
    return -1;
  }
  size_t live = 0;
  for (size_t i = 0; i < ps->n; i++)
    if (ps->t[i].pid == pid && ps->t[i].state != T_GONE && ps->t[i].state != T_DETACHED) live++;
  if (live == 0 && access(path, F_OK) != 0) {
    errno = ESRCH;
    return -1;
  }
  return (int)live;
}

int ptrace_set_sync(struct ptrace_set *ps) {
  if (ps == NULL) {
    errno = EINVAL;
    return -1;
  }
  ptrace_set_poll(ps);
  int total = 0, err = 0;
  for (size_t k = 0; k < ps->np; k++) {
    int r = sync_proc(ps, ps->procs[k].pid);
    if (r >= 0) total += r;
    else if (err == 0) err = errno;
  }
  if (err) {
    errno = err;
    return -1;
  }
  return total;
}

int ptrace_set_add(struct ptrace_set *ps, pid_t pid) {
  if (ps == NULL) {
    errno = EINVAL;
    return -1;
  }
  if (add_proc(ps, pid) != 0) return -1;
  poll_threads(ps, pid);
  int r = sync_proc(ps, pid);
  if (r < 0) {
    int err = errno;
    ptrace_set_remove(ps, pid);
    errno = err;
  }
  return r;
}

/* Restore the signal mask if we blocked SIGCHLD. */
struct chld_block {
  bool on;
  sigset_t old;
};

static void block_chld(struct chld_block *b) {
  if (b->on) return;
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &s, &b->old);
  b->on = true;
}

static void unblock_chld(struct chld_block *b) {
  if (!b->on) return;
  /* Only unblock it if it was not blocked before us. */
  if (!sigismember(&b->old, SIGCHLD)) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGCHLD);
    pthread_sigmask(SIG_UNBLOCK, &s, NULL);
  }
  b->on = false;
}

static void wait_chld(uint64_t us) {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGCHLD);
  struct timespec ts = {(time_t)(us / 1000000u), (long)(us % 1000000u) * 1000};
  sigtimedwait(&s, NULL, &ts);
}

int ptrace_set_stop(struct ptrace_set *ps, pid_t tid, struct user_regs_struct *regs,
                    uint64_t timeout_us) {
  if (ps == NULL || regs == NULL) {
    errno = EINVAL;
    return -1;
  }
  ssize_t i = find(ps, tid);
  if (i < 0 || ps->t[i].state == T_GONE || ps->t[i].state == T_DETACHED) {
    errno = ESRCH;
    return -1;
  }
  if (ps->t[i].state != T_STOPPED) {
    struct chld_block blk = {false, {{0}}};
    uint64_t deadline = clock_us() + timeout_us;
    bool interrupted = false;
    int err = 0;
    for (;;) {
      int status;
      int r = wait_one(tid, ps->t[i].child_leader, &status);
      if (r == 1) {
        enum outcome o = dispatch(ps, (size_t)i, status, true);
        if (o == O_STOPPED) break;
        if (o == O_EXITED) {
          err = ESRCH;
          break;
        }
        continue;
      }
      if (r == 2) {
        ps->t[i].state = T_GONE;
        err = ESRCH;
        break;
      }
      if (r < 0) {
        if (errno == ECHILD) drop(ps, (size_t)i);
        err = ESRCH;
        break;
      }
      if (!interrupted) {
        /* Nothing pending (a pending stop is taken as it is): ask. */
        if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0) {
          err = errno == ESRCH ? ESRCH : errno;
          if (zombie_or_gone(ps->t[i].pid, tid)) ps->t[i].state = T_GONE;
          break;
        }
        interrupted = true;
        continue;
      }
      uint64_t now = clock_us();
      if (now >= deadline) {
        /* Left running: our interrupt may still land; poll resumes it. */
        err = ETIMEDOUT;
        if (zombie_or_gone(ps->t[i].pid, tid)) {
          ps->t[i].state = T_GONE;
          err = ESRCH;
        }
        break;
      }
      if (!blk.on) {
        block_chld(&blk); /* then look again before we sleep */
        continue;
      }
      uint64_t left = deadline - now;
      wait_chld(left < STOP_SLICE_US ? left : STOP_SLICE_US);
    }
    unblock_chld(&blk);
    if (err) {
      errno = err;
      return -1;
    }
  }
  if (ptrace(PTRACE_GETREGS, tid, 0, regs) < 0) {
    int e = errno;
    /* Not stopped any more: killed (SIGKILL ends every stop); its exit is
     * collected by the next poll. */
    ps->t[i].state = T_RUNNING;
    errno = e == ESRCH ? ESRCH : e;
    return -1;
  }
  return 0;
}

int ptrace_set_resume(struct ptrace_set *ps, pid_t tid) {
  if (ps == NULL) {
    errno = EINVAL;
    return -1;
  }
  ssize_t i = find(ps, tid);
  if (i < 0 || ps->t[i].state != T_STOPPED) {
    errno = i < 0 ? ESRCH : EINVAL;
    return -1;
  }
  struct thr *e = &ps->t[i];
  long r;
  if (e->listen) {
    r = ptrace(PTRACE_LISTEN, tid, 0, 0);
    e->state = r == 0 ? T_LISTENING : T_RUNNING;
  } else {
    r = ptrace(PTRACE_CONT, tid, 0, (void *)(long)e->sig);
    e->state = T_RUNNING; /* on error: killed; its exit comes next */
  }
  e->sig = 0;
  e->listen = 0;
  return r == 0 ? 0 : -1;
}

size_t ptrace_set_threads(const struct ptrace_set *ps, pid_t *tids, size_t max) {
  size_t k = 0;
  if (ps == NULL) return 0;
  for (size_t i = 0; i < ps->n && k < max; i++)
    if (ps->t[i].state != T_GONE && ps->t[i].state != T_DETACHED) tids[k++] = ps->t[i].tid;
  return k;
}

size_t ptrace_set_process_threads(const struct ptrace_set *ps, pid_t pid, pid_t *tids,
                                  size_t max) {
  size_t k = 0;
  if (ps == NULL) return 0;
  for (size_t i = 0; i < ps->n && k < max; i++)
    if (ps->t[i].pid == pid && ps->t[i].state != T_GONE && ps->t[i].state != T_DETACHED)
      tids[k++] = ps->t[i].tid;
  return k;
}

void ptrace_set_sleep_until(struct ptrace_set *ps, uint64_t deadline_us) {
  struct chld_block blk = {false, {{0}}};
  block_chld(&blk); /* before the first poll: no event slips in between */
  for (;;) {
    ptrace_set_poll(ps);
    if (sampler_stop_requested) break;
    uint64_t now = clock_us();
    if (now >= deadline_us) break;
    uint64_t left = deadline_us - now;
    wait_chld(left < SLEEP_SLICE_US ? left : SLEEP_SLICE_US);
  }
  unblock_chld(&blk);
}

/* --- detaching (async-signal-safe) ---------------------------------------- */

/* Detach one thread. A thread in a stop of ours is detached at once, with
 * the signal it was stopped with. Any other thread is interrupted first
 * and detached from the stop it reports: a stop we have not collected yet
 * (a signal-delivery-stop) is reported before the interrupt, so that its
 * signal goes on with the detach instead of being dropped; a group-stop
 * (PTRACE_LISTEN) is left for an interrupt stop, after which the kernel
 * puts the thread back into the group-stop. The interrupt also tells us
 * whether the thread is ours at all (ESRCH otherwise). 1: done (or not
 * ours, or gone); 0: it did not stop within wait_us (still ours). */
static int detach_one(pid_t tid, bool child_leader, bool stopped, int sig, uint64_t wait_us) {
  int saved = errno;
  int done = 1;
  if (stopped && (ptrace(PTRACE_DETACH, tid, 0, (void *)(long)sig) == 0 || errno != ESRCH))
    goto out;
  /* Running, listening, stopped by someone else's doing, not ours, gone. */
  if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0) goto out;
  uint64_t start = clock_us();
  for (int k = 0;; k++) {
    int status;
    int r = wait_one(tid, child_leader, &status);
    if (r == 1 && WIFSTOPPED(status)) {
      int s = (status >> 16) == 0 ? WSTOPSIG(status) : 0; /* a signal goes on */
      if (ptrace(PTRACE_DETACH, tid, 0, (void *)(long)s) == 0 || errno != ESRCH) goto out;
      continue; /* killed meanwhile: its exit comes */
    }
    if (r == 2 || r < 0) goto out;                                      /* gone, or not ours */
    if (r == 1 && (WIFEXITED(status) || WIFSIGNALED(status))) goto out; /* gone */
    if (clock_us() - start >= wait_us) {
      done = 0;
      goto out;
    }
    if (k >= 20) nap_us(k < 100 ? 20 : 200);
  }
out:
  errno = saved;
  return done;
}

/* The wait for one more thread, out of the budget of a detach that
 * started at `start`. */
static uint64_t detach_wait(uint64_t start) {
  return clock_us() - start >= DETACH_BUDGET_US ? 0 : DETACH_WAIT_US;
}

/* Detach the threads in the array of process pid (0: of every process). */
static void detach_entries(struct ptrace_set *ps, pid_t pid, uint64_t start) {
  struct thr *t = ps->t;
  size_t n = ps->n;
  for (size_t i = 0; i < n; i++) {
    int state = t[i].state;
    if (state == T_DETACHED || (pid != 0 && t[i].pid != pid)) continue;
    if (state == T_GONE) { /* a zombie: nothing to resume */
      t[i].state = T_DETACHED;
      continue;
    }
    bool stopped = state == T_STOPPED;
    int sig = stopped && !t[i].listen ? t[i].sig : 0;
    if (detach_one(t[i].tid, t[i].child_leader, stopped, sig, detach_wait(start)))
      t[i].state = T_DETACHED;
  }
}

/* Threads of process p the kernel seized for us and that we have not
 * heard of yet (their clone event is still pending): every tid of the
 * process that is still ours. The directory is read with plain system
 * calls. */
static void detach_unlisted(const struct ptrace_set *ps, struct tproc p, uint64_t start) {
  const struct thr *t = ps->t;
  size_t n = ps->n;
  char path[64];
  proc_task_path(path, p.pid, 0, "task");
  for (int pass = 0; pass < 3; pass++) {
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    int found = 0;
    char buf[4096] __attribute__((aligned(8)));
    for (;;) {
      long nb = syscall(SYS_getdents64, fd, buf, sizeof buf);
      if (nb <= 0) break;
      for (long off = 0; off < nb;) {
        struct {
          unsigned long long ino;
          long long off;
          unsigned short reclen;
          unsigned char type;
          char name[];
        } *de = (void *)(buf + off);
        off += de->reclen;
        if (de->name[0] < '0' || de->name[0] > '9') continue;
        long tid = 0;
        for (const char *c = de->name; *c >= '0' && *c <= '9'; c++) tid = tid * 10 + (*c - '0');
        bool done = false;
        for (size_t i = 0; i < n; i++)
          if (t[i].tid == (pid_t)tid && t[i].state == T_DETACHED) done = true;
        if (done) continue;
        /* Ours? (the interrupt fails at once with ESRCH if not) */
        if (ptrace(PTRACE_INTERRUPT, (pid_t)tid, 0, 0) == 0) {
          detach_one((pid_t)tid, tid == p.pid && p.leader_is_child, false, 0, detach_wait(start));
          found++;
        }
      }
    }
    close(fd);
    if (found == 0) break;
  }
}

void ptrace_set_detach_all(struct ptrace_set *ps) {
  if (ps == NULL) return;
  uint64_t start = clock_us();
  detach_entries(ps, 0, start);
  size_t np = ps->np;
  for (size_t k = 0; k < np; k++) detach_unlisted(ps, ps->procs[k], start);
}

void ptrace_set_remove(struct ptrace_set *ps, pid_t pid) {
  if (ps == NULL) return;
  ssize_t k = find_proc(ps, pid);
  if (k < 0) return;
  struct tproc p = ps->procs[k];
  /* Exits first: a traced thread that exited is reported to us before
   * its parent, which cannot reap the process until we have collected
   * it. */
  poll_threads(ps, pid);
  uint64_t start = clock_us();
  detach_entries(ps, pid, start);
  detach_unlisted(ps, p, start);
  drop_proc(ps, pid);
  /* A thread that did not stop in time stays in the array: polls go on
   * serving it and ptrace_set_detach_all tries again. */
  for (size_t i = 0; i < ps->n;) {
    if (ps->t[i].pid == pid && ps->t[i].state == T_DETACHED) drop(ps, i);
    else i++;
  }
}

/* --- the guard ------------------------------------------------------------ */

static struct ptrace_set *volatile guarded;
static bool atexit_done, handlers_on;
static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP};
static const int fatal_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
#define NSTOP (sizeof stop_signals / sizeof *stop_signals)
#define NFATAL (sizeof fatal_signals / sizeof *fatal_signals)
static struct sigaction saved_stop[NSTOP], saved_fatal[NFATAL], saved_pipe;

static void guard_at_exit(void) {
  struct ptrace_set *ps = guarded;
  if (ps) ptrace_set_detach_all(ps);
}

static void on_stop_signal(int signo) {
  int e = errno;
  struct ptrace_set *ps = guarded;
  if (ps) ptrace_set_detach_all(ps);
  sampler_stop_requested = signo;
  errno = e;
}

static void on_fatal_signal(int signo) {
  struct ptrace_set *ps = guarded;
  if (ps) ptrace_set_detach_all(ps);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  sigemptyset(&sa.sa_mask);
  sigaction(signo, &sa, NULL);
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, signo);
  sigprocmask(SIG_UNBLOCK, &s, NULL);
  raise(signo);
  /* A fault comes back when we return, now with the default action. */
}

void ptrace_set_guard(struct ptrace_set *ps) {
  if (ps && !atexit_done) {
    atexit(guard_at_exit);
    atexit_done = true;
  }
  if (ps && !handlers_on) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    for (size_t k = 0; k < NSTOP; k++) sigaddset(&sa.sa_mask, stop_signals[k]);
    for (size_t k = 0; k < NFATAL; k++) sigaddset(&sa.sa_mask, fatal_signals[k]);
    guarded = ps;
    /* SA_RESTART: a write to the output cut by the signal must not look
     * failed; the sleeps (sigtimedwait, nanosleep) end early anyway. */
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESTART;
    for (size_t k = 0; k < NSTOP; k++) sigaction(stop_signals[k], &sa, &saved_stop[k]);
    sa.sa_handler = on_fatal_signal;
    for (size_t k = 0; k < NFATAL; k++) {
      sigdelset(&sa.sa_mask, fatal_signals[k]); /* (blocked anyway while handled) */
      sigaction(fatal_signals[k], &sa, &saved_fatal[k]);
      sigaddset(&sa.sa_mask, fatal_signals[k]);
    }
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, &saved_pipe);
    handlers_on = true;
  }
  if (ps == NULL && handlers_on) {
    for (size_t k = 0; k < NSTOP; k++) sigaction(stop_signals[k], &saved_stop[k], NULL);
    for (size_t k = 0; k < NFATAL; k++) sigaction(fatal_signals[k], &saved_fatal[k], NULL);
    sigaction(SIGPIPE, &saved_pipe, NULL);
    handlers_on = false;
  }
  guarded = ps;
}

void ptrace_set_free(struct ptrace_set *ps) {
  if (ps == NULL) return;
  if (guarded == ps) ptrace_set_guard(NULL);
  ptrace_set_detach_all(ps);
  free(ps->t);
  free(ps);
}
