/* The processes of one austinp run, sampler or where mode: the target
 * (launched or attached), its Python side (a proc_set), the ptrace set
 * that holds their threads, and one native session per process.
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
  struct native_session *s[PROC_SET_MAX];
  size_t n;
  bool want_idle;           /* -s, -m, -f: tell idle threads apart (from the stop) */
};

/* Start the run of o: launch o->command, or attach to o->pid or o->where.
 * E_OK; else the error kind with a one-line reason in why, and nothing
 * is left running (a launched command is terminated), traced or held. */
enum error_kind native_run_start(struct native_run *run, const struct options *o, char *why,
                                 size_t whylen);

/* Resume and detach every thread of every process and drop the guard.
 * Idempotent. */
void native_run_detach(struct native_run *run);

/* Free everything (detaching first if not done). A launched target is
 * waited for when it exited (target_exited), else terminated. Whatever
 * serves the ptrace set (traced_output) must be closed before. */
void native_run_end(struct native_run *run, bool target_exited);

#endif
