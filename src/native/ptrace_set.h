/* Every ptrace relation of austinp lives here.
 *
 * A ptrace_set holds the threads that we have seized (PTRACE_SEIZE: the
 * threads keep running; nothing is stopped until we ask) of one process
 * or, with -C, of several (the target and its descendants): one set, so
 * that one poll serves every traced thread and one guard detaches them
 * all. It stops one thread at a time for a snapshot (PTRACE_INTERRUPT,
 * bounded wait), resumes it, re-injects the signals the target receives
 * while traced, follows new threads (PTRACE_O_TRACECLONE) and forgets the
 * ones that exit. ptrace_set_guard makes sure that whatever happens to us
 * (a signal, exit, an error) every thread is resumed and detached first. */
#ifndef PTRACE_SET_H
#define PTRACE_SET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

struct ptrace_set;

/* At most this many processes in a set (proc_set.h samples as many). */
#define PTRACE_SET_MAX_PROCS 64

/* A set for process `pid`; seizes nothing yet. NULL when out of memory. */
struct ptrace_set *ptrace_set_new(pid_t pid);

/* Seize every thread of each process of the set (/proc/PID/task) not yet
 * in it and forget those that exited. Returns the number of threads in
 * the set, or -1 with errno set (by the first process that failed; the
 * others are synced all the same): EPERM/EACCES when we may not trace a
 * process, ESRCH when it is gone. A thread that vanishes while being
 * seized is skipped, not an error. */
int ptrace_set_sync(struct ptrace_set *ps);

/* Add process pid to the set and seize its threads (ptrace_set_sync for
 * it alone). Returns the number of its threads, or -1 with errno set
 * (ENOSPC: the set is full), and then nothing of pid is kept. */
int ptrace_set_add(struct ptrace_set *ps, pid_t pid);

/* Resume and detach the threads of process pid and take it out of the
 * set (its exited threads collected first, so that its parent can reap
 * it). A thread that does not stop in time to be detached stays in the
 * set, served by the polls and detached by ptrace_set_detach_all. */
void ptrace_set_remove(struct ptrace_set *ps, pid_t pid);

/* Handle every pending ptrace event without blocking: signal-delivery
 * stops are resumed with their signal (the target's own signals are never
 * swallowed or delayed longer than one call), group-stops are left to the
 * target (PTRACE_LISTEN), new threads join the set, exits leave it. */
void ptrace_set_poll(struct ptrace_set *ps);

/* Sleep until the monotonic clock reads deadline_us (clock.h), handling
 * ptrace events as they come (so a traced thread never waits a whole
 * sampling interval for its signal). Returns early when a stop of ours is
 * requested by a signal handler (sampler_stop_requested). */
void ptrace_set_sleep_until(struct ptrace_set *ps, uint64_t deadline_us);

/* Stop thread `tid` (PTRACE_INTERRUPT, then wait for it at most
 * timeout_us) and read its general registers. 0 on success: the thread is
 * stopped until ptrace_set_resume. -1 when the thread is not in the set,
 * vanished, or did not stop in time (it is left running). */
int ptrace_set_stop(struct ptrace_set *ps, pid_t tid,
                    struct user_regs_struct *regs, uint64_t timeout_us);

/* Resume a thread stopped by ptrace_set_stop. */
int ptrace_set_resume(struct ptrace_set *ps, pid_t tid);

/* The tids of the threads in the set (at most max); returns how many. */
size_t ptrace_set_threads(const struct ptrace_set *ps, pid_t *tids, size_t max);

/* The same, of process pid only. */
size_t ptrace_set_process_threads(const struct ptrace_set *ps, pid_t pid, pid_t *tids,
                                  size_t max);

/* Resume and detach every thread of every process. Idempotent; async-signal-safe (it only
 * makes system calls), so that the guard can call it from a handler. */
void ptrace_set_detach_all(struct ptrace_set *ps);

/* Detach all and free. */
void ptrace_set_free(struct ptrace_set *ps);

/* Make `ps` the set that is detached before we go, whatever the way:
 * atexit, and handlers for SIGINT, SIGTERM, SIGHUP (they detach, then
 * request a stop of the sampling loop) and for SIGSEGV, SIGBUS, SIGFPE,
 * SIGILL, SIGABRT (they detach, then die with the same signal). SIGPIPE
 * is ignored: a closed output is an error of the write. NULL unguards. */
void ptrace_set_guard(struct ptrace_set *ps);

#endif
