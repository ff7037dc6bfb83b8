/* A decoder of MOJO for the fuzz targets, written from the format's
 * description (src/sampler/mojo.h, man/austin.1) rather than from its
 * readers: a stream becomes a canonical form, every reference replaced
 * by what it refers to, so that two streams that say the same thing
 * with other keys, or with definitions in another order, compare equal. */
#ifndef MOJO_CANON_H
#define MOJO_CANON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct canon {
  char *buf;
  size_t len, cap;
};

/* Decode the n bytes at p into c (emptied first). With frames false,
 * frame references are left out (what must be the same before and after
 * native frames are resolved). -1 when the stream does not decode: no
 * "MOJ" and version 3, an unknown event, an integer longer than 10
 * bytes or beyond 64 bits, a negative key, a reference to a string or
 * frame that its process has not defined, or a cut-short end. */
int mojo_canon(const uint8_t *p, size_t n, bool frames, struct canon *c);
void canon_free(struct canon *c);

#endif
