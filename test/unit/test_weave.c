/* Weaving native and Python frames: the counting rule and the order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "weave.h"

#define N(sym) {0x1000, sym, 0, false}
#define E(sym) {0x2000, sym, 0, true}
#define P(fn, is_entry) {.filename = "t.py", .name = fn, .line = 1, .end_line = 1, .column = -1, .end_column = -1, .entry = is_entry}

static void eval_symbols(void **state) {
  (void)state;
  assert_true(weave_is_eval_symbol("_PyEval_EvalFrameDefault"));
  assert_true(weave_is_eval_symbol("_PyEval_EvalFrameDefault.cold"));
  assert_true(weave_is_eval_symbol("_PyEval_EvalFrameDefault.cold.42"));
  assert_true(weave_is_eval_symbol("_TAIL_CALL_CALL_PY_EXACT_ARGS.llvm.123"));
  assert_false(weave_is_eval_symbol("_PyEval_EvalFrame"));
  assert_false(weave_is_eval_symbol("_PyEval_EvalFrameDefaultX"));
  assert_false(weave_is_eval_symbol("PyEval_EvalCode"));
  assert_false(weave_is_eval_symbol(NULL));
}

/* 3.11+: one run holds several Python frames; a C call (sum) starts a
 * second run. Native stack leaf first. */
static void two_runs(void **state) {
  (void)state;
  struct native_frame native[] = {
      N("ext_leaf"), E("_PyEval_EvalFrameDefault"), N("gen_iternext"),
      N("builtin_sum"), E("_PyEval_EvalFrameDefault.cold"),
      E("_PyEval_EvalFrameDefault"), N("PyEval_EvalCode"), N("main")};
  struct sample_frame py[] = {P("<module>", true), P("f", false),
                              P("<genexpr>", true), P("g", false)};
  struct woven_frame out[16];
  int n = weave(native, 8, py, 4, out, 16);
  assert_int_equal(n, 9);
  const char *want[] = {"main", "PyEval_EvalCode", "<module>", "f",
                        "builtin_sum", "gen_iternext", "<genexpr>", "g",
                        "ext_leaf"};
  for (int i = 0; i < n; i++) {
    const char *got = out[i].kind == WOVEN_PYTHON ? out[i].py->name
                                                  : out[i].native->symbol;
    assert_string_equal(got, want[i]);
  }
}

/* Before 3.11 every Python call is a run of its own. */
static void one_frame_per_run(void **state) {
  (void)state;
  struct native_frame native[] = {E("_PyEval_EvalFrameDefault"), N("call"),
                                  E("_PyEval_EvalFrameDefault"), N("main")};
  struct sample_frame py[] = {P("<module>", true), P("f", true)};
  struct woven_frame out[8];
  assert_int_equal(weave(native, 4, py, 2, out, 8), 4);
  assert_string_equal(out[1].py->name, "<module>");
  assert_string_equal(out[2].native->symbol, "call");
  assert_string_equal(out[3].py->name, "f");
}

/* Counts that differ are never woven. */
static void mismatch(void **state) {
  (void)state;
  struct native_frame native[] = {E("_PyEval_EvalFrameDefault"), N("main")};
  struct sample_frame two[] = {P("<module>", true), P("f", true)};
  struct sample_frame none_entry[] = {P("<module>", false)};
  struct woven_frame out[8];
  assert_int_equal(weave(native, 2, two, 2, out, 8), -1);
  assert_int_equal(weave(native, 2, none_entry, 1, out, 8), -1);
  /* Two runs more than entries: never woven. */
  struct native_frame three[] = {E("_PyEval_EvalFrameDefault"), N("call"),
                                 E("_PyEval_EvalFrameDefault"), N("main")};
  assert_int_equal(weave(three, 4, NULL, 0, out, 8), -1);
  /* Too small an output is an error, not an overflow. */
  struct sample_frame one[] = {P("<module>", true)};
  assert_int_equal(weave(native, 2, one, 1, out, 1), -1);
  /* No Python at all: the native stack alone. */
  struct native_frame plain[] = {N("leaf"), N("main")};
  assert_int_equal(weave(plain, 2, NULL, 0, out, 8), 2);
  assert_string_equal(out[0].native->symbol, "main");
}

