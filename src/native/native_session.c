#define _GNU_SOURCE
#include "native_session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weave.h"

/* Seize every thread of the process: refused (EPERM, EACCES) or gone. */
static enum error_kind seize(struct native_session *s, char *why, size_t whylen) {
  if (ptrace_set_add(s->cap.ps, s->cap.pid) >= 0) return E_OK;
  int err = errno;
  snprintf(why, whylen, "cannot trace process %d: %s", (int)s->cap.pid, strerror(err));
  if (err == EPERM || err == EACCES) return E_PERMISSION;
  return err == ESRCH ? E_NO_PROCESS : E_INTERNAL;
}

enum error_kind native_session_open(struct native_session *s, struct sampled_proc *p,
                                    struct ptrace_set *ps, const struct options *o,
                                    const struct native_session *like, char *why,
                                    size_t whylen) {
  memset(s, 0, sizeof *s);
  s->p = p;
  s->cap = (struct capturer){.pid = p->pid, .ps = ps, .r = p->r, .w = &p->w};
  /* First what fails soonest and cheapest: a child we may not trace. */
  enum error_kind kind = seize(s, why, whylen);
  if (kind != E_OK) {
    s->cap.ps = NULL; /* nothing of it in the set */
    return kind;
  }
  s->u = unwinder_new_sharing(p->pid, like != NULL ? like->u : NULL);
  if (s->u == NULL) {
    native_session_close(s);
    snprintf(why, whylen, "cannot set up the native sampler of process %d", (int)p->pid);
    return E_INTERNAL;
  }
  /* The evaluation loop's functions are told apart once per symbol table. */
  unwinder_set_classifier(s->u, weave_is_eval_symbol);
  /* -k: without the privilege the first read warns and turns it off. */
  if (o->kernel && (s->cap.kr = kstack_reader_new(p->pid)) == NULL) {
    native_session_close(s);
    snprintf(why, whylen, "cannot set up the kernel stack reader");
    return E_INTERNAL;
  }
  /* For bench/native-sampling: how long each thread stays stopped. */
  s->cap.want_stop_stats = getenv("PYAUSTIN_STOP_STATS") != NULL;
  sample_policy_init(&s->policy, o, p->pid);
  return E_OK;
}

void native_session_close(struct native_session *s) {
  /* The process first. */
  ptrace_set_remove(s->cap.ps, s->cap.pid);
  unwinder_free(s->u);
  s->u = NULL;
  kstack_reader_free(s->cap.kr);
  s->cap.kr = NULL;
  capturer_free(&s->cap);
  memset(&s->cap, 0, sizeof s->cap);
}
