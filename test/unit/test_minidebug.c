/* MiniDebugInfo's decompression (minidebug.c) on hostile input: the
 * streams are made here with liblzma's encoder, as xz makes them. (Real
 * sections on real files: test/functional/test_native_debuginfo.py.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <lzma.h>

#include "minidebug.h"

#define PLAIN_SIZE (300u << 10) /* past the decoder's first output buffer */

static uint8_t plain[PLAIN_SIZE];
static uint8_t packed[PLAIN_SIZE + 4096];
static size_t packed_size;

static int setup(void **state) {
  (void)state;
  for (size_t i = 0; i < PLAIN_SIZE; i++) plain[i] = (uint8_t)(i * 7 + i / 1000);
  packed_size = 0;
  return lzma_easy_buffer_encode(6, LZMA_CHECK_CRC64, NULL, plain, PLAIN_SIZE, packed,
                                 &packed_size, sizeof packed) == LZMA_OK ? 0 : -1;
}

static void round_trip(void **state) {
  (void)state;
  size_t n = 0;
  uint8_t *out = minidebug_decompress(packed, packed_size, MINIDEBUG_OUT_MAX, &n);
  assert_non_null(out);
  assert_int_equal(n, PLAIN_SIZE);
  assert_memory_equal(out, plain, PLAIN_SIZE);
  free(out);
  /* Exactly at the cap is still whole. */
  out = minidebug_decompress(packed, packed_size, PLAIN_SIZE, &n);
  assert_non_null(out);
  assert_int_equal(n, PLAIN_SIZE);
  free(out);
}

static void over_the_cap(void **state) {
  (void)state;
  size_t n = 0;
  assert_null(minidebug_decompress(packed, packed_size, PLAIN_SIZE - 1, &n));
  assert_null(minidebug_decompress(packed, packed_size, 1, &n));
}

static void truncated_or_trailing(void **state) {
  (void)state;
  size_t n = 0;
  assert_null(minidebug_decompress(packed, packed_size - 1, MINIDEBUG_OUT_MAX, &n));
  assert_null(minidebug_decompress(packed, packed_size / 2, MINIDEBUG_OUT_MAX, &n));
  uint8_t *more = malloc(packed_size + 16);
  assert_non_null(more);
  memcpy(more, packed, packed_size);
  memset(more + packed_size, 0x5a, 16);
  assert_null(minidebug_decompress(more, packed_size + 16, MINIDEBUG_OUT_MAX, &n));
  free(more);
}

static void corrupt_or_empty(void **state) {
  (void)state;
  size_t n = 0;
  assert_null(minidebug_decompress(packed, 0, MINIDEBUG_OUT_MAX, &n));
  assert_null(minidebug_decompress(NULL, 10, MINIDEBUG_OUT_MAX, &n));
  uint8_t *bad = malloc(packed_size);
  assert_non_null(bad);
  memcpy(bad, packed, packed_size);
  bad[packed_size / 2] ^= 0xff; /* the check (CRC64) or the data breaks */
  assert_null(minidebug_decompress(bad, packed_size, MINIDEBUG_OUT_MAX, &n));
  memset(bad, 0, packed_size); /* not xz at all */
  assert_null(minidebug_decompress(bad, packed_size, MINIDEBUG_OUT_MAX, &n));
  free(bad);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(round_trip),
      cmocka_unit_test(over_the_cap),
      cmocka_unit_test(truncated_or_trailing),
      cmocka_unit_test(corrupt_or_empty),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
