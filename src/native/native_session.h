/* One process sampled natively: what austinp's sampler and its where mode
 * keep of it, set up and torn down in one place.
 *
 * Its Python side (runtime, remote memory, walker) is a sampled_proc of
 * the run's proc_set (native_run.h); its threads are in the run's
 * ptrace set. The session adds what native sampling needs of the
 * process: the unwinder (its mappings and their unwind and symbol
 * tables), the capturer (stops, snapshots, kernel stacks with -k) and
 * the memory rule of -m/-f. */
#ifndef NATIVE_SESSION_H
#define NATIVE_SESSION_H

#include <stdbool.h>
#include <stddef.h>

#include "capture.h"
#include "cli.h"
#include "errors.h"
#include "proc_set.h"
#include "ptrace_set.h"
#include "sampler_loop.h"
#include "unwind.h"

struct native_session {
  struct sampled_proc *p;      /* not owned: a member of the run's proc_set */
  struct unwinder *u;
  struct capturer cap;         /* its kstack reader with -k */
  struct sample_policy policy; /* -m, -f: the memory delta of this process */
};

/* Seize the threads of p in ps and set up the rest; with `like` (a
 * session of another process of the run, or NULL), share its mapped
 * files' tables. E_OK; else the kind (E_PERMISSION or E_NO_PROCESS when
 * the threads cannot be seized, E_INTERNAL) with a one-line reason in
 * why, and nothing is left set up or traced. */
enum error_kind native_session_open(struct native_session *s, struct sampled_proc *p,
                                    struct ptrace_set *ps, const struct options *o,
                                    const struct native_session *like, char *why,
                                    size_t whylen);

/* Resume and detach the process's threads, then free what the session
 * holds (not p). Safe on a session that failed to open. */
void native_session_close(struct native_session *s);

#endif
