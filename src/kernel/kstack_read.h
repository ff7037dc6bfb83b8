/* Reading the kernel stacks of the threads of one process, for austinp -k.
 *
 * /proc/PID/task/TID/stack may be read only with CAP_SYS_ADMIN (the kernel
 * checks it at each read, against the opener's credentials). Without it
 * the first refused read prints one warning and the reader turns itself
 * off: sampling goes on without kernel frames. */
#ifndef KSTACK_READ_H
#define KSTACK_READ_H

#include <stdbool.h>
#include <sys/types.h>
#include <sys/user.h>

#include "kstack.h"

struct kstack_reader;

/* A reader for the threads of process `pid`. NULL when out of memory. */
struct kstack_reader *kstack_reader_new(pid_t pid);

/* Closes every file the reader keeps open. NULL is fine. */
void kstack_reader_free(struct kstack_reader *kr);

/* Read and parse the kernel stack of thread `tid` into out. 0 on success
 * (out->n may be 0: a thread on a CPU has no kernel stack to show); -1
 * when it cannot be read (the thread is gone, no privilege: see
 * kstack_reader_enabled). Keeps one file open per thread, closed once a
 * whole round (every thread read once) has passed without reading it. */
int kstack_reader_read(struct kstack_reader *kr, pid_t tid, struct kstack *out);

/* False once a read was refused for lack of privilege (warned). */
bool kstack_reader_enabled(const struct kstack_reader *kr);

/* One read, no file kept: for where mode, which reads each thread once.
 * 0 on success; -1 with errno set (EACCES or EPERM: no privilege, after
 * one warning per run from kstack_warn_denied). */
int kstack_read_thread(pid_t pid, pid_t tid, struct kstack *out);

/* Print, once per run, that kernel stacks of `pid` cannot be read. */
void kstack_warn_denied(pid_t pid);

/* Whether the registers of a thread just stopped by PTRACE_INTERRUPT show
 * that the stop broke a system call that was waiting (the call returns a
 * restart code or EINTR), i.e. the thread was in that call when it was
 * interrupted. See austinp.c for why the stack is read before the stop. */
bool kstack_regs_in_wait(const struct user_regs_struct *regs);

#endif
