/* Fuzz target: austinp-resolve's reader of MOJO (mojo_format.c), over its
 * own I/O and session (resolve_pass.c), with a made-up resolver
 * (fake_resolver.c).
 *
 * Either the input is malformed (status 65), or the output is MOJO that
 * decodes (mojo_canon.c, a decoder of its own), says what the input said
 * but for its frames (metadata, samples, kernel frames, string
 * references, flags and metrics, in order), reads back through the same
 * reader, and says the same again once resolved again: every native
 * frame left in it is one kept as it was. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mojo_canon.h"
#include "mojo_format.h"
#include "resolve_pass.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define T "fuzz_resolve_mojo"

static int same(const struct canon *a, const struct canon *b) {
  return a->len == b->len && (a->len == 0 || memcmp(a->buf, b->buf, a->len) == 0);
}

static void check_output(const uint8_t *data, size_t size, const struct resolve_pass *first) {
  struct canon in = {0}, out = {0}, whole = {0}, again_whole = {0};
  resolve_require(T, mojo_canon((const uint8_t *)first->out, first->len, true, &whole) == 0,
                  "the output does not decode");
  resolve_require(T, mojo_canon(data, size, false, &in) == 0, "an input read whole does not decode");
  mojo_canon((const uint8_t *)first->out, first->len, false, &out);
  resolve_require(T, same(&in, &out), "events other than frames changed");
  struct resolve_pass again;
  resolve_pass(T, mojo_detect, mojo_resolve, (const uint8_t *)first->out, first->len, &again);
  resolve_require(T, again.kind == E_OK, "the output does not read back");
  resolve_require(T, mojo_canon((const uint8_t *)again.out, again.len, true, &again_whole) == 0 &&
                         same(&whole, &again_whole),
                  "resolving the output again changed it");
  free(again.out);
  canon_free(&in);
  canon_free(&out);
  canon_free(&whole);
  canon_free(&again_whole);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct resolve_pass first;
  resolve_pass(T, mojo_detect, mojo_resolve, data, size, &first);
  /* For run-replay's check that the seeds resolve. */
  if (getenv("FUZZ_RESOLVE_PRINT") != NULL && first.kind == E_OK) {
    fwrite(first.out, 1, first.len, stdout);
    fflush(stdout);
  }
  if (first.kind == E_OK) check_output(data, size, &first);
  free(first.out);
  return 0;
}
