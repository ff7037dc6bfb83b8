#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "privilege.h"
#include "remote.h"
#include "remote_priv.h"

/* ---- live process ------------------------------------------------------ */

int remote_vm_read(pid_t pid, uint64_t addr, void *buf, size_t len) {
  struct iovec local = {buf, len};
  struct iovec remote = {(void *)(uintptr_t)addr, len};
  ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
  if (n == (ssize_t)len) return 0;
  if (n >= 0) errno = EFAULT; /* partial read: the range crosses a hole */
  return -1;
}

int remote_vm_readv(pid_t pid, const struct remote_iov *iov, size_t n) {
  struct iovec local[REMOTE_IOV_MAX] = {{0}}, remote[REMOTE_IOV_MAX] = {{0}};
  if (n > REMOTE_IOV_MAX) n = REMOTE_IOV_MAX;
  for (size_t i = 0; i < n; i++) {
    local[i] = (struct iovec){iov[i].buf, iov[i].len};
    remote[i] = (struct iovec){(void *)(uintptr_t)iov[i].addr, iov[i].len};
  }
  ssize_t got = process_vm_readv(pid, local, n, remote, n, 0);
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

static int live_read(struct remote *r, uint64_t addr, void *buf, size_t len) {
  return remote_vm_read(r->pid, addr, buf, len);
}

static int live_readv(struct remote *r, const struct remote_iov *iov, size_t n) {
  return remote_vm_readv(r->pid, iov, n);
}

static void live_close(struct remote *r) { free(r); }

static const struct remote_ops live_ops = {live_read, live_readv, live_close};

struct remote *remote_open_pid(pid_t pid) {
  if (privilege_active()) return remote_open_privileged(pid);
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
