/* Remote memory: every read of the target goes through this interface.
 *
 * A remote is either a live process (process_vm_readv) or a recorded image
 * (a set of captured ranges). Readers of interpreter structures take a
 * remote, never a pid, so that they can be tested and fuzzed without a
 * live process. Every read is bounded and checked: a failed or partial read
 * is an error value, never a crash. */
#ifndef REMOTE_H
#define REMOTE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* No single remote read may be larger than this. */
#define REMOTE_READ_MAX (1u << 20)

struct remote;

/* One range of a batched read. */
struct remote_iov {
  uint64_t addr;
  void *buf;
  size_t len;
};

/* At most this many ranges in one batched read. */
#define REMOTE_IOV_MAX 64

struct remote_ops {
  /* Read exactly len bytes at addr into buf. 0 on success, -1 otherwise
   * with errno set (EFAULT for unmapped memory, ESRCH when the process is
   * gone, EPERM when we may not read it). */
  int (*read)(struct remote *r, uint64_t addr, void *buf, size_t len);
  /* Read several ranges; returns how many of them, from the first, were
   * read completely (n on success), or -1 when none could be. */
  int (*readv)(struct remote *r, const struct remote_iov *iov, size_t n);
  void (*close)(struct remote *r);
};

struct remote {
  const struct remote_ops *ops;
  pid_t pid;          /* 0 for an image */
  uint64_t reads;     /* number of read calls, for statistics */
};

/* Open a live process. The returned remote reads with process_vm_readv;
 * in a privileged run (privilege.h), as remote_priv.h says. NULL with
 * errno: ENOMEM, or in a privileged run EPERM (the policy refuses the
 * process) or ESRCH (no such process). */
struct remote *remote_open_pid(pid_t pid);

/* A recorded image: a list of (address, bytes) ranges held in memory.
 * The image copies nothing: ranges must outlive the remote. */
struct remote_range {
  uint64_t addr;
  size_t len;
  const uint8_t *bytes;
};
struct remote *remote_open_image(const struct remote_range *ranges, size_t n);

void remote_close(struct remote *r);

/* Bounded, checked read: rejects null addresses and sizes over
 * REMOTE_READ_MAX before asking the implementation. */
int remote_read(struct remote *r, uint64_t addr, void *buf, size_t len);

/* Batched read of up to REMOTE_IOV_MAX ranges, each bounded as in
 * remote_read: one system call for a live process. Returns the number of
 * ranges read completely from the first on (n when all were), -1 when
 * none could be. */
int remote_readv(struct remote *r, const struct remote_iov *iov, size_t n);

/* Read a pointer-sized value (the target's pointers are 64-bit here). */
int remote_read_u64(struct remote *r, uint64_t addr, uint64_t *out);

#endif
