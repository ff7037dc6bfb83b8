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

/* Threads of a process in another PID namespace (a container, unshare -p)
 * whose ids are remembered: the target sees its own numbers, /proc ours. */
#define THREAD_IDS_MAP 64
/* The 4-byte slots of struct pthread looked at for the tid. */
#define THREAD_IDS_SLOTS 512

struct thread_ids {
  pid_t pid;
  int tid_offset; /* in struct pthread; -1 while unknown */
  int nested;     /* -1 unknown, 0 our PID namespace, 1 another one */
  struct { int32_t ns, host; } map[THREAD_IDS_MAP];
  unsigned nmap;
  uint64_t scanned_us;
  /* Another namespace, before 3.11: its tids are small numbers that other
   * fields of struct pthread hold too. A slot stays a candidate while it
   * holds a live tid, a different one in each thread. */
  bool searching;
  uint8_t candidate[THREAD_IDS_SLOTS];
  int32_t seen[THREAD_IDS_SLOTS];
  uint64_t seen_in[THREAD_IDS_SLOTS];
};

void thread_ids_init(struct thread_ids *t, pid_t pid);

/* The tid the target knows its thread by (its own namespace's) for the
 * thread whose pthread_t is `pthread`; 0 if unknown. */
uint64_t thread_ids_from_pthread(struct thread_ids *t, struct remote *r,
                                 uint64_t pthread);

/* Our tid (as /proc and ptrace know it) of the thread the target knows as
 * `tid`: the same in our namespace; 0 when no thread has it. */
uint64_t thread_ids_host(struct thread_ids *t, uint64_t tid);

/* Scheduler state of a thread from /proc/PID/task/TID/stat: true when it
 * is not running ('R'). A thread that cannot be read counts as idle. */
bool thread_is_idle(pid_t pid, uint64_t tid);

#endif
