/* MOJO (austinp -b), read and written by austinp-resolve: every event
 * passes through except the native frames of samples, which become
 * file:function:line frames, each defined before the stack that uses it.
 * The output is a stream of its own: strings and frames are given keys
 * anew (mojo.c's writer), whatever keys the input used. */
#ifndef MOJO_FORMAT_H
#define MOJO_FORMAT_H

#include <stdbool.h>
#include <stddef.h>

#include "errors.h"
#include "rio.h"
#include "session.h"

/* Whether the first bytes of an input look like MOJO ("MOJ"). */
bool mojo_detect(const char *head, size_t n);

/* Resolve the whole input to out. On bad input, one line on stderr that
 * names the byte offset of the event, and the error kind; E_OK otherwise. */
enum error_kind mojo_resolve(struct rin *in, struct rout *out, struct session *s);

#endif
