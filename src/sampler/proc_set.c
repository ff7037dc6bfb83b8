#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "privilege.h"
#include "proc_set.h"
#include "proc_stat.h"

static void close_walker(struct sampled_proc *p) {
  py_walker_free(&p->w);
  remote_close(p->r);
  p->r = NULL;
  py_runtime_free(&p->rt);
}

void sampled_proc_close(struct sampled_proc *p) {
  if (p == NULL) return;
  close_walker(p);
  free(p);
}

/* A walker on p's runtime; 0 on success, -1 with errno (remote.h). */
static int open_walker(struct sampled_proc *p) {
  p->r = remote_open_pid(p->pid);
  if (p->r == NULL) return -1;
  errno = ENOMEM;
  if (py_walker_init(&p->w, p->r, &p->rt) != 0) {
    py_walker_free(&p->w);
    remote_close(p->r);
    p->r = NULL;
    return -1;
  }
  return 0;
}

struct sampled_proc *sampled_proc_open(pid_t pid, bool child,
                                       const struct py_runtime *const *known,
                                       size_t nknown, enum error_kind *kind) {
  char why[256] = "";
  struct sampled_proc *p = calloc(1, sizeof *p);
  if (p == NULL) {
    *kind = E_INTERNAL;
    return NULL;
  }
  p->pid = pid;
  p->child = child;
  /* A privileged run reads only what its user could (privilege.h); a
   * child may have run a setuid program. */
  *kind = privilege_check(pid, 0, why, sizeof why);
  if (*kind == E_OK) *kind = py_discover_known(pid, known, nknown, &p->rt, why, sizeof why);
  if (*kind != E_OK) {
    free(p);
    return NULL;
  }
  if (open_walker(p) != 0) {
    int err = errno;
    py_runtime_free(&p->rt);
    free(p);
    *kind = err == EPERM ? E_PERMISSION : err == ESRCH ? E_NO_PROCESS : E_INTERNAL;
    return NULL;
  }
  /* A runtime with no thread yet is still starting: not ours to read. */
  if (!py_walker_ready(&p->w)) {
    *kind = errno == EPERM || errno == EACCES ? E_PERMISSION : E_NOT_PYTHON;
    sampled_proc_close(p);
    return NULL;
  }
  target_attach(pid, &p->t, why, sizeof why);
  return p;
}

int proc_set_init(struct proc_set *ps, struct target *root, struct py_runtime *rt,
                  bool children) {
  memset(ps, 0, sizeof *ps);
  ps->root = root;
  ps->children = children;
  proc_tree_init(&ps->tree, root->pid);
  struct sampled_proc *p = calloc(1, sizeof *p);
  if (p == NULL) {
    py_runtime_free(rt);
    return -1;
  }
  p->pid = root->pid;
  p->rt = *rt;
  if (open_walker(p) != 0) {
    int err = errno; /* for the caller's message (remote.h) */
    py_runtime_free(&p->rt);
    free(p);
    errno = err;
    return -1;
  }
  ps->procs[ps->n++] = p;
  return 0;
}

void proc_set_init_children(struct proc_set *ps, struct target *root) {
  memset(ps, 0, sizeof *ps);
  ps->root = root;
  ps->children = true;
  proc_tree_init(&ps->tree, root->pid);
}

enum error_kind proc_set_wait_children(struct proc_set *ps, uint64_t timeout_us, char *why,
                                       size_t whylen) {
  uint64_t deadline = clock_us() + timeout_us;
  for (;;) {
    uint64_t now = clock_us();
    proc_set_refresh(ps, now);
    if (ps->n > 0) return E_OK;
    /* Gone, and its descendants with it (they are no longer its). */
    if (now >= deadline || !target_alive(ps->root)) break;
    clock_sleep_until(now + 2000);
  }
  snprintf(why, whylen, "process %d", (int)ps->root->pid);
  return E_NO_CHILDREN;
}

bool proc_set_children_found(void *ctx) {
  struct proc_set *ps = ctx;
  proc_set_refresh(ps, clock_us());
  return ps->n > 0;
}

void proc_set_free(struct proc_set *ps) {
  for (size_t i = 0; i < ps->n; i++) sampled_proc_close(ps->procs[i]);
  ps->n = 0;
  ps->npending = 0;
  proc_tree_free(&ps->tree);
}

bool proc_set_has_root(const struct proc_set *ps) {
  for (size_t i = 0; i < ps->n; i++)
    if (!ps->procs[i]->child) return true;
  return false;
}

static void add_pending(struct proc_set *ps, pid_t pid, uint64_t now_us) {
  if (ps->npending == PROC_TREE_MAX) return;
  ps->pending[ps->npending++] =
      (struct pending_proc){pid, now_us, PROC_SET_RETRY_MIN_US};
}

static void remove_pending(struct proc_set *ps, size_t i) {
  ps->pending[i] = ps->pending[--ps->npending];
}

