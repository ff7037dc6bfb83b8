#define _GNU_SOURCE
#include "native_run.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "privilege.h"
#include "target_python.h"

/* -C, a target that is not Python: once it has been waited for, how long
 * its Python descendants are still looked for (austin.c's too). */
#define NATIVE_CHILDREN_LAST_LOOK_US 100000

/* Launch or attach, then wait for the interpreter (a launched one is
 * given time to start whatever -t says). rt is filled on E_OK. */
static enum error_kind find_target(struct native_run *run, struct py_runtime *rt, char *why,
                                   size_t whylen) {
  const struct options *o = run->o;
  uint64_t wait_us = o->timeout_us;
  enum error_kind kind;
  if (o->where) {
    kind = target_attach(o->where, &run->t, why, whylen);
  } else if (o->command != NULL) {
    kind = target_launch(o->command, o->output == NULL, &run->t, why, whylen);
    if (wait_us < TARGET_LAUNCH_MIN_WAIT_US) wait_us = TARGET_LAUNCH_MIN_WAIT_US;
  } else {
    kind = target_attach(o->pid, &run->t, why, whylen);
  }
  /* With -C a target that is not Python (a shell, a launcher) is followed
   * to its Python descendants, looked for meanwhile (as austin.c). */
  proc_set_init_children(&run->procs, &run->t);
  bool started = kind == E_OK;
  if (started)
    kind = target_wait_python_or(&run->t, wait_us, rt, why, whylen,
                                 o->children ? proc_set_children_found : NULL, &run->procs);
  run->children_only = o->children && started &&
                       (kind == E_NOT_PYTHON || kind == E_LAUNCH || kind == E_ATTACH);
  if (run->children_only)
    kind = proc_set_wait_children(&run->procs, NATIVE_CHILDREN_LAST_LOOK_US, why, whylen);
  else
    proc_set_free(&run->procs);
  if (kind != E_OK) {
    proc_set_free(&run->procs);
    target_release(&run->t);
  }
  return kind;
}

/* What every walker reads, as the options ask. austinp tells idle
 * threads apart by the stop (the thread was in a system call), not by
 * the walker's reading of its scheduler state. */
static void walker_options(struct native_run *run) {
  struct proc_set *procs = &run->procs;
  struct py_walker *root = &procs->procs[0]->w;
  sample_policy_walker(run->o, root);
  run->want_idle = root->want_idle;
  root->want_idle = false;
  procs->want_idle = false;
  procs->want_gc = root->want_gc;
  if (!run->o->where) proc_set_heap(procs, run->o->heap_bytes); /* -h: 3.8-3.10 frames */
}

/* A session for procs->procs[i], added to the run. */
static enum error_kind open_session(struct native_run *run, size_t i, char *why,
                                    size_t whylen) {
  struct native_session *s = calloc(1, sizeof *s);
  if (s == NULL) {
    snprintf(why, whylen, "out of memory");
    return E_INTERNAL;
  }
  enum error_kind kind =
      native_session_open(s, run->procs.procs[i], run->ps, run->o, run->n ? run->s[0] : NULL,
                          why, whylen);
  if (kind != E_OK) {
    free(s);
    return kind;
  }
  run->s[run->n++] = s;
  return E_OK;
}

enum error_kind native_run_start(struct native_run *run, const struct options *o, char *why,
                                 size_t whylen) {
  memset(run, 0, sizeof *run);
  run->o = o;
  struct py_runtime rt;
  enum error_kind kind = find_target(run, &rt, why, whylen);
  if (kind != E_OK) return kind;
  /* The set takes the runtime over. */
  if (!run->children_only && proc_set_init(&run->procs, &run->t, &rt, o->children) != 0) {
    int err = errno;
    target_release(&run->t);
    /* A privileged run may be refused the target's memory (remote.h). */
    if (err == EPERM || err == EACCES || err == ESRCH) {
      snprintf(why, whylen, "cannot read the memory of process %d: %s", (int)run->t.pid,
               strerror(err));
      return err == ESRCH ? E_NO_PROCESS : E_PERMISSION;
    }
    snprintf(why, whylen, "cannot set up the native sampler");
    return E_INTERNAL;
  }
  walker_options(run);
  /* Only Python processes are traced: not a launcher above them. */
  run->ps = ptrace_set_new(run->procs.procs[0]->pid);
  if (run->ps == NULL) {
    native_run_end(run, false);
    snprintf(why, whylen, "cannot set up the native sampler");
    return E_INTERNAL;
  }
  /* Guarded before the first thread is seized. */
  ptrace_set_guard(run->ps);
  kind = open_session(run, 0, why, whylen);
  if (kind != E_OK) native_run_end(run, false);
  return kind;
}

