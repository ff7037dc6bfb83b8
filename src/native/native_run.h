/* The processes of one austinp run, sampler or where mode: the target
 * (launched or attached) and, with -C, its Python descendants; their
 * Python side (a proc_set, which finds the descendants as they start),
 * the one ptrace set that holds the threads of all of them, and one
 * native session per process.
 *
 * Set-up goes: launch or attach, wait for Python, create the ptrace set
 * and guard it (from then on, whatever ends us detaches every thread),
 * open the target's session (which seizes its threads). Tear-down goes
 * the other way, the target first: native_run_detach resumes and
 * detaches every thread before anything else is done, native_run_end
 * frees the rest. */
#ifndef NATIVE_RUN_H
#define NATIVE_RUN_H

#include <stdbool.h>
#include <stddef.h>

#include "cli.h"
#include "errors.h"
#include "native_session.h"
#include "proc_set.h"
#include "ptrace_set.h"
#include "target.h"

struct native_run {
  const struct options *o;
  struct target t;
  struct proc_set procs;    /* the Python side of each process */
  struct ptrace_set *ps;    /* every traced thread; guarded */
  struct native_session *s[PROC_SET_MAX]; /* in no particular order */
  size_t n;
  /* Processes of procs that may not be traced (a child traced by
   * another tracer): not sampled, dropped when they exit. */
  struct sampled_proc *untraced[PROC_SET_MAX];
  size_t nuntraced;
  bool want_idle;           /* -s, -m, -f: tell idle threads apart (from the stop) */
  bool children_only;       /* -C: the target is not Python, only its descendants are */
  struct capture_stop_stats stop_stats; /* of the sessions closed (PYAUSTIN_STOP_STATS) */
};

/* Start the run of o: launch o->command, or attach to o->pid or o->where.
 * E_OK; else the error kind with a one-line reason in why, and nothing
 * is left running (a launched command is terminated), traced or held. */
enum error_kind native_run_start(struct native_run *run, const struct options *o, char *why,
                                 size_t whylen);

/* With -C: look for new descendants (proc_set_refresh) and trace each
 * new Python one in a session of its own; drop the untraced ones that
 * exited. */
void native_run_refresh(struct native_run *run, uint64_t now_us);

/* Session i ended (its process exited, or ran exec and is to be found
 * again): detach and close it, and tell the proc_set (proc_set_lost).
 * run->s[i] is then another session. */
void native_run_lost(struct native_run *run, size_t i, uint64_t now_us);

/* A privileged run whose sync was refused: the processes that their user
 * may no longer trace (they ran a setuid program) are found; children
 * among them are dropped (with a warning). True when the target is one. */
bool native_run_drop_refused(struct native_run *run, uint64_t now_us);

/* Is the run over? Without -C when the target has exited; with -C, once
 * the target has exited (its session is dropped then) and no descendant
 * is sampled any more. */
bool native_run_over(struct native_run *run, uint64_t now_us);

/* With PYAUSTIN_STOP_STATS (bench/native-sampling): one line on f, how
 * long the threads of every process, present or gone, stayed stopped. */
void native_run_print_stop_stats(struct native_run *run, FILE *f);

/* Resume and detach every thread of every process and drop the guard.
 * Idempotent. */
void native_run_detach(struct native_run *run);

/* Free everything (detaching first if not done). A launched target is
 * waited for when it exited (target_exited), else terminated. Whatever
 * serves the ptrace set (traced_output) must be closed before. */
void native_run_end(struct native_run *run, bool target_exited);

#endif
