/* Reading /proc/PID/task/TID/stack. See kstack_read.h.
 *
 * Cost, measured on this project's 2-CPU Debian VM (kernel 6.x), for a
 * thread blocked in a futex (7 frames, 226 bytes): open+read+close 11.5 us,
 * pread at offset 0 on a kept descriptor 6.5 us (with the machine loaded,
 * 63 us against 24 us); a thread on a CPU (empty file) 6.2 against 1.7 us.
 * Most of the rest is the kernel's own: walking the stack and naming each
 * frame (kallsyms), as perf shows. The kernel regenerates
 * the text at every read at offset 0 (seq_file), so a kept descriptor
 * shows the present stack; when its thread has exited the read fails with
 * ESRCH and, since a tid may be reused, we open the path once more. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "errors.h"
#include "kstack_read.h"

/* Descriptors kept open (threads read beyond this are read with open,
 * read, close: slower, still right). */
#define FD_SLOTS 128
/* 64 frames of long names fit; a longer text is cut (kstack_parse drops
 * the cut line). */
#define READ_MAX 16384

struct slot {
  pid_t tid; /* 0: free */
  int fd;
  uint64_t round; /* the last round that read it */
};

/* Rounds: the sampler reads every thread once a round, so a thread read
 * a second time starts a new round, and a descriptor that the round just
 * ended did not read belongs to a thread that ended (or is no longer
 * listed): it is closed then. (A time limit kept those of threads that
 * came and went for a second or two, a hundred descriptors under thread
 * churn.) A round inferred early only costs a reopen. */
struct kstack_reader {
  pid_t pid;
  bool denied;
  uint64_t round;
  struct slot slots[FD_SLOTS];
  char buf[READ_MAX];
};

static bool is_denied(int err) { return err == EACCES || err == EPERM; }

void kstack_warn_denied(pid_t pid) {
  static bool warned;
  if (warned) return;
  warned = true;
  fprintf(stderr, "%s: warning: cannot read the kernel stacks of process %d: reading "
                  "/proc/PID/task/TID/stack needs CAP_SYS_ADMIN (run as root); sampling "
                  "goes on without kernel frames\n", error_progname, (int)pid);
}

static int open_stack(pid_t pid, pid_t tid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/task/%d/stack", (int)pid, (int)tid);
  return open(path, O_RDONLY | O_CLOEXEC);
}

/* The whole text at offset 0, bounded by cap. Bytes read, -1 (errno). */
static ssize_t read_text(int fd, char *buf, size_t cap) {
  size_t got = 0;
  while (got < cap) {
    ssize_t n = pread(fd, buf + got, cap - got, (off_t)got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) break;
    got += (size_t)n;
  }
  return (ssize_t)got;
}

int kstack_read_thread(pid_t pid, pid_t tid, struct kstack *out) {
  char buf[READ_MAX];
  int fd = open_stack(pid, tid);
  ssize_t n = fd < 0 ? -1 : read_text(fd, buf, sizeof buf);
  int err = errno;
  if (fd >= 0) close(fd);
  if (n < 0) {
    if (is_denied(err)) kstack_warn_denied(pid);
    errno = err;
    return -1;
  }
  kstack_parse(buf, (size_t)n, out);
  return 0;
}

struct kstack_reader *kstack_reader_new(pid_t pid) {
  struct kstack_reader *kr = calloc(1, sizeof *kr);
  if (kr == NULL) return NULL;
  kr->pid = pid;
  return kr;
}

static void slot_close(struct slot *s) {
  if (s->tid != 0) close(s->fd);
  s->tid = 0;
}

void kstack_reader_free(struct kstack_reader *kr) {
  if (kr == NULL) return;
  for (size_t i = 0; i < FD_SLOTS; i++) slot_close(&kr->slots[i]);
  free(kr);
}

bool kstack_reader_enabled(const struct kstack_reader *kr) { return !kr->denied; }

/* Reading tid: when the round has read it already, a new round starts,
 * and the descriptors the round that ends did not read are closed. */
static void next_round_if(struct kstack_reader *kr, pid_t tid) {
  bool again = false;
  for (size_t i = 0; i < FD_SLOTS && !again; i++)
    again = kr->slots[i].tid == tid && kr->slots[i].round == kr->round;
  if (!again) return;
  for (size_t i = 0; i < FD_SLOTS; i++)
    if (kr->slots[i].tid != 0 && kr->slots[i].round != kr->round) slot_close(&kr->slots[i]);
  kr->round++;
}

/* The slot of tid, opened if need be; NULL when none is free or the open
 * failed (errno). */
static struct slot *slot_for(struct kstack_reader *kr, pid_t tid) {
  struct slot *free_slot = NULL;
  for (size_t i = 0; i < FD_SLOTS; i++) {
    if (kr->slots[i].tid == tid) return &kr->slots[i];
    if (kr->slots[i].tid == 0 && free_slot == NULL) free_slot = &kr->slots[i];
  }
  if (free_slot == NULL) {
    errno = ENOSPC;
    return NULL;
  }
  int fd = open_stack(kr->pid, tid);
  if (fd < 0) return NULL;
  *free_slot = (struct slot){tid, fd, kr->round};
  return free_slot;
}

/* Read through a kept descriptor; on ESRCH (its thread ended, the tid may
 * be another thread's now) open once more. -1 with errno. */
static ssize_t read_kept(struct kstack_reader *kr, pid_t tid) {
  for (int attempt = 0; attempt < 2; attempt++) {
    struct slot *s = slot_for(kr, tid);
    if (s == NULL) return -1;
    ssize_t n = read_text(s->fd, kr->buf, sizeof kr->buf);
    if (n >= 0) {
      s->round = kr->round;
      return n;
    }
    int err = errno;
    slot_close(s);
    errno = err;
    if (err != ESRCH) break;
  }
  return -1;
}

int kstack_reader_read(struct kstack_reader *kr, pid_t tid, struct kstack *out) {
  out->n = 0;
  if (kr->denied) return -1;
  next_round_if(kr, tid);
  ssize_t n = read_kept(kr, tid);
  if (n < 0 && errno == ENOSPC) return kstack_read_thread(kr->pid, tid, out);
  if (n < 0) {
    if (is_denied(errno)) {
      kr->denied = true;
      kstack_warn_denied(kr->pid);
    }
    return -1;
  }
  kstack_parse(kr->buf, (size_t)n, out);
  return 0;
}

/* Return values of a system call broken by a signal or a ptrace interrupt
 * (the kernel's internal restart codes, and EINTR). */
#define ERESTARTSYS 512
#define ERESTARTNOINTR 513
#define ERESTARTNOHAND 514
#define ERESTART_RESTARTBLOCK 516

bool kstack_regs_in_wait(const struct user_regs_struct *regs) {
  /* orig_rax is -1 when the thread was stopped in user space. */
  if ((int64_t)regs->orig_rax < 0) return false;
  int64_t rc = (int64_t)regs->rax;
  return rc == -EINTR || rc == -ERESTARTSYS || rc == -ERESTARTNOINTR ||
         rc == -ERESTARTNOHAND || rc == -ERESTART_RESTARTBLOCK;
}
