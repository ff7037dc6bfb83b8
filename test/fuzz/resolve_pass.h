/* One pass of an austinp-resolve reader over bytes in memory, for the
 * fuzz targets of its formats (fuzz_resolve_text.c, fuzz_resolve_mojo.c):
 * the bytes are the input file and the output is read back, through the
 * program's own I/O (rio.c) and session, with the made-up resolver of
 * fake_resolver.c. */
#ifndef RESOLVE_PASS_H
#define RESOLVE_PASS_H

#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "rio.h"
#include "session.h"

typedef bool (*resolve_detect)(const char *head, size_t n);
typedef enum error_kind (*resolve_reader)(struct rin *in, struct rout *out, struct session *s);

struct resolve_pass {
  enum error_kind kind;
  char *out;   /* what was written (malloc'd; also on error) */
  size_t len;
};

/* Run reader over data as `austinp-resolve -o OUT IN` does: when detect
 * recognises the first 16 bytes as its format (else the input is
 * malformed, and nothing is written); abort on any failure of the harness itself, or when what
 * the reader returns or counts breaks its promise: an error kind other
 * than malformed input (status 15), or frames counted twice or not at
 * all. The first name (fuzz_...) is for messages. */
void resolve_pass(const char *target, resolve_detect detect, resolve_reader reader,
                  const uint8_t *data, size_t size, struct resolve_pass *p);

/* Abort with "target: what" unless ok. */
void resolve_require(const char *target, int ok, const char *what);

#endif
