/* The remote of a privileged run (remote_priv.h): process_vm_readv with
 * the real user's rights, or /proc/PID/mem opened under the privilege
 * policy when the kernel asks for CAP_SYS_PTRACE.
 *
 * Why not process_vm_readv with the capability raised around each read:
 * the kernel would then check nothing but the capability, and our own
 * check is only true when made; a target that runs a setuid program
 * between check and read would be read as root's. An open /proc/PID/mem
 * stays on the address space that was checked (checked before and after
 * the open): once the process runs exec, the file reads nothing.
 *
 * Why not /proc/PID/mem always: one pread per range where process_vm_readv
 * reads a batch of them in one call; measured with bench/privileged-reads
 * on a 60-frame stack, a round took 5 times as long (see bench/README.md).
 *
 * The old address space lives on when another process shares it: a child
 * started with vfork (posix_spawn, Python's subprocess) runs in its
 * parent's until it runs exec, and its new one would never be read nor the
 * exec be seen. So every MEM_SAME_US the address-space fields of
 * /proc/PID/stat are compared with those seen at the open; once they
 * differ, every read fails with ESRCH, as when the address space is gone. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "privilege.h"
#include "proc_stat.h"
#include "remote_priv.h"

#define MEM_SAME_US 10000
/* Fields of /proc/PID/stat that belong to the address space: start and
 * end of the code, start of the stack, of the heap, of the arguments and
 * of the environment (0 when the kernel does not let us see them). */
static const int mm_fields[] = {26, 27, 28, 47, 48, 49, 50, 51};
#define MM_FIELDS (sizeof mm_fields / sizeof *mm_fields)

struct priv_remote {
  struct remote base;
  int fd;         /* /proc/PID/mem, -1 while process_vm_readv serves */
  bool mem_tried; /* the open is tried once */
  bool replaced;  /* the file's address space is no longer the process's */
  uint64_t checked_us;
  uint64_t mm[MM_FIELDS];
};

static void read_mm_fields(pid_t pid, uint64_t mm[MM_FIELDS]) {
  char buf[1024];
  memset(mm, 0, MM_FIELDS * sizeof *mm);
  if (proc_task_read(pid, 0, "stat", buf, sizeof buf) < 0) return;
  for (size_t i = 0; i < MM_FIELDS; i++)
    if (proc_stat_field(buf, mm_fields[i], &mm[i]) != 0) mm[i] = 0;
}

/* ---- /proc/PID/mem ------------------------------------------------------- */

struct mem_open {
  pid_t pid;
  int fd;
};

static int mem_attach(void *arg) {
  struct mem_open *o = arg;
  char path[PROC_PATH_MAX];
  proc_task_path(path, o->pid, 0, "mem");
  o->fd = open(path, O_RDONLY | O_CLOEXEC);
  return o->fd < 0 ? -1 : 0;
}

static void mem_detach(void *arg) { close(((struct mem_open *)arg)->fd); }

/* Read from /proc/PID/mem from now on; 0, or -1 with errno. */
static int open_mem(struct priv_remote *p) {
  p->mem_tried = true;
  struct mem_open o = {p->base.pid, -1};
  if (privilege_attach(p->base.pid, 0, mem_attach, mem_detach, &o) != 0) {
    if (errno == ENOENT) errno = ESRCH;
    return -1;
  }
  p->fd = o.fd;
  /* After the open: fields read before it could be an older image's. */
  read_mm_fields(p->base.pid, p->mm);
  p->checked_us = clock_us();
  return 0;
}

/* Is the address space of the file still the process's? */
static bool mem_same(struct priv_remote *p) {
  if (p->replaced) return false;
  uint64_t now = clock_us();
  if (now - p->checked_us < MEM_SAME_US) return true;
  p->checked_us = now;
  uint64_t mm[MM_FIELDS];
  read_mm_fields(p->base.pid, mm);
  p->replaced = memcmp(mm, p->mm, sizeof mm) != 0;
  return !p->replaced;
}

static int mem_read(struct priv_remote *p, uint64_t addr, void *buf, size_t len) {
  if (!mem_same(p)) {
    errno = ESRCH;
    return -1;
  }
  if (addr > (uint64_t)INT64_MAX - len) { /* not a user-space address */
    errno = EFAULT;
    return -1;
  }
  ssize_t n;
  do n = pread(p->fd, buf, len, (off_t)addr);
  while (n < 0 && errno == EINTR);
  if (n == (ssize_t)len) return 0;
  if (n == 0) errno = ESRCH; /* the address space is gone: exit or exec */
  else if (n > 0 || errno == EIO) errno = EFAULT; /* a hole in the range */
  return -1;
}

/* ---- the remote ---------------------------------------------------------- */

/* After a refused process_vm_readv: may /proc/PID/mem serve instead? */
static bool switch_to_mem(struct priv_remote *p) {
  if (p->mem_tried || errno != EPERM) return false;
  if (open_mem(p) == 0) return true;
  errno = EPERM;
  return false;
}

static int priv_read(struct remote *r, uint64_t addr, void *buf, size_t len) {
  struct priv_remote *p = (struct priv_remote *)r;
  if (p->fd < 0) {
    int rc = remote_vm_read(r->pid, addr, buf, len);
    if (rc == 0 || !switch_to_mem(p)) return rc;
  }
  return mem_read(p, addr, buf, len);
}

static int priv_readv(struct remote *r, const struct remote_iov *iov, size_t n) {
  struct priv_remote *p = (struct priv_remote *)r;
  if (p->fd < 0) {
    int rc = remote_vm_readv(r->pid, iov, n);
    if (rc >= 0 || !switch_to_mem(p)) return rc;
  }
  size_t done = 0;
  while (done < n && mem_read(p, iov[done].addr, iov[done].buf, iov[done].len) == 0) done++;
  return done ? (int)done : -1;
}

static void priv_close(struct remote *r) {
  struct priv_remote *p = (struct priv_remote *)r;
  if (p->fd >= 0) close(p->fd);
  free(p);
}

static const struct remote_ops priv_ops = {priv_read, priv_readv, priv_close};

struct remote *remote_open_privileged(pid_t pid) {
  char why[256];
  enum error_kind kind = privilege_check(pid, 0, why, sizeof why);
  if (kind != E_OK) {
    errno = kind == E_NO_PROCESS ? ESRCH : EPERM;
    return NULL;
  }
  struct priv_remote *p = calloc(1, sizeof *p);
  if (p == NULL) return NULL;
  p->base.ops = &priv_ops;
  p->base.pid = pid;
  p->fd = -1;
  if (getenv("PYAUSTIN_PRIVILEGED_MEM") != NULL && open_mem(p) != 0) {
    int err = errno;
    free(p);
    errno = err;
    return NULL;
  }
  return &p->base;
}
