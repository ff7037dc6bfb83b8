/* The parsers of /proc/PID/stat and /proc/PID/status text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "proc_stat.h"

static void stat_state_after_last_paren(void **state) {
  (void)state;
  char st = 0;
  pid_t ppid = 0;
  /* A command name may hold ") R 1 (": the state follows the last ')'. */
  assert_int_equal(proc_stat_parse("4242 (x) R 1 (y) t 17 4242 0", &st, &ppid), 0);
  assert_int_equal(st, 't');
  assert_int_equal(ppid, 17);
  assert_int_equal(proc_stat_parse("4242 (x", &st, &ppid), -1);
  assert_int_equal(proc_stat_parse("4242 (x)", &st, &ppid), -1);
}

static void stat_parent_pid_bounded(void **state) {
  (void)state;
  char st = 0;
  pid_t ppid = 5;
  /* Digits without end give no parent (they once overflowed a long). */
  assert_int_equal(proc_stat_parse("1 (a) S 99999999999999999999999999999 1", &st, &ppid), 0);
  assert_int_equal(st, 'S');
  assert_int_equal(ppid, 0);
}

static void status_key_starts_a_line(void **state) {
  (void)state;
  /* A thread may name itself "TracerPid:\t99" (prctl PR_SET_NAME): that
   * is not its tracer. */
  const char *text = "Name:\tTracerPid:\t99\nState:\tS (sleeping)\nTracerPid:\t0\n";
  assert_int_equal(proc_status_number(text, "TracerPid"), 0);
  assert_int_equal(proc_status_number("TracerPid:\t1234\n", "TracerPid"), 1234);
  assert_int_equal(proc_status_number("Name:\tTracerPid: 5\n", "TracerPid"), -1);
  assert_int_equal(proc_status_number("TracerPid:\tx\n", "TracerPid"), -1);
  assert_int_equal(proc_status_number("TracerPidX:\t3\n", "TracerPid"), -1);
  assert_int_equal(proc_status_number("", "TracerPid"), -1);
}

static void stat_fields_after_last_paren(void **state) {
  (void)state;
  uint64_t v = 0;
  /* Fields 3 (state), 4 (ppid), 5; the name may hold ") 9 9". */
  const char *text = "42 (a) 9 9) S 17 5 6\n";
  assert_int_equal(proc_stat_field(text, 4, &v), 0);
  assert_int_equal(v, 17);
  assert_int_equal(proc_stat_field(text, 6, &v), 0);
  assert_int_equal(v, 6);
  assert_int_equal(proc_stat_field(text, 3, &v), -1); /* 'S' is no number */
  assert_int_equal(proc_stat_field(text, 7, &v), -1); /* no such field */
  assert_int_equal(proc_stat_field(text, 2, &v), -1);
  assert_int_equal(proc_stat_field("1 (a) S 18446744073709551615", 4, &v), 0);
  assert_int_equal(v, UINT64_MAX);
  assert_int_equal(proc_stat_field("1 (a) S 18446744073709551616", 4, &v), -1);
  assert_int_equal(proc_stat_field("1 (a) S 12x", 4, &v), -1);
  assert_int_equal(proc_stat_field("1 a S 1", 4, &v), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(stat_state_after_last_paren),
      cmocka_unit_test(stat_parent_pid_bounded),
      cmocka_unit_test(status_key_starts_a_line),
      cmocka_unit_test(stat_fields_after_last_paren),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