struct scan_ctx {
  struct proc_set *ps;
  uint64_t now_us;
};

static void on_new_member(pid_t pid, pid_t ppid, void *ctx) {
  (void)ppid;
  struct scan_ctx *c = ctx;
  add_pending(c->ps, pid, c->now_us);
}

static void on_gone_member(pid_t pid, pid_t ppid, void *ctx) {
  (void)ppid;
  struct proc_set *ps = ((struct scan_ctx *)ctx)->ps;
  for (size_t i = 0; i < ps->npending; i++)
    if (ps->pending[i].pid == pid) {
      remove_pending(ps, i);
      return;
    }
}

/* One discovery attempt on pending[i]; removes it when it is sampled now
 * or gone. */
static void try_pending(struct proc_set *ps, size_t i, uint64_t now_us) {
  struct pending_proc *pp = &ps->pending[i];
  enum error_kind kind;
  /* Forked children map their parent's interpreter where it does: its
   * runtime is theirs, with no file to read. */
  const struct py_runtime *known[PROC_SET_MAX];
  for (size_t k = 0; k < ps->n; k++) known[k] = &ps->procs[k]->rt;
  struct sampled_proc *p = sampled_proc_open(pp->pid, true, known, ps->n, &kind);
  if (p != NULL) {
    p->w.want_idle = ps->want_idle;
    p->w.want_gc = ps->want_gc;
    p->w.want_gil = ps->want_gil;
    py_walker_set_heap(&p->w, ps->heap_bytes);
    ps->procs[ps->n++] = p;
    log_msg(LOG_INFO, "child process %d (Python %s) sampled", (int)p->pid, p->rt.version);
    remove_pending(ps, i);
    return;
  }
  if (kind == E_NO_PROCESS) {
    remove_pending(ps, i);
    return;
  }
  /* A privileged run never samples a child that its user may not read (it
   * ran a setuid program), but looks again as for any other child: one
   * that drops its privilege and runs exec may be read then. Said once. */
  if (kind == E_PERMISSION && privilege_active() && pp->backoff_us == PROC_SET_RETRY_MIN_US)
    log_msg(LOG_INFO, "child process %d not sampled: its user may not read it", (int)pp->pid);
  /* Not Python (yet), or unreadable: look again later, less and less
   * often; its children are searched meanwhile. */
  pp->next_try_us = now_us + pp->backoff_us;
  pp->backoff_us *= 2;
  if (pp->backoff_us > PROC_SET_RETRY_MAX_US) pp->backoff_us = PROC_SET_RETRY_MAX_US;
}

void proc_set_refresh(struct proc_set *ps, uint64_t now_us) {
  if (!ps->children) return;
  struct scan_ctx c = {ps, now_us};
  if (now_us >= ps->next_scan_us) {
    proc_tree_scan(&ps->tree, on_new_member, on_gone_member, &c);
    ps->next_scan_us = now_us + PROC_SET_SCAN_US;
  }
  for (size_t i = 0; i < ps->npending && ps->n < PROC_SET_MAX;) {
    size_t before = ps->npending;
    if (ps->pending[i].next_try_us <= now_us) try_pending(ps, i, now_us);
    /* try_pending may have moved the last entry into slot i. */
    if (ps->npending == before) i++;
  }
}

void proc_set_lost(struct proc_set *ps, size_t i, uint64_t now_us) {
  struct sampled_proc *p = ps->procs[i];
  ps->procs[i] = ps->procs[--ps->n];
  if (p->child && target_alive(&p->t) && proc_tree_has(&ps->tree, p->pid)) {
    /* Still there but no longer readable as before: it ran exec. */
    add_pending(ps, p->pid, now_us);
  } else if (p->child) {
    log_msg(LOG_INFO, "child process %d exited", (int)p->pid);
  }
  sampled_proc_close(p);
}

void proc_set_heap(struct proc_set *ps, size_t bytes) {
  ps->heap_bytes = bytes;
  for (size_t i = 0; i < ps->n; i++) py_walker_set_heap(&ps->procs[i]->w, bytes);
}

bool proc_set_own_thread(struct sampled_proc *p, uint64_t tid) {
  for (unsigned i = 0; i < p->nown; i++)
    if (p->own_tids[i] == tid) return true;
  char path[PROC_PATH_MAX];
  proc_task_path(path, p->pid, (pid_t)tid, NULL);
  if (tid == 0 || tid > INT32_MAX || access(path, F_OK) != 0) return false;
  /* Remember it; when full, the oldest answer goes. */
  if (p->nown == sizeof p->own_tids / sizeof *p->own_tids) {
    memmove(p->own_tids, p->own_tids + 1, (p->nown - 1) * sizeof *p->own_tids);
    p->nown--;
  }
  p->own_tids[p->nown++] = tid;
  return true;
}
