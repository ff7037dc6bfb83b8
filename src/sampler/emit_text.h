/* Austin's collapsed-stack text format. */
#ifndef EMIT_TEXT_H
#define EMIT_TEXT_H

#include <stdio.h>

#include "sample.h"
#include "sampler_loop.h"

/* Kept for austinp, which writes text only; new code uses emit.h. */

/* The metadata lines that open a profile (the caller ends the header
 * with a blank line, after any metadata of its own). */
void emit_text_header(FILE *out, uint64_t interval_us, const char *mode,
                      const char *python_version);

/* P<pid>;T<iid>:<tid>;<file>:<function>:<line>;... <metric> */
void emit_text_sample(FILE *out, const struct sample *s);

void emit_text_footer(FILE *out, const struct sampling_stats *st);

#endif
