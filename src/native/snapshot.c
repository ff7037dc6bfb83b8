/* Native snapshots: registers and a copy of the top of a stopped thread's
 * stack, read with one process_vm_readv (remote_read) per sample. */
#include "snapshot.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The x86-64 System V red zone: leaf functions may keep data below rsp. */
#define RED_ZONE 128u
#define PAGE_SIZE_ 4096u

/* Make room for len bytes; the buffer only grows and is reused. */
static int reserve(struct native_snapshot *s, size_t len) {
  if (s->stack_cap >= len && s->stack != NULL) return 0;
  uint8_t *p = realloc(s->stack, len);
  if (p == NULL) return -1;
  s->stack = p;
  s->stack_cap = len;
  return 0;
}

int snapshot_take(struct remote *r, pid_t tid,
                  const struct user_regs_struct *regs, uint64_t stack_end,
                  size_t max, struct native_snapshot *out) {
  if (r == NULL || regs == NULL || out == NULL) {
    errno = EINVAL;
    return -1;
  }
  out->tid = tid;
  out->regs = *regs;
  out->stack_addr = 0;
  out->stack_len = 0;

  if (max == 0) max = SNAPSHOT_STACK_DEFAULT;
  if (max > REMOTE_READ_MAX) max = REMOTE_READ_MAX;

  uint64_t sp = regs->rsp;
  if (sp < PAGE_SIZE_ + RED_ZONE) {
    errno = EFAULT;
    return -1;
  }
  uint64_t start = sp - RED_ZONE;
  if (stack_end != 0 && (stack_end <= sp)) {
    errno = EFAULT; /* the stack pointer is not in that mapping */
    return -1;
  }
  size_t len = max;
  if (stack_end != 0 && stack_end - start < len) len = (size_t)(stack_end - start);
  if (UINT64_MAX - start < len) len = (size_t)(UINT64_MAX - start);
  if (reserve(out, max) != 0) {
    errno = ENOMEM;
    return -1;
  }

  if (remote_read(r, start, out->stack, len) == 0) {
    out->stack_addr = start;
    out->stack_len = len;
    return 0;
  }
  if (stack_end != 0 || errno != EFAULT) return -1;

  /* The end of the stack's mapping is unknown and the slice crossed it:
   * shrink to page boundaries, halving each time (a bounded number of
   * tries: log2(max / page)), down to the page that holds sp. */
  for (int tries = 0; tries < 2; tries++) {
    uint64_t lo = start;
    uint64_t end = (lo + len) & ~(uint64_t)(PAGE_SIZE_ - 1);
    for (;;) {
      if (end <= lo) break;
      size_t n = (size_t)(end - lo);
      if (remote_read(r, lo, out->stack, n) == 0) {
        out->stack_addr = lo;
        out->stack_len = n;
        return 0;
      }
      if (errno != EFAULT) return -1;
      uint64_t min_end = (sp & ~(uint64_t)(PAGE_SIZE_ - 1)) + PAGE_SIZE_;
      if (end <= min_end) break;
      uint64_t half = lo + (end - lo) / 2;
      end = half & ~(uint64_t)(PAGE_SIZE_ - 1);
      if (end < min_end) end = min_end;
    }
    /* The red zone may lie below the lowest mapped page: start at sp. */
    if (start == sp) break;
    start = sp;
  }
  errno = EFAULT;
  return -1;
}

void snapshot_free(struct native_snapshot *s) {
  if (s == NULL) return;
  free(s->stack);
  s->stack = NULL;
  s->stack_cap = 0;
  s->stack_len = 0;
  s->stack_addr = 0;
}
