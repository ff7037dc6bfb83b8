/* Linux thread ids and thread states of the target.
 *
 * From 3.11 the thread state carries the native thread id. Before, only the
 * pthread_t is there: on glibc it is the address of the thread's struct
 * pthread, which holds the tid at an offset that we find once by looking
 * for a value that is one of the target's live tids. */
#ifndef THREAD_IDS_H
#define THREAD_IDS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "remote.h"

struct thread_ids {
  pid_t pid;
  int tid_offset; /* in struct pthread; -1 while unknown */
};

void thread_ids_init(struct thread_ids *t, pid_t pid);

/* Linux tid of the thread whose pthread_t is `pthread`; 0 if unknown. */
uint64_t thread_ids_from_pthread(struct thread_ids *t, struct remote *r,
                                 uint64_t pthread);

/* Scheduler state of a thread from /proc/PID/task/TID/stat: true when it
 * is not running ('R'). A thread that cannot be read counts as idle. */
bool thread_is_idle(pid_t pid, uint64_t tid);

#endif
