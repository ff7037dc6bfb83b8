#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "clock.h"
#include "privilege.h"
#include "proc_stat.h"
#include "remote.h"

/* ---- live process ------------------------------------------------------ */

static int live_read(struct remote *r, uint64_t addr, void *buf, size_t len) {
  struct iovec local = {buf, len};
  struct iovec remote = {(void *)(uintptr_t)addr, len};
  ssize_t n = process_vm_readv(r->pid, &local, 1, &remote, 1, 0);
  if (n == (ssize_t)len) return 0;
  if (n >= 0) errno = EFAULT; /* partial read: the range crosses a hole */
  return -1;
}

static int live_readv(struct remote *r, const struct remote_iov *iov, size_t n) {
  struct iovec local[REMOTE_IOV_MAX] = {{0}}, remote[REMOTE_IOV_MAX] = {{0}};
  if (n > REMOTE_IOV_MAX) n = REMOTE_IOV_MAX;
  for (size_t i = 0; i < n; i++) {
    local[i] = (struct iovec){iov[i].buf, iov[i].len};
    remote[i] = (struct iovec){(void *)(uintptr_t)iov[i].addr, iov[i].len};
  }
  ssize_t got = process_vm_readv(r->pid, local, n, remote, n, 0);
  if (got < 0) return -1;
  /* The kernel stops at the first range it cannot read. */
  size_t done = 0, bytes = (size_t)got;
  while (done < n && bytes >= iov[done].len) bytes -= iov[done++].len;
  if (done == 0) {
    errno = EFAULT;
    return -1;
  }
  return (int)done;
}

static void live_close(struct remote *r) { free(r); }

static const struct remote_ops live_ops = {live_read, live_readv, live_close};

/* ---- live process, privileged run: /proc/PID/mem ------------------------- */

/* A privileged run reads through /proc/PID/mem, opened once under the
 * privilege policy: the open file stays on the address space that was
 * checked (a target that runs a setuid program gets a new one, which this
 * file never reads: it reads nothing any more), whereas process_vm_readv
 * would look the process up again at every read, with CAP_SYS_PTRACE
 * where Yama needs it.
 *
 * The old address space lives on, though, when another process shares it:
 * a child started with vfork (posix_spawn, Python's subprocess) runs in
 * its parent's until it runs exec. Its new one is then never read, and the
 * child would never be seen to run exec: so every MEM_SAME_US the
 * address-space fields of /proc/PID/stat are compared with those seen at
 * the open, and once they differ every read fails with ESRCH, as when the
 * address space is gone. */
#define MEM_SAME_US 10000
/* Fields of /proc/PID/stat that belong to the address space: start and
 * end of the code, start of the stack, of the heap, of the arguments and
 * of the environment (0 when the kernel does not let us see them). */
static const int mm_fields[] = {26, 27, 28, 47, 48, 49, 50, 51};
#define MM_FIELDS (sizeof mm_fields / sizeof *mm_fields)

