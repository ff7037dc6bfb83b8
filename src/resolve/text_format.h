/* Austin's text format, read and written by austinp-resolve: every line
 * passes through unchanged except the native frames of samples, which
 * become file:function:line frames. */
#ifndef TEXT_FORMAT_H
#define TEXT_FORMAT_H

#include <stdbool.h>
#include <stddef.h>

#include "errors.h"
#include "rio.h"
#include "session.h"

/* Whether the first bytes of an input look like Austin's text format. */
bool text_detect(const char *head, size_t n);

/* Resolve the whole input to out. On bad input, one line on stderr that
 * names the line, and the error kind; E_OK otherwise. */
enum error_kind text_resolve(struct rin *in, struct rout *out, struct session *s);

#endif
