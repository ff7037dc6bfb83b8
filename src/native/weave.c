#include <string.h>

#include "weave.h"

bool weave_is_eval_symbol(const char *name) {
  static const char eval[] = "_PyEval_EvalFrameDefault";
  size_t n = sizeof eval - 1;
  if (name == NULL) return false;
  /* The function, and the parts GCC splits off it (".cold", ".cold.17",
   * ".part.3"). */
  if (strncmp(name, eval, n) == 0 && (name[n] == '\0' || name[n] == '.'))
    return true;
  /* 3.14+ tail-calling interpreter: one function per instruction. */
  return strncmp(name, "_TAIL_CALL_", 11) == 0;
}

/* Number of evaluation-loop runs in a native stack: adjacent evaluation
 * frames belong to one run. */
static int count_runs(const struct native_frame *native, int n) {
  int runs = 0;
  for (int i = 0; i < n; i++)
    if (native[i].eval && (i == 0 || !native[i - 1].eval)) runs++;
  return runs;
}

static int count_entries(const struct sample_frame *py, int n) {
  int entries = 0;
  for (int i = 0; i < n; i++) entries += py[i].entry;
  return entries;
}

int weave(const struct native_frame *native, int nnative,
          const struct sample_frame *py, int npy, struct woven_frame *out,
          int max) {
  int runs = count_runs(native, nnative), entries = count_entries(py, npy);
  /* A thread stopped as it enters or leaves a run has that run on its
   * native stack but not yet (or no longer) in its Python chain: it is the
   * innermost run, and it is shown as the C function it is. Any other
   * difference cannot be woven. */
  bool innermost_bare = runs == entries + 1;
  if (runs != entries && !innermost_bare) return -1;
  /* Python frames before the first entry belong to no run we can see. */
  if (npy > 0 && !py[0].entry) return -1;

  int n = 0, next_py = 0, run = 0;
  /* Root first: the native stack from its outermost frame. */
  for (int i = nnative - 1; i >= 0; i--) {
    const struct native_frame *f = &native[i];
    if (f->eval && (i + 1 >= nnative || !native[i + 1].eval)) run++;
    if (!f->eval || (innermost_bare && run == runs)) {
      if (n == max) return -1;
      out[n++] = (struct woven_frame){WOVEN_NATIVE, NULL, f};
      continue;
    }
    if (i + 1 < nnative && native[i + 1].eval) continue; /* same run */
    /* This run's Python frames: from its entry up to the next entry. */
    do {
      if (n == max) return -1;
      out[n++] = (struct woven_frame){WOVEN_PYTHON, &py[next_py], NULL};
      next_py++;
    } while (next_py < npy && !py[next_py].entry);
  }
  return n;
}

int weave_partial(const struct native_frame *native, int nnative,
                  const struct sample_frame *py, int npy, struct woven_frame *out,
                  int max, int *outer) {
  int runs = count_runs(native, nnative), entries = count_entries(py, npy);
  *outer = 0;
  if (runs > entries + 1) return -1;
  /* The runs reached take the last entries' frames. (A partial stack
   * cannot tell a bare innermost run from one run missed at the root:
   * when the counts allow both, the runs are taken as all entered.) */
  int skip = entries - runs, k = 0;
  if (runs == 0) {
    k = npy;
  } else if (skip > 0) {
    for (int seen = 0; k < npy; k++)
      if (py[k].entry && seen++ == skip) break;
  }
  int n = weave(native, nnative, py + k, npy - k, out, max);
  if (n >= 0) *outer = k;
  return n;
}
