#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "privilege.h"
#include "py_walk.h"
#include "target_python.h"

static enum error_kind wait_python(struct target *t, uint64_t timeout_us,
                                   struct py_runtime *rt, char *why, size_t whylen,
                                   bool (*give_up)(void *), void *ctx) {
  uint64_t deadline = clock_us() + timeout_us;
  bool discovered = false;
  unsigned not_ready = 0;
  for (;;) {
    if (!discovered) {
      /* A privileged run reads only what its user could (privilege.h). */
      enum error_kind kind = privilege_check(t->pid, 0, why, whylen);
      if (kind == E_OK) kind = py_discover(t->pid, rt, why, whylen);
      if (kind == E_OK) discovered = true;
      else if (kind != E_NOT_PYTHON && !(kind == E_NO_PROCESS && t->launched))
        return kind;
    }
    if (discovered) {
      struct remote *r = remote_open_pid(t->pid);
      if (r == NULL) {
        int err = errno;
        py_runtime_free(rt);
        if (err != EPERM && err != ESRCH) return E_INTERNAL;
        /* Privileged: refused by the policy (which says why) or the kernel. */
        if (privilege_check(t->pid, 0, why, whylen) == E_OK)
          snprintf(why, whylen, "cannot read the memory of process %d: %s", (int)t->pid,
                   strerror(err));
        return err == ESRCH ? E_NO_PROCESS : E_PERMISSION;
      }
      struct py_walker w;
      if (py_walker_init(&w, r, rt) != 0) {
        py_walker_free(&w);
        remote_close(r);
        return E_INTERNAL;
      }
      bool ready = py_walker_ready(&w);
      int err = errno;
      py_walker_free(&w);
      remote_close(r);
      if (ready) return E_OK;
      if (err == EPERM || err == EACCES) {
        snprintf(why, whylen, "cannot read the memory of process %d: %s",
                 (int)t->pid, strerror(err));
        py_runtime_free(rt);
        return E_PERMISSION;
      }
      /* Found too early, the runtime may have been read half made: find
       * it again now and then rather than wait on a stale copy. */
      if (++not_ready % 50 == 0) {
        py_runtime_free(rt);
        discovered = false;
      }
    }
    /* Only a target that is not Python gives way to its descendants: a
     * Python one found before its runtime is ready (or read half made)
     * is waited for, even when its children already run. */
    if (give_up != NULL && !discovered && give_up(ctx)) {
      if (discovered) py_runtime_free(rt);
      snprintf(why, whylen, "process %d is not a Python process", (int)t->pid);
      return E_NOT_PYTHON;
    }
    if (!target_alive(t)) {
      snprintf(why, whylen, "process %d exited before a Python runtime could be found",
               (int)t->pid);
      if (discovered) py_runtime_free(rt);
      return E_NO_PROCESS;
    }
    if (clock_us() >= deadline) {
      if (discovered) {
        snprintf(why, whylen, "process %d: the Python runtime is not initialised",
                 (int)t->pid);
        py_runtime_free(rt);
      } else if (why[0] == '\0') {
        snprintf(why, whylen, "process %d is not a Python process", (int)t->pid);
      }
      return E_NOT_PYTHON;
    }
    struct timespec ts = {0, 2 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
}

enum error_kind target_wait_python(struct target *t, uint64_t timeout_us,
                                   struct py_runtime *rt, char *why,
                                   size_t whylen) {
  return target_wait_python_or(t, timeout_us, rt, why, whylen, NULL, NULL);
}

enum error_kind target_wait_python_or(struct target *t, uint64_t timeout_us,
                                      struct py_runtime *rt, char *why, size_t whylen,
                                      bool (*give_up)(void *), void *ctx) {
  enum error_kind kind = wait_python(t, timeout_us, rt, why, whylen, give_up, ctx);
  /* A target gone before its runtime could be read is, in Austin 3.7's
   * words, a command that "terminated too quickly" or a process that
   * could not be attached to. */
  if (kind == E_NO_PROCESS) return t->launched ? E_LAUNCH : E_ATTACH;
  return kind;
}
