/* The privilege policy: what austin and austinp may do when they are
 * installed with more rights than the user who runs them has (`setcap
 * cap_sys_ptrace+ep`, or setuid root).
 *
 * Such a run does what its real user could do on a machine without the
 * Yama module, and nothing more:
 *  - privilege_init, first thing in main, makes the process its real user
 *    again (real, effective, saved and file-system uids and gids; the
 *    supplementary groups are the caller's already) and keeps one
 *    capability, CAP_SYS_PTRACE, in the permitted set only. Every file
 *    (-o, /proc, the target's executables, debug files) is then opened,
 *    and every process read, with the real user's rights; CAP_SYS_ADMIN
 *    and the rest of root's capabilities are gone (austinp -k warns).
 *  - privilege_attach is the only place where the capability is used: for
 *    an attach (opening /proc/PID/mem, PTRACE_SEIZE) that the kernel
 *    refused without it (Yama's ptrace_scope 1 or 2), and only to a task
 *    that privilege_check accepts before and after the attach.
 *  - privilege_drop_for_exec, in a launched command between fork and
 *    exec, clears every capability: the command runs as the real user.
 * When the program was not started with privilege (root running it as
 * root, or a user running an ordinary copy), nothing here changes
 * anything: the kernel's own checks are the only ones. */
#ifndef PRIVILEGE_H
#define PRIVILEGE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "errors.h"

/* Detect a privileged start and, if so, reduce it as above. E_OK, or
 * E_INTERNAL when the reduction failed (reported: the program must then
 * stop, it would otherwise run with rights it must not use). */
enum error_kind privilege_init(void);

/* austinp-resolve: it needs no privilege at all. Drop every bit of it for
 * good (uids, gids, every capability); E_OK or E_INTERNAL, reported. */
enum error_kind privilege_drop_all(void);

/* Was the program started with privilege (and reduced by privilege_init)? */
bool privilege_active(void);

/* May the real user trace task tid of process pid (tid 0: the process)
 * under the kernel's rules without CAP_SYS_PTRACE? Its real, effective and
 * saved uids must be our real uid, the same for the gids, and it must be
 * dumpable (a process that ran a setuid or file-capability program, or
 * asked not to be traced, is not). E_OK (always when not privileged),
 * E_NO_PROCESS when it is gone, E_PERMISSION otherwise, with why set. */
enum error_kind privilege_check(pid_t pid, pid_t tid, char *why, size_t whylen);

/* attach(arg) to task (pid, tid) under the policy: returns its result (0,
 * or -1 with errno). Not privileged: attach(arg) and nothing else.
 * Privileged: a task that privilege_check refuses is not attached to (-1,
 * EPERM); attach runs with the real user's rights and, only if the kernel
 * refuses (EPERM, EACCES), once more with CAP_SYS_PTRACE; then the task is
 * checked again, and if it does not pass any more (it ran a setuid program
 * in between), detach(arg) undoes the attach: -1, EPERM. */
int privilege_attach(pid_t pid, pid_t tid, int (*attach)(void *arg),
                     void (*detach)(void *arg), void *arg);

/* In a launched command, between fork and exec: no capability left in any
 * set (effective, permitted, inheritable, ambient). 0, or -1 with errno. */
int privilege_drop_for_exec(void);

/* The ids a task runs with and the owner of its /proc files (the task's
 * effective uid when it is dumpable, root's otherwise). */
struct task_ids {
  unsigned long uid[4]; /* real, effective, saved, file system */
  unsigned long gid[4];
  unsigned long owner;
};

/* The four numbers of the "Uid:" or "Gid:" line (key) of a status file
 * (NUL-ended). The key must start a line and appear once: a second one
 * would be a forgery (a task cannot spell one in its name, the only text
 * it chooses, but what we cannot parse for sure we refuse). 0 or -1. Pure. */
int privilege_parse_ids(const char *status, const char *key, unsigned long ids[4]);

/* The rule of privilege_check on ids already read. Pure. */
enum error_kind privilege_judge(const struct task_ids *t, pid_t pid, uid_t ruid, gid_t rgid,
                                char *why, size_t whylen);

#endif
