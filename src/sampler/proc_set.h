/* The Python processes of a run: the target and, with -C, its
 * descendants, each with its own remote, walker and code cache.
 *
 * Descendants are found by scanning /proc (proc_tree.h) at most every
 * PROC_SET_SCAN_US; one that is not Python yet (a shell, a process
 * between fork and exec, an interpreter still starting) is tried again
 * with a growing back-off, and its own children are searched all along.
 * A child whose interpreter can no longer be read while it lives (it ran
 * exec) is discovered again; one that exited is dropped. */
#ifndef PROC_SET_H
#define PROC_SET_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "proc_tree.h"
#include "py_discover.h"
#include "py_walk.h"
#include "target.h"

/* At most this many processes sampled at once: each holds a walker and a
 * code cache (a few hundred KiB at most). Further Python descendants wait
 * until a sampled one exits. */
#define PROC_SET_MAX 64
/* How often /proc is scanned for new descendants. */
#define PROC_SET_SCAN_US 10000
/* Back-off of discovery attempts on a descendant that is not Python yet. */
#define PROC_SET_RETRY_MIN_US 1000
#define PROC_SET_RETRY_MAX_US 200000

struct sampled_proc {
  pid_t pid;
  bool child;              /* false for the target itself */
  struct target t;         /* liveness checks (the root's is the run's) */
  struct py_runtime rt;
  struct remote *r;
  struct py_walker w;
  bool rss_known;          /* -m/-f: last_rss holds a reading */
  int64_t last_rss;
  unsigned mem_starved;    /* -m/-f: rounds in a row whose delta none took */
  /* Thread ids seen to be tasks of this process (see proc_set_own_thread). */
  uint64_t own_tids[16];
  unsigned nown;
};

/* A descendant not sampled (yet). */
struct pending_proc {
  pid_t pid;
  uint64_t next_try_us;
  uint32_t backoff_us;
};

struct proc_set {
  struct target *root;     /* the run's target (launched or attached) */
  bool children;           /* -C */
  bool want_idle, want_gc, want_gil; /* given to every walker */
  struct sampled_proc *procs[PROC_SET_MAX];
  size_t n;
  struct proc_tree tree;
  struct pending_proc pending[PROC_TREE_MAX];
  size_t npending;
  uint64_t next_scan_us;
  size_t heap_bytes;       /* -h, given to every walker */
};

/* Start with the target, whose runtime rt is taken over (not to be
 * freed by the caller). 0 on success, -1 with errno when its memory
 * cannot be opened (remote.h: EPERM/ESRCH) or out of memory (rt is then
 * freed). */
int proc_set_init(struct proc_set *ps, struct target *root, struct py_runtime *rt,
                  bool children);
void proc_set_free(struct proc_set *ps);

/* -C on a target that is not Python (a shell, a launcher such as unshare
 * or tini, a container's shim): start with no process, the target's
 * descendants to be found. */
void proc_set_init_children(struct proc_set *ps, struct target *root);

/* Look for the first Python descendants of such a target, at most
 * timeout_us: E_OK when at least one is sampled, else E_NO_CHILDREN
 * (Austin 3.7's "Non-Python parent process has no Python children"),
 * also when the target ends first; why then names the target. */
enum error_kind proc_set_wait_children(struct proc_set *ps, uint64_t timeout_us, char *why,
                                       size_t whylen);

/* For target_wait_python_or: one look for Python descendants (ctx is the
 * proc_set); true when one is sampled. */
bool proc_set_children_found(void *ctx);

/* With -C: scan for new descendants when due and try to discover those
 * whose turn has come. */
void proc_set_refresh(struct proc_set *ps, uint64_t now_us);

/* The walk of procs[i] failed: a child that still lives is discovered
 * again later, one that exited is dropped; the target is dropped (its
 * exit is seen by the caller). procs[i] is then another process. */
void proc_set_lost(struct proc_set *ps, size_t i, uint64_t now_us);

/* Is tid a thread of p? A child between fork and exec is a copy of its
 * parent whose thread states name the parent's threads: those are not
 * its stacks. Answers are remembered for a few threads per process. */
bool proc_set_own_thread(struct sampled_proc *p, uint64_t tid);

/* -h for every walker, present and to come. */
void proc_set_heap(struct proc_set *ps, size_t bytes);

/* Is the target still among the sampled processes? */
bool proc_set_has_root(const struct proc_set *ps);

/* One attempt to read pid as a Python process, with a walker ready to
 * sample it (py_discover_known with the `known` runtimes). NULL when it
 * cannot be (yet); *kind says why. */
struct sampled_proc *sampled_proc_open(pid_t pid, bool child,
                                       const struct py_runtime *const *known,
                                       size_t nknown, enum error_kind *kind);
void sampled_proc_close(struct sampled_proc *p);

#endif
