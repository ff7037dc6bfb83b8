#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc_stat.h"
#include "thread_ids.h"

#define PTHREAD_SCAN_BYTES 2048
/* No Linux thread id exceeds PID_MAX_LIMIT (2^22 on 64-bit machines). */
#define TID_MAX (1 << 22)

void thread_ids_init(struct thread_ids *t, pid_t pid) {
  t->pid = pid;
  t->tid_offset = -1;
}

static bool is_task(pid_t pid, int32_t tid) {
  if (tid <= 0) return false;
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/task/%d", (int)pid, (int)tid);
  return access(path, F_OK) == 0;
}

uint64_t thread_ids_from_pthread(struct thread_ids *t, struct remote *r,
                                 uint64_t pthread) {
  int32_t tid;
  if (t->tid_offset >= 0) {
    /* The descriptor of a thread that is ending (or a state not yet
     * claimed) can hold anything: an id no thread can have is none. */
    if (remote_read(r, pthread + t->tid_offset, &tid, sizeof tid) == 0 && tid > 0 &&
        tid <= TID_MAX)
      return (uint64_t)tid;
    return 0;
  }

  /* Find the offset: the first 4-byte slot that holds a live tid. */
  int32_t words[PTHREAD_SCAN_BYTES / 4];
  if (remote_read(r, pthread, words, sizeof words) != 0) return 0;
  for (size_t i = 0; i < sizeof words / sizeof *words; i++) {
    /* tids are below pid_max (at most 2^22); pointers' halves are not. */
    if (words[i] <= 0 || words[i] > TID_MAX) continue;
    if (is_task(t->pid, words[i])) {
      t->tid_offset = (int)(i * 4);
      return (uint64_t)words[i];
    }
  }
  return 0;
}

bool thread_is_idle(pid_t pid, uint64_t tid) {
  char state;
  return proc_stat_state(pid, (pid_t)tid, &state, NULL) != 0 || state != 'R';
}
