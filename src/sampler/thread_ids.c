#include <dirent.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "proc_stat.h"
#include "thread_ids.h"

/* No Linux thread id exceeds PID_MAX_LIMIT (2^22 on 64-bit machines). */
#define TID_MAX (1 << 22)

/* A process's tid map is read again at most this often (a thread not
 * found may be one that just started). */
#define RESCAN_US 10000

void thread_ids_init(struct thread_ids *t, pid_t pid) {
  memset(t, 0, sizeof *t);
  t->pid = pid;
  t->tid_offset = -1;
  t->nested = -1;
}

/* The ids of the "NSpid:" line of /proc/PID[/task/TID]/status: ours
 * first, the innermost namespace's last. How many (0 if unreadable). */
static int nspids(pid_t pid, pid_t tid, int32_t *first, int32_t *last) {
  char path[96], buf[4096];
  if (tid > 0) snprintf(path, sizeof path, "/proc/%d/task/%d/status", (int)pid, (int)tid);
  else snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  char *line = strstr(buf, "\nNSpid:");
  if (line == NULL) return 0;
  int count = 0;
  char *p = line + 8, *end;
  for (;;) {
    long v = strtol(p, &end, 10);
    if (end == p || v <= 0 || v > INT32_MAX) break;
    if (count++ == 0) *first = (int32_t)v;
    *last = (int32_t)v;
    p = end;
  }
  return count;
}

static bool is_nested(struct thread_ids *t) {
  if (t->nested < 0) {
    int32_t first = 0, last = 0;
    /* Unreadable (gone): taken as ours, not asked at every sample. */
    t->nested = nspids(t->pid, 0, &first, &last) > 1;
  }
  return t->nested == 1;
}

/* Read the map of the target's threads again (bounded by its size). */
static void rescan(struct thread_ids *t) {
  uint64_t now = clock_us();
  if (t->scanned_us != 0 && now - t->scanned_us < RESCAN_US) return;
  t->scanned_us = now;
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/task", (int)t->pid);
  DIR *d = opendir(path);
  if (d == NULL) return;
  t->nmap = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL && t->nmap < THREAD_IDS_MAP) {
    long host = strtol(de->d_name, NULL, 10);
    int32_t first = 0, last = 0;
    if (host <= 0 || nspids(t->pid, (pid_t)host, &first, &last) < 2) continue;
    t->map[t->nmap].ns = last;
    t->map[t->nmap++].host = first;
  }
  closedir(d);
}

static int32_t lookup(const struct thread_ids *t, int32_t ns) {
  for (unsigned i = 0; i < t->nmap; i++)
    if (t->map[i].ns == ns) return t->map[i].host;
  return 0;
}

uint64_t thread_ids_host(struct thread_ids *t, uint64_t tid) {
  if (tid == 0 || tid > TID_MAX || !is_nested(t)) return tid;
  int32_t host = lookup(t, (int32_t)tid);
  if (host == 0) {
    rescan(t);
    host = lookup(t, (int32_t)tid);
  }
  return (uint64_t)host;
}

static bool is_task(struct thread_ids *t, int32_t tid) {
  if (tid <= 0) return false;
  if (is_nested(t)) return thread_ids_host(t, (uint64_t)tid) != 0;
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/task/%d", (int)t->pid, (int)tid);
  return access(path, F_OK) == 0;
}

/* Another namespace: narrow the candidate slots with this thread's
 * descriptor. Its tid when every slot left agrees on it (the offset
 * itself once one slot is left), else 0. */
static uint64_t search_nested(struct thread_ids *t, const int32_t *words, uint64_t pthread) {
  if (!t->searching) {
    memset(t->candidate, 1, sizeof t->candidate);
    t->searching = true;
  }
  int32_t value = 0;
  bool agree = true;
  int left = 0, last = -1;
  for (int i = 0; i < THREAD_IDS_SLOTS; i++) {
    if (!t->candidate[i]) continue;
    int32_t v = words[i];
    /* The tid differs from thread to thread; a flag does not. */
    if (v <= 0 || v > TID_MAX || !is_task(t, v) ||
        (t->seen_in[i] != 0 && t->seen_in[i] != pthread && t->seen[i] == v)) {
      t->candidate[i] = 0;
      continue;
    }
    t->seen[i] = v;
    t->seen_in[i] = pthread;
    agree &= left == 0 || v == value;
    value = v;
    last = i;
    left++;
  }
  if (left == 0) {
    t->searching = false; /* nothing matched: start again with the next */
    return 0;
  }
  if (left == 1) t->tid_offset = last * 4;
  return agree ? (uint64_t)value : 0;
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
  int32_t words[THREAD_IDS_SLOTS];
  if (remote_read(r, pthread, words, sizeof words) != 0) return 0;
  if (is_nested(t)) return search_nested(t, words, pthread);
  for (size_t i = 0; i < sizeof words / sizeof *words; i++) {
    /* tids are below pid_max (at most 2^22); pointers' halves are not. */
    if (words[i] <= 0 || words[i] > TID_MAX) continue;
    if (is_task(t, words[i])) {
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