/* The index of p in procs, or -1. */
static ssize_t proc_index(const struct proc_set *procs, const struct sampled_proc *p) {
  for (size_t i = 0; i < procs->n; i++)
    if (procs->procs[i] == p) return (ssize_t)i;
  return -1;
}

static bool has_session(const struct native_run *run, const struct sampled_proc *p) {
  for (size_t i = 0; i < run->n; i++)
    if (run->s[i]->p == p) return true;
  for (size_t i = 0; i < run->nuntraced; i++)
    if (run->untraced[i] == p) return true;
  return false;
}

/* Untraced processes that exited leave the proc_set. Sessions and the
 * untraced list change only with proc_set_lost, here and in
 * native_run_lost: a pointer in them always names a live member. */
static void drop_exited_untraced(struct native_run *run, uint64_t now_us) {
  for (size_t i = 0; i < run->nuntraced;) {
    struct sampled_proc *p = run->untraced[i];
    if (target_alive(&p->t)) {
      i++;
      continue;
    }
    run->untraced[i] = run->untraced[--run->nuntraced];
    ssize_t k = proc_index(&run->procs, p);
    if (k >= 0) proc_set_lost(&run->procs, (size_t)k, now_us);
  }
}

void native_run_refresh(struct native_run *run, uint64_t now_us) {
  if (!run->o->children) return;
  drop_exited_untraced(run, now_us);
  proc_set_refresh(&run->procs, now_us);
  for (size_t i = 0; i < run->procs.n; i++) {
    struct sampled_proc *p = run->procs.procs[i];
    if (has_session(run, p)) continue;
    char why[256];
    enum error_kind kind = open_session(run, i, why, sizeof why);
    if (kind == E_OK) continue;
    run->untraced[run->nuntraced++] = p;
    if (kind == E_PERMISSION)
      fprintf(stderr, "%s: warning: %s: its samples are left out\n", error_progname, why);
  }
}

void native_run_lost(struct native_run *run, size_t i, uint64_t now_us) {
  struct native_session *s = run->s[i];
  run->s[i] = run->s[--run->n];
  ssize_t k = proc_index(&run->procs, s->p);
  capture_stop_stats_add(&run->stop_stats, &s->cap.stop_stats);
  native_session_close(s);
  free(s);
  if (k >= 0) proc_set_lost(&run->procs, (size_t)k, now_us);
}

bool native_run_drop_refused(struct native_run *run, uint64_t now_us) {
  char why[256];
  for (size_t i = run->n; i-- > 0;) {
    const struct sampled_proc *p = run->s[i]->p;
    if (privilege_check(p->pid, 0, why, sizeof why) != E_PERMISSION) continue;
    if (!p->child) return true;
    fprintf(stderr, "%s: warning: process %d may no longer be traced by its user: its samples "
                    "are left out\n", error_progname, (int)p->pid);
    native_run_lost(run, i, now_us);
  }
  return false;
}

bool native_run_over(struct native_run *run, uint64_t now_us) {
  if (target_alive(&run->t)) return false;
  if (!run->o->children) return true;
  for (size_t i = 0; i < run->n; i++)
    if (!run->s[i]->p->child) {
      native_run_lost(run, i, now_us);
      break;
    }
  return run->n == 0;
}

void native_run_print_stop_stats(struct native_run *run, FILE *f) {
  struct capturer all = {.want_stop_stats = getenv("PYAUSTIN_STOP_STATS") != NULL};
  capture_stop_stats_add(&all.stop_stats, &run->stop_stats);
  for (size_t i = 0; i < run->n; i++)
    capture_stop_stats_add(&all.stop_stats, &run->s[i]->cap.stop_stats);
  capture_print_stop_stats(&all, f, error_progname);
  capturer_free(&all);
}

void native_run_detach(struct native_run *run) {
  if (run->ps == NULL) return;
  ptrace_set_detach_all(run->ps);
  ptrace_set_guard(NULL);
}

void native_run_end(struct native_run *run, bool target_exited) {
  native_run_detach(run);
  if (target_exited) target_wait(&run->t);
  else target_release(&run->t);
  for (size_t i = 0; i < run->n; i++) {
    native_session_close(run->s[i]);
    free(run->s[i]);
  }
  run->n = 0;
  run->nuntraced = 0;
  free(run->stop_stats.hist);
  run->stop_stats = (struct capture_stop_stats){0};
  ptrace_set_free(run->ps);
  run->ps = NULL;
  proc_set_free(&run->procs);
}
