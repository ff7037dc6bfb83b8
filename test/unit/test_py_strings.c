/* Reading str objects (src/sampler/py_strings.c) from a memory image: the
 * UTF-8 written is valid whatever the code points the target holds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "py_layout.h"
#include "py_strings.h"
#include "remote.h"

#define STR_ADDR 0x10000

/* A compact, non-ASCII str of kind 4 (UCS-4) holding the n code points. */
static char *read_ucs4(const uint32_t *cps, size_t n) {
  const struct py_layout *l = py_layout_for(3, 12);
  assert_non_null(l);
  uint8_t obj[512];
  memset(obj, 0, sizeof obj);
  int64_t length = (int64_t)n;
  uint32_t state = 4u << 2 | 1u << 5; /* kind 4, compact, not ASCII */
  memcpy(obj + l->unicode_length, &length, sizeof length);
  memcpy(obj + l->unicode_state, &state, sizeof state);
  assert_true((size_t)l->unicode_compact_size + 4 * n <= sizeof obj);
  memcpy(obj + l->unicode_compact_size, cps, 4 * n);
  struct remote_range range = {STR_ADDR, sizeof obj, obj};
  struct remote *r = remote_open_image(&range, 1);
  char *s = py_str_read(r, l, STR_ADDR);
  remote_close(r);
  return s;
}

static void encodes_every_width(void **state) {
  (void)state;
  const uint32_t cps[] = {'a', 0xe9, 0x20ac, 0x1f600};
  char *s = read_ucs4(cps, 4);
  assert_string_equal(s, "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
  free(s);
}

/* What UTF-8 cannot hold is written U+FFFD, in its three bytes. */
static void replaces_what_is_no_character(void **state) {
  (void)state;
  const uint32_t cps[] = {0xdcff, 0x110000, 0xffffffff, 0x0a};
  char *s = read_ucs4(cps, 4);
  assert_string_equal(s, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
  free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(encodes_every_width),
      cmocka_unit_test(replaces_what_is_no_character),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