/* The innermost run caught entering (or leaving): one run more than
 * entries. The outer runs take the Python frames; the innermost stays the
 * C function it is. */
static void innermost_run_entering(void **state) {
  (void)state;
  struct native_frame native[] = {E("_PyEval_EvalFrameDefault"), N("call"),
                                  E("_PyEval_EvalFrameDefault"), N("main")};
  struct sample_frame py[] = {P("<module>", true)};
  struct woven_frame out[8];
  assert_int_equal(weave(native, 4, py, 1, out, 8), 4);
  assert_string_equal(out[0].native->symbol, "main");
  assert_string_equal(out[1].py->name, "<module>");
  assert_string_equal(out[2].native->symbol, "call");
  assert_int_equal(out[3].kind, WOVEN_NATIVE);
  assert_string_equal(out[3].native->symbol, "_PyEval_EvalFrameDefault");
  /* A lone run with no Python frame at all. */
  assert_int_equal(weave(native + 2, 2, NULL, 0, out, 8), 2);
  assert_int_equal(out[1].kind, WOVEN_NATIVE);
}

/* A native stack that stops short (leaf first, no root): its runs are the
 * innermost ones and take the last entries' frames; the Python frames of
 * the runs not reached are left for above the marker. */
static void partial_stack(void **state) {
  (void)state;
  /* Python: <module> (entry), f; then g (entry, a run called from C), h. */
  struct sample_frame py[] = {P("<module>", true), P("f", false), P("g", true), P("h", false)};
  struct woven_frame out[16];
  int outer = -1;
  /* The unwind reached the innermost run only: g and h are woven, the
   * frames of the outer run are not. */
  struct native_frame one_run[] = {N("leaf"), E("_PyEval_EvalFrameDefault"), N("builtin_map")};
  int n = weave_partial(one_run, 3, py, 4, out, 16, &outer);
  assert_int_equal(outer, 2);
  assert_int_equal(n, 4);
  const char *want[] = {"builtin_map", "g", "h", "leaf"};
  for (int i = 0; i < n; i++)
    assert_string_equal(out[i].kind == WOVEN_PYTHON ? out[i].py->name : out[i].native->symbol,
                        want[i]);
  /* It reached no run (a leaf without unwind information): every Python
   * frame is outer, the native frames stay as they are. */
  struct native_frame leaf[] = {N("nocfi_spin")};
  assert_int_equal(weave_partial(leaf, 1, py, 4, out, 16, &outer), 1);
  assert_int_equal(outer, 4);
  assert_string_equal(out[0].native->symbol, "nocfi_spin");
  /* Nothing native at all: the Python frames only. */
  assert_int_equal(weave_partial(NULL, 0, py, 4, out, 16, &outer), 0);
  assert_int_equal(outer, 4);
  /* Both runs reached: woven as a whole stack. */
  struct native_frame both[] = {E("_PyEval_EvalFrameDefault"), N("call"),
                                E("_PyEval_EvalFrameDefault"), N("start")};
  assert_int_equal(weave_partial(both, 4, py, 4, out, 16, &outer), 6);
  assert_int_equal(outer, 0);
  /* More runs than entries and one: never woven. */
  struct native_frame three[] = {E("_PyEval_EvalFrameDefault"), N("a"),
                                 E("_PyEval_EvalFrameDefault"), N("b"),
                                 E("_PyEval_EvalFrameDefault")};
  struct sample_frame one[] = {P("<module>", true)};
  assert_int_equal(weave_partial(three, 5, one, 1, out, 16, &outer), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(eval_symbols),
      cmocka_unit_test(two_runs),
      cmocka_unit_test(one_frame_per_run),
      cmocka_unit_test(mismatch),
      cmocka_unit_test(innermost_run_entering),
      cmocka_unit_test(partial_stack),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
