/* The descendants of a process, found by scanning /proc (-C).
 *
 * /proc/PID/task/TID/children needs a kernel option that is often off, so
 * the tree is followed through each process's parent id instead. A scan
 * reads the stat file of only the pids that were not in the previous
 * listing: a process that was not a descendant then cannot become one
 * (re-parenting moves processes out of a tree, never in), so the cost of
 * a scan is one directory listing plus one small read per new process.
 *
 * Members stay members until they exit, even when their parent dies and
 * they are re-parented elsewhere: a grandchild of a finished `sh -c` is
 * still ours. */
#ifndef PROC_TREE_H
#define PROC_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* At most this many processes in a tree (sampled or not); further
 * descendants are ignored until members exit. */
#define PROC_TREE_MAX 1024

struct proc_tree {
  pid_t root;
  pid_t members[PROC_TREE_MAX]; /* members[0] is the root */
  size_t n;
  pid_t *seen;                  /* the previous listing of /proc, sorted */
  size_t nseen, seen_cap;
};

void proc_tree_init(struct proc_tree *t, pid_t root);
void proc_tree_free(struct proc_tree *t);

/* Called for each new member, with its parent. */
typedef void (*proc_tree_cb)(pid_t pid, pid_t ppid, void *ctx);

/* List /proc and add the new descendants (on_new for each); members that
 * are no longer listed are removed (on_gone for each). Returns the number
 * of new members, or -1 when /proc cannot be listed. */
int proc_tree_scan(struct proc_tree *t, proc_tree_cb on_new, proc_tree_cb on_gone,
                   void *ctx);

bool proc_tree_has(const struct proc_tree *t, pid_t pid);

#endif
