/* Internal to the remote readers (remote.c, remote_priv.c): the remote of
 * a privileged run, and the process_vm_readv reads both use. */
#ifndef REMOTE_PRIV_H
#define REMOTE_PRIV_H

#include "remote.h"

/* process_vm_readv of one range (0, or -1 with errno) and of several (as
 * remote_readv). */
int remote_vm_read(pid_t pid, uint64_t addr, void *buf, size_t len);
int remote_vm_readv(pid_t pid, const struct remote_iov *iov, size_t n);

/* The remote of a privileged run (remote_open_pid when privilege_active):
 * NULL with errno EPERM when the privilege policy refuses the process,
 * ESRCH when it is gone, ENOMEM.
 *
 * It reads with process_vm_readv, with the real user's rights: the kernel
 * checks each read against the process as it is then (a target that ran a
 * setuid program is refused). Only when the kernel refuses a read of a
 * process that the policy accepts (Yama's ptrace_scope) does it open
 * /proc/PID/mem under the policy (privilege_attach, with CAP_SYS_PTRACE if
 * need be) and read from it from then on: the open file stays on the
 * address space that was checked. The environment variable
 * PYAUSTIN_PRIVILEGED_MEM (any value) makes it open /proc/PID/mem at once,
 * for the tests on machines without Yama: it is the stricter of the two
 * ways, never a way around the policy. */
struct remote *remote_open_privileged(pid_t pid);

#endif
