/* The naming rule's pure parts: the extent of a symbol, the pieces of a
 * function, aliases, and the identity of an unnamed function. (The rule
 * on real files, stripped and not: test/functional/test_native_names.py.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "func_syms.h"

static void pieces_named_after_their_function(void **state) {
  (void)state;
  assert_int_equal(func_syms_base_len("f"), 1);
  assert_int_equal(func_syms_base_len("f.cold"), 1);
  assert_int_equal(func_syms_base_len("f.cold.17"), 1);
  assert_int_equal(func_syms_base_len("f.part.0"), 1);
  assert_int_equal(func_syms_base_len("f.constprop.0.isra.0"), 1);
  assert_int_equal(func_syms_base_len("f.part.0.cold"), 1);
  assert_int_equal(func_syms_base_len("f.lto_priv.0"), 1);
  /* Not pieces: left whole. */
  assert_int_equal(func_syms_base_len("a.b"), 3);
  assert_int_equal(func_syms_base_len("f.coldness"), 10);
  assert_int_equal(func_syms_base_len(".cold"), 5);
  assert_int_equal(func_syms_base_len("f.cold.x"), 8);
}

static void named_only_inside(void **state) {
  (void)state;
  struct func_syms t;
  func_syms_init(&t);
  assert_int_equal(func_syms_add(&t, "b", 0x2000, 0x10), 0);
  assert_int_equal(func_syms_add(&t, "a", 0x1000, 0x20), 0);
  assert_int_equal(func_syms_add(&t, "a.cold", 0x9000, 0x8), 0);
  assert_int_equal(func_syms_add(&t, "zero", 0x3000, 0), -1); /* no extent */
  func_syms_sort(&t);
  assert_string_equal(func_syms_at(&t, 0x1000)->name, "a");
  assert_string_equal(func_syms_at(&t, 0x101f)->name, "a");
  assert_null(func_syms_at(&t, 0x1020)); /* past a's end: not a's */
  assert_null(func_syms_at(&t, 0x1fff));
  assert_string_equal(func_syms_at(&t, 0x200f)->name, "b");
  assert_null(func_syms_at(&t, 0x2010));
  assert_string_equal(func_syms_at(&t, 0x9004)->name, "a");
  assert_null(func_syms_at(&t, 0xfff));
  func_syms_free(&t);
}

static void aliases_keep_the_function_name(void **state) {
  (void)state;
  struct func_syms t;
  func_syms_init(&t);
  func_syms_add(&t, "__GI___libc_read", 0x100, 0x40);
  func_syms_add(&t, "read", 0x100, 0x40);
  func_syms_add(&t, "__libc_read", 0x100, 0x10);
  func_syms_sort(&t);
  assert_int_equal(t.n, 1);
  assert_string_equal(func_syms_at(&t, 0x13f)->name, "__libc_read");
  assert_int_equal(t.v[0].size, 0x40); /* the largest extent */
  func_syms_free(&t);
}

static void identity_of_unnamed(void **state) {
  (void)state;
  char buf[FUNC_SYMS_IDENTITY_MAX];
  assert_string_equal(func_syms_identity("/usr/lib/x86_64-linux-gnu/libcrypto.so.3", true,
                                         0x1a2b00, buf),
                      "libcrypto.so.3+0x1a2b00");
  assert_string_equal(func_syms_identity("/opt/my lib;v1:2.so", true, 0x10, buf),
                      "my_lib_v1_2.so+0x10");
  assert_string_equal(func_syms_identity("/usr/bin/python3.11", false, 0, buf),
                      "python3.11+??");
  char longpath[600];
  memset(longpath, 'x', sizeof longpath - 1);
  longpath[0] = '/';
  longpath[sizeof longpath - 1] = '\0';
  func_syms_identity(longpath, true, UINT64_MAX, buf);
  assert_true(strlen(buf) < FUNC_SYMS_IDENTITY_MAX);
  assert_non_null(strstr(buf, "+0xffffffffffffffff"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(pieces_named_after_their_function),
      cmocka_unit_test(named_only_inside),
      cmocka_unit_test(aliases_keep_the_function_name),
      cmocka_unit_test(identity_of_unnamed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
