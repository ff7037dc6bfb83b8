/* Waiting for a target to show a Python runtime we can read. */
#ifndef TARGET_PYTHON_H
#define TARGET_PYTHON_H

#include <stdint.h>

#include "errors.h"
#include "py_discover.h"
#include "target.h"

/* A launched interpreter needs time to start: it is given at least this
 * long, whatever -t says (-t is the wait for an attached one). */
#define TARGET_LAUNCH_MIN_WAIT_US 2000000u

/* Wait until the target shows a Python runtime with at least one thread,
 * at most timeout_us. On success rt is filled (py_runtime_free it); else
 * the error kind, with a one-line reason in why. */
enum error_kind target_wait_python(struct target *t, uint64_t timeout_us,
                                   struct py_runtime *rt, char *why,
                                   size_t whylen);

/* The same, and give up (E_NOT_PYTHON) as soon as give_up(ctx) says so
 * (-C: a Python descendant of a target that is not Python yet was
 * found), looked at between two attempts. */
enum error_kind target_wait_python_or(struct target *t, uint64_t timeout_us,
                                      struct py_runtime *rt, char *why, size_t whylen,
                                      bool (*give_up)(void *), void *ctx);

#endif
