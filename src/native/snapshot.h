/* A native snapshot of one thread: its registers and a copy of the top of
 * its stack, taken while the thread is stopped, so that unwinding can be
 * done after it runs again. */
#ifndef SNAPSHOT_H
#define SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#include "remote.h"

/* Default size of the stack slice copied per sample. */
#define SNAPSHOT_STACK_DEFAULT (64u << 10)

struct native_snapshot {
  pid_t tid;
  struct user_regs_struct regs;
  uint64_t stack_addr;   /* address of stack[0] in the target */
  size_t stack_len;      /* bytes copied */
  size_t stack_cap;      /* bytes allocated */
  uint8_t *stack;
};

/* Copy up to `max` bytes of the stack of a stopped thread, from its stack
 * pointer (minus the x86-64 red zone) upwards, clipped to the end of the
 * mapping that holds it (stack_end: the end of that mapping, found by the
 * caller in /proc/PID/maps; 0 if unknown, then the copy shrinks until the
 * read succeeds). One process_vm_readv. 0 on success. */
int snapshot_take(struct remote *r, pid_t tid,
                  const struct user_regs_struct *regs, uint64_t stack_end,
                  size_t max, struct native_snapshot *out);

void snapshot_free(struct native_snapshot *s);

#endif
