#define _GNU_SOURCE
#include "native_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target_python.h"

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
  if (kind == E_OK) kind = target_wait_python(&run->t, wait_us, rt, why, whylen);
  if (kind != E_OK) target_release(&run->t);
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
      native_session_open(s, run->procs.procs[i], run->ps, run->o, why, whylen);
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
  if (proc_set_init(&run->procs, &run->t, &rt, o->children) != 0) {
    target_release(&run->t);
    snprintf(why, whylen, "cannot set up the native sampler");
    return E_INTERNAL;
  }
  walker_options(run);
  run->ps = ptrace_set_new(run->t.pid);
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
  ptrace_set_free(run->ps);
  run->ps = NULL;
  proc_set_free(&run->procs);
}
