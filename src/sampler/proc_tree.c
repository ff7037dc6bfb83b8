#define _GNU_SOURCE
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "proc_stat.h"
#include "proc_tree.h"

/* Passes over the new pids of one scan: a new process whose parent is new
 * too is found on a later pass when /proc lists it first (pids wrap). */
#define SCAN_PASSES 8

void proc_tree_init(struct proc_tree *t, pid_t root) {
  memset(t, 0, sizeof *t);
  t->root = root;
  t->members[0] = root;
  t->n = 1;
}

void proc_tree_free(struct proc_tree *t) {
  free(t->seen);
  t->seen = NULL;
  t->nseen = t->seen_cap = 0;
}

bool proc_tree_has(const struct proc_tree *t, pid_t pid) {
  for (size_t i = 0; i < t->n; i++)
    if (t->members[i] == pid) return true;
  return false;
}

static int cmp_pid(const void *a, const void *b) {
  pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
  return (x > y) - (x < y);
}

static bool sorted_has(const pid_t *v, size_t n, pid_t pid) {
  return n > 0 && bsearch(&pid, v, n, sizeof *v, cmp_pid) != NULL;
}

/* The pids listed in /proc (processes only: threads are not listed),
 * sorted, into a growing array. -1 when /proc cannot be read. */
static ssize_t list_pids(pid_t **buf, size_t *cap) {
  DIR *d = opendir("/proc");
  if (d == NULL) return -1;
  size_t n = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    char *end;
    long v = strtol(de->d_name, &end, 10);
    if (*end != '\0' || v <= 0) continue;
    if (n == *cap) {
      size_t ncap = *cap ? *cap * 2 : 256;
      pid_t *nb = realloc(*buf, ncap * sizeof *nb);
      if (nb == NULL) break;
      *buf = nb;
      *cap = ncap;
    }
    (*buf)[n++] = (pid_t)v;
  }
  closedir(d);
  qsort(*buf, n, sizeof **buf, cmp_pid);
  return (ssize_t)n;
}

/* Drop the members that are no longer listed; the root stays (its exit
 * is the target's business). */
static void drop_gone(struct proc_tree *t, const pid_t *now, size_t nnow,
                      proc_tree_cb on_gone, void *ctx) {
  for (size_t i = 1; i < t->n;) {
    if (sorted_has(now, nnow, t->members[i])) {
      i++;
      continue;
    }
    pid_t gone = t->members[i];
    t->members[i] = t->members[--t->n];
    if (on_gone != NULL) on_gone(gone, 0, ctx);
  }
}

int proc_tree_scan(struct proc_tree *t, proc_tree_cb on_new, proc_tree_cb on_gone,
                   void *ctx) {
  pid_t *now = NULL;
  size_t cap = 0;
  ssize_t nnow = list_pids(&now, &cap);
  if (nnow < 0) return -1;
  drop_gone(t, now, (size_t)nnow, on_gone, ctx);

  /* The pids new since the last scan, with their parents. */
  size_t nnew = 0, room = nnow > 0 ? (size_t)nnow : 1;
  pid_t *fresh = malloc(room * sizeof *fresh), *ppids = malloc(room * sizeof *ppids);
  if (fresh == NULL || ppids == NULL) {
    free(now);
    free(fresh);
    free(ppids);
    return -1;
  }
  for (ssize_t i = 0; i < nnow; i++) {
    char state;
    pid_t ppid;
    if (sorted_has(t->seen, t->nseen, now[i]) || proc_tree_has(t, now[i])) continue;
    if (proc_stat_state(now[i], 0, &state, &ppid) != 0) continue;
    fresh[nnew] = now[i];
    ppids[nnew++] = ppid;
  }

  int added = 0;
  for (int pass = 0; pass < SCAN_PASSES; pass++) {
    int before = added;
    for (size_t i = 0; i < nnew && t->n < PROC_TREE_MAX; i++) {
      if (fresh[i] == 0 || !proc_tree_has(t, ppids[i])) continue;
      t->members[t->n++] = fresh[i];
      if (on_new != NULL) on_new(fresh[i], ppids[i], ctx);
      fresh[i] = 0;
      added++;
    }
    if (added == before) break;
  }

  free(t->seen);
  t->seen = now;
  t->nseen = (size_t)nnow;
  t->seen_cap = cap;
  free(fresh);
  free(ppids);
  return added;
}