struct mem_remote {
  struct remote base;
  int fd;
  bool replaced;
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

/* Is the address space of the file still the process's? */
static bool mem_same(struct mem_remote *m) {
  if (m->replaced) return false;
  uint64_t now = clock_us();
  if (now - m->checked_us < MEM_SAME_US) return true;
  m->checked_us = now;
  uint64_t mm[MM_FIELDS];
  read_mm_fields(m->base.pid, mm);
  m->replaced = memcmp(mm, m->mm, sizeof mm) != 0;
  return !m->replaced;
}

static int mem_read(struct remote *r, uint64_t addr, void *buf, size_t len) {
  struct mem_remote *m = (struct mem_remote *)r;
  if (!mem_same(m)) {
    errno = ESRCH;
    return -1;
  }
  if (addr > (uint64_t)INT64_MAX - len) { /* not a user-space address */
    errno = EFAULT;
    return -1;
  }
  ssize_t n;
  do n = pread(m->fd, buf, len, (off_t)addr);
  while (n < 0 && errno == EINTR);
  if (n == (ssize_t)len) return 0;
  if (n == 0) errno = ESRCH; /* the address space is gone: exit or exec */
  else if (n > 0 || errno == EIO) errno = EFAULT; /* a hole in the range */
  return -1;
}

static int mem_readv(struct remote *r, const struct remote_iov *iov, size_t n) {
  size_t done = 0;
  while (done < n && mem_read(r, iov[done].addr, iov[done].buf, iov[done].len) == 0) done++;
  return done ? (int)done : -1;
}

static void mem_close(struct remote *r) {
  close(((struct mem_remote *)r)->fd);
  free(r);
}

static const struct remote_ops mem_ops = {mem_read, mem_readv, mem_close};

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

static struct remote *remote_open_mem(pid_t pid) {
  struct mem_remote *m = calloc(1, sizeof *m);
  if (m == NULL) return NULL;
  struct mem_open o = {pid, -1};
  if (privilege_attach(pid, 0, mem_attach, mem_detach, &o) != 0) {
    int err = errno;
    free(m);
    errno = err == ENOENT ? ESRCH : err;
    return NULL;
  }
  m->base.ops = &mem_ops;
  m->base.pid = pid;
  m->fd = o.fd;
  /* After the open: fields read before it could be an older image's. */
  read_mm_fields(pid, m->mm);
  m->checked_us = clock_us();
  return &m->base;
}

struct remote *remote_open_pid(pid_t pid) {
  if (privilege_active()) return remote_open_mem(pid);
  struct remote *r = calloc(1, sizeof *r);
  if (r == NULL) return NULL;
  r->ops = &live_ops;
  r->pid = pid;
  return r;
}

/* ---- recorded image ---------------------------------------------------- */

struct image {
  struct remote base;
  const struct remote_range *ranges;
  size_t n;
};

static int image_read(struct remote *r, uint64_t addr, void *buf, size_t len) {
  struct image *im = (struct image *)r;
  for (size_t i = 0; i < im->n; i++) {
    const struct remote_range *rg = &im->ranges[i];
    if (addr >= rg->addr && addr - rg->addr <= rg->len &&
        len <= rg->len - (addr - rg->addr)) {
      memcpy(buf, rg->bytes + (addr - rg->addr), len);
      return 0;
    }
  }
  errno = EFAULT;
  return -1;
}

static int image_readv(struct remote *r, const struct remote_iov *iov, size_t n) {
  size_t done = 0;
  while (done < n && image_read(r, iov[done].addr, iov[done].buf, iov[done].len) == 0)
    done++;
  return done ? (int)done : -1;
}

static void image_close(struct remote *r) { free(r); }

static const struct remote_ops image_ops = {image_read, image_readv, image_close};

struct remote *remote_open_image(const struct remote_range *ranges, size_t n) {
  struct image *im = calloc(1, sizeof *im);
  if (im == NULL) return NULL;
  im->base.ops = &image_ops;
  im->ranges = ranges;
  im->n = n;
  return &im->base;
}

/* ---- common ------------------------------------------------------------ */

void remote_close(struct remote *r) {
  if (r != NULL) r->ops->close(r);
}

int remote_read(struct remote *r, uint64_t addr, void *buf, size_t len) {
  if (len == 0) return 0;
  /* The first page is never mapped; sizes beyond the bound are garbage. */
  if (addr < 4096 || len > REMOTE_READ_MAX || addr + len < addr) {
    errno = EFAULT;
    return -1;
  }
  r->reads++;
  return r->ops->read(r, addr, buf, len);
}

int remote_readv(struct remote *r, const struct remote_iov *iov, size_t n) {
  if (n == 0) return 0;
  if (n > REMOTE_IOV_MAX) n = REMOTE_IOV_MAX;
  /* Only the ranges up to the first bad one are asked for. */
  size_t ok = 0;
  while (ok < n && iov[ok].addr >= 4096 && iov[ok].len <= REMOTE_READ_MAX &&
         iov[ok].addr + iov[ok].len >= iov[ok].addr)
    ok++;
  if (ok == 0) {
    errno = EFAULT;
    return -1;
  }
  r->reads++;
  return r->ops->readv(r, iov, ok);
}

int remote_read_u64(struct remote *r, uint64_t addr, uint64_t *out) {
  return remote_read(r, addr, out, sizeof *out);
}
