/* Decompressing a MiniDebugInfo section (see minidebug.h) with liblzma.
 * The section is untrusted: the output is capped, the decoder's memory
 * is limited, and anything but one complete stream is refused. */
#include "minidebug.h"

#include <lzma.h>
#include <stdint.h>
#include <stdlib.h>

/* The output grows from this size, doubling, up to out_max. */
#define FIRST_OUT (64u << 10)

void *minidebug_decompress(const void *in, size_t in_size, size_t out_max, size_t *out_size) {
  if (in == NULL || in_size == 0 || in_size > MINIDEBUG_IN_MAX || out_max == 0) return NULL;
  lzma_stream s = LZMA_STREAM_INIT;
  /* No LZMA_CONCATENATED: one stream, as xz writes it; trailing bytes are
   * an error (LZMA_DATA_ERROR), not ignored. */
  if (lzma_stream_decoder(&s, MINIDEBUG_DECODER_MEM_MAX, 0) != LZMA_OK) return NULL;
  size_t cap = out_max < FIRST_OUT ? out_max : FIRST_OUT;
  uint8_t *out = malloc(cap);
  if (out == NULL) {
    lzma_end(&s);
    return NULL;
  }
  s.next_in = in;
  s.avail_in = in_size;
  s.next_out = out;
  s.avail_out = cap;
  lzma_ret ret;
  for (;;) {
    ret = lzma_code(&s, LZMA_FINISH);
    if (ret != LZMA_OK) break;
    if (s.avail_out > 0) continue; /* more input consumed, not done yet */
    if (cap >= out_max) {          /* full at the cap, and not at the end */
      ret = LZMA_BUF_ERROR;
      break;
    }
    size_t ncap = cap > out_max / 2 ? out_max : 2 * cap;
    uint8_t *p = realloc(out, ncap);
    if (p == NULL) {
      ret = LZMA_MEM_ERROR;
      break;
    }
    out = p;
    s.next_out = out + cap;
    s.avail_out = ncap - cap;
    cap = ncap;
  }
  size_t n = (size_t)s.total_out;
  lzma_end(&s);
  /* LZMA_STREAM_END with input left over: more than one stream. */
  if (ret != LZMA_STREAM_END || s.avail_in != 0 || n == 0) {
    free(out);
    return NULL;
  }
  *out_size = n;
  return out;
}
