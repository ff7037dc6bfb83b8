#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "privilege.h"
#include "proc_stat.h"
#include "target.h"

enum error_kind target_launch(char **argv, bool quiet_stdout, struct target *t,
                              char *why, size_t whylen) {
  int pipefd[2];
  memset(t, 0, sizeof *t);
  /* The child reports an exec failure through a close-on-exec pipe: EOF
   * means the exec succeeded. */
  if (pipe2(pipefd, O_CLOEXEC) != 0) {
    snprintf(why, whylen, "pipe: %s", strerror(errno));
    return E_LAUNCH;
  }
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    snprintf(why, whylen, "fork: %s", strerror(errno));
    close(pipefd[0]);
    close(pipefd[1]);
    return E_LAUNCH;
  }
  if (pid == 0) {
    close(pipefd[0]);
    if (quiet_stdout) {
      int null = open("/dev/null", O_WRONLY);
      if (null >= 0) dup2(null, STDOUT_FILENO);
    }
    signal(SIGPIPE, SIG_DFL);
    /* A privileged run hands none of its privilege to what it launches
     * (a failure is reported as the exec's: EPERM). */
    if (privilege_drop_for_exec() == 0) execvp(argv[0], argv);
    int err = errno;
    if (write(pipefd[1], &err, sizeof err) < 0) _exit(127);
    _exit(127);
  }
  close(pipefd[1]);
  int err = 0;
  ssize_t n;
  do n = read(pipefd[0], &err, sizeof err);
  while (n < 0 && errno == EINTR);
  close(pipefd[0]);
  if (n == (ssize_t)sizeof err) {
    waitpid(pid, NULL, 0);
    snprintf(why, whylen, "cannot run '%s': %s", argv[0], strerror(err));
    /* Austin 3.7 says the same of every command that does not start. */
    return E_LAUNCH;
  }
  t->pid = pid;
  t->launched = true;
  return E_OK;
}

enum error_kind target_attach(pid_t pid, struct target *t, char *why,
                              size_t whylen) {
  memset(t, 0, sizeof *t);
  t->pid = pid;
  char path[64];
  snprintf(path, sizeof path, "/proc/%d", (int)pid);
  if (access(path, F_OK) != 0) {
    snprintf(why, whylen, "no such process: %d", (int)pid);
    return E_ATTACH;
  }
  return E_OK;
}

static bool is_zombie(pid_t pid) {
  char state;
  return proc_stat_state(pid, 0, &state, NULL) != 0 || state == 'Z' || state == 'X';
}

bool target_alive(struct target *t) {
  if (t->exited) return false;
  if (t->launched) {
    /* Look without collecting: when we also trace the child (austinp), the
     * kernel reports its ptrace stops to this wait as well, and those
     * belong to the ptrace set. Only an exit is collected here. */
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_PID, t->pid, &si, WEXITED | WSTOPPED | WNOHANG | WNOWAIT) != 0)
      return errno == EINTR;
    if (si.si_pid != t->pid) return true;
    if (si.si_code != CLD_EXITED && si.si_code != CLD_KILLED && si.si_code != CLD_DUMPED)
      return true;
    waitpid(t->pid, &t->wait_status, 0);
    t->exited = true;
    return false;
  }
  if (kill(t->pid, 0) != 0 && errno == ESRCH) {
    t->exited = true;
    return false;
  }
  /* An exited process whose parent has not reaped it still answers
   * kill(): look at its state, but not at every sample. */
  uint64_t now = clock_us();
  if (now - t->zombie_checked_us >= 100000) {
    t->zombie_checked_us = now;
    if (is_zombie(t->pid)) {
      t->exited = true;
      return false;
    }
  }
  return true;
}

void target_release(struct target *t) {
  if (!t->launched || t->exited || t->pid <= 0) return;
  kill(t->pid, SIGTERM);
  /* Give it a second to go, then insist. */
  for (int i = 0; i < 100; i++) {
    if (waitpid(t->pid, &t->wait_status, WNOHANG) == t->pid) {
      t->exited = true;
      return;
    }
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  kill(t->pid, SIGKILL);
  waitpid(t->pid, &t->wait_status, 0);
  t->exited = true;
}

void target_wait(struct target *t) {
  if (!t->launched || t->exited) return;
  while (waitpid(t->pid, &t->wait_status, 0) < 0 && errno == EINTR) {
  }
  t->exited = true;
}
