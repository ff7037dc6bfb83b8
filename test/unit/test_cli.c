/* Option values: durations as Austin 3.7 accepts them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cli.h"

static void interval_units(void **state) {
  (void)state;
  uint64_t us;
  assert_int_equal(cli_parse_duration("100", UNITS_S_MS_US, 1, &us), 0);
  assert_int_equal(us, 100);
  assert_int_equal(cli_parse_duration("250us", UNITS_S_MS_US, 1, &us), 0);
  assert_int_equal(us, 250);
  assert_int_equal(cli_parse_duration("10ms", UNITS_S_MS_US, 1, &us), 0);
  assert_int_equal(us, 10000);
  assert_int_equal(cli_parse_duration("2s", UNITS_S_MS_US, 1, &us), 0);
  assert_int_equal(us, 2000000);
}

static void timeout_units(void **state) {
  (void)state;
  uint64_t us;
  /* A bare timeout is in milliseconds; microseconds are not a unit of -t. */
  assert_int_equal(cli_parse_duration("100", UNITS_S_MS, 1000, &us), 0);
  assert_int_equal(us, 100000);
  assert_int_equal(cli_parse_duration("3s", UNITS_S_MS, 1000, &us), 0);
  assert_int_equal(us, 3000000);
  assert_int_equal(cli_parse_duration("5us", UNITS_S_MS, 1000, &us), -1);
}

static void rejects_garbage(void **state) {
  (void)state;
  uint64_t us = 42;
  const char *bad[] = {"", "foo", "-3", "+3", "0", "0ms", "10 ms", "10m",
                       "1.5ms", "ms", "99999999999999999999", "3600001s"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    assert_int_equal(cli_parse_duration(bad[i], UNITS_S_MS_US, 1, &us), -1);
    assert_int_equal(us, 42); /* untouched on error */
  }
  assert_int_equal(cli_parse_duration(NULL, UNITS_S_MS_US, 1, &us), -1);
}

static void austinp_takes_kernel(void **state) {
  (void)state;
  struct options o;
  char *with_k[] = {"austinp", "-k", "-p", "42", NULL};
  assert_int_equal(cli_parse_austinp(4, with_k, 10000, &o), E_OK);
  assert_true(o.kernel);
  assert_int_equal(o.pid, 42);
  char *long_k[] = {"austinp", "--kernel", "-x", "1", "python3", "-k", NULL};
  assert_int_equal(cli_parse_austinp(6, long_k, 10000, &o), E_OK);
  assert_true(o.kernel);
  /* A -k after the command is the command's own. */
  assert_string_equal(o.command[0], "python3");
  assert_string_equal(o.command[1], "-k");
  char *without[] = {"austinp", "-p", "42", NULL};
  assert_int_equal(cli_parse_austinp(3, without, 10000, &o), E_OK);
  assert_false(o.kernel);
  assert_int_equal(o.interval_us, 10000);
}

static void children_and_heap(void **state) {
  (void)state;
  char *argv[] = {"austin", "-C", "-h", "2", "python3", "-h", NULL};
  struct options o;
  assert_int_equal(cli_parse(6, argv, 100, &o), E_OK);
  assert_true(o.children);
  assert_int_equal(o.heap_bytes, 2u << 20);
  /* The command's own "-h" stays the command's. */
  assert_string_equal(o.command[0], "python3");
  assert_string_equal(o.command[1], "-h");

  char *plain[] = {"austin", "-p", "1", NULL};
  assert_int_equal(cli_parse(3, plain, 100, &o), E_OK);
  assert_false(o.children);
  assert_int_equal(o.heap_bytes, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(interval_units),
      cmocka_unit_test(timeout_units),
      cmocka_unit_test(rejects_garbage),
      cmocka_unit_test(austinp_takes_kernel),
      cmocka_unit_test(children_and_heap),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
