/* MOJO's shared encoding (src/sampler/mojo.c): integers at their limits,
 * and the keys a writer hands out (per process, defined once, forgotten
 * all together). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mojo.h"

static void round_trip(uint64_t v, bool negative, size_t expected_len) {
  uint8_t buf[MOJO_INT_MAX_BYTES];
  size_t n = mojo_encode_int(buf, v, negative);
  assert_int_equal(n, expected_len);
  uint64_t got;
  bool neg;
  assert_int_equal(mojo_decode_int(buf, n, &got, &neg), (int)n);
  assert_true(got == v);
  assert_int_equal(neg, negative);
  /* One byte short: not an error, more is needed. */
  assert_int_equal(mojo_decode_int(buf, n - 1, &got, &neg), 0);
}

static void integers_round_trip(void **state) {
  (void)state;
  round_trip(0, false, 1);
  round_trip(63, false, 1);
  round_trip(64, false, 2);
  round_trip(5, true, 1);
  round_trip((1u << 13) - 1, false, 2);
  round_trip(1u << 13, false, 3);
  round_trip(UINT64_MAX, false, MOJO_INT_MAX_BYTES);
  round_trip(UINT64_MAX, true, MOJO_INT_MAX_BYTES);
}

static void integers_too_long(void **state) {
  (void)state;
  uint64_t v;
  bool neg;
  uint8_t eleven[11];
  memset(eleven, 0xff, sizeof eleven);
  eleven[10] = 0x01;
  assert_int_equal(mojo_decode_int(eleven, sizeof eleven, &v, &neg), -1);
  /* Ten bytes whose last holds more than the two top bits of 64. */
  uint8_t wide[10];
  memset(wide, 0xff, sizeof wide);
  wide[9] = 0x04;
  assert_int_equal(mojo_decode_int(wide, sizeof wide, &v, &neg), -1);
  wide[9] = 0x03;
  assert_int_equal(mojo_decode_int(wide, sizeof wide, &v, &neg), 10);
  assert_true(v == UINT64_MAX);
}

struct sink {
  uint8_t buf[4096];
  size_t len;
};

static void to_sink(void *p, const void *data, size_t n) {
  struct sink *s = p;
  assert_true(s->len + n <= sizeof s->buf);
  memcpy(s->buf + s->len, data, n);
  s->len += n;
}

static void keys_defined_once_per_process(void **state) {
  (void)state;
  struct sink s = {{0}, 0};
  struct mojo_writer w;
  mojo_writer_init(&w, to_sink, &s);
  uint32_t a = mojo_string_key(&w, 10, "f.py", 4);
  size_t after_a = s.len;
  assert_int_equal(a, MOJO_FIRST_STRING_KEY);
  assert_int_equal(after_a, 1 + 1 + 5); /* STRING, key, "f.py\0" */
  assert_int_equal(s.buf[0], MOJO_STRING);
  assert_int_equal(mojo_string_key(&w, 10, "f.py", 4), a);
  assert_int_equal(s.len, after_a); /* known: nothing written */
  assert_int_not_equal(mojo_string_key(&w, 11, "f.py", 4), a);
  int64_t loc[4] = {12, 0, -1, 3};
  uint32_t f = mojo_frame_key(&w, 10, a, a, loc);
  assert_int_equal(f, MOJO_FIRST_FRAME_KEY);
  assert_int_equal(mojo_frame_key(&w, 10, a, a, loc), f);
  /* FRAME key file name line end-line column end-column: -1 is written 0. */
  const uint8_t frame[] = {MOJO_FRAME, 1, 2, 2, 12, 0, 0, 3};
  assert_memory_equal(s.buf + s.len - sizeof frame, frame, sizeof frame);
  uint32_t gen = w.generation;
  assert_int_equal(mojo_writer_live(&w), 3);
  mojo_writer_forget_all(&w);
  assert_int_equal(mojo_writer_live(&w), 0);
  assert_int_not_equal(w.generation, gen);
  size_t before = s.len;
  assert_int_equal(mojo_string_key(&w, 10, "f.py", 4), MOJO_FIRST_STRING_KEY);
  assert_true(s.len > before); /* defined again */
  mojo_writer_free(&w);
}

static void discard(void *p, const void *data, size_t n) {
  (void)data;
  *(size_t *)p += n;
}

/* Long names never seen before fill a writer by their bytes long before
 * their number reaches MOJO_INTERN_MAX; short ones are bounded by count
 * or bytes, whichever comes first. */
static void full_by_bytes(void **state) {
  (void)state;
  size_t written = 0, copied = 0;
  struct mojo_writer w;
  mojo_writer_init(&w, discard, &written);
  char name[4000];
  memset(name, 'x', sizeof name);
  uint32_t n = 0;
  while (!mojo_writer_full(&w, 0)) {
    int len = snprintf(name, sizeof name, "%u", n++);
    name[len] = 'x'; /* a long name, unique by its first digits */
    mojo_string_key(&w, 7, name, sizeof name);
    copied += sizeof name + sizeof(int64_t);
    assert_true(copied <= 2 * (size_t)MOJO_INTERN_MAX_BYTES); /* else stop here */
  }
  /* Full once the copies alone are about the bound, not much sooner. */
  assert_true(copied <= MOJO_INTERN_MAX_BYTES);
  assert_true(copied >= MOJO_INTERN_MAX_BYTES / 2);
  assert_int_equal(mojo_writer_live(&w), n);
  mojo_writer_forget_all(&w);
  assert_false(mojo_writer_full(&w, 0));
  assert_true(mojo_writer_full(&w, MOJO_INTERN_MAX + 1));
  mojo_writer_free(&w);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(integers_round_trip),
      cmocka_unit_test(integers_too_long),
      cmocka_unit_test(keys_defined_once_per_process),
      cmocka_unit_test(full_by_bytes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
