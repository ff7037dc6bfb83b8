/* Weaving: one stack from a native stack and the Python frames the
 * interpreter was running.
 *
 * Each run of the evaluation loop shows in the native stack as one frame
 * of _PyEval_EvalFrameDefault (or of its .cold part, or of the tail-call
 * handlers of 3.14+ clang builds, adjacent ones counted once), and in the
 * Python chain as the frames from one `entry` frame to the next. Each
 * native evaluation frame is replaced by its run's Python frames. When the
 * two counts differ the sample cannot be woven honestly: it is reported
 * as such, never guessed. */
#ifndef WEAVE_H
#define WEAVE_H

#include <stdbool.h>
#include <stdint.h>

#include "func_syms.h"
#include "sample.h"

struct native_frame {
  uint64_t pc;
  const char *symbol;   /* NULL when no symbol holds pc */
  uint64_t offset;      /* pc - start of the function (named or not) */
  bool eval;            /* an evaluation-loop frame */
  const char *name;     /* what to write: symbol, else identity */
  char identity[FUNC_SYMS_IDENTITY_MAX]; /* "<module>+0x<start>" when unnamed */
};

enum woven_kind { WOVEN_PYTHON, WOVEN_NATIVE };

struct woven_frame {
  enum woven_kind kind;
  const struct sample_frame *py;     /* WOVEN_PYTHON */
  const struct native_frame *native; /* WOVEN_NATIVE */
};

/* Weave `native` (leaf first, as unwound) with `py` (root first, with
 * entry marks, as sampled) into `out`, root first. Returns the number of
 * frames written, or -1 when the runs of the evaluation loop and the
 * Python entries do not match in number (or out is too small). One run
 * more than entries is the innermost run caught entering or leaving: it
 * stays a native frame. */
int weave(const struct native_frame *native, int nnative,
          const struct sample_frame *py, int npy, struct woven_frame *out,
          int max);

/* Weave a native stack that stops short of its root (the unwinder could
 * not go on): its runs of the evaluation loop are the innermost ones, so
 * they take the Python frames of the last entries; the Python frames of
 * the runs it did not reach (*outer of them, from py[0]) belong above the
 * point where native unwinding stopped, and are not in `out`. With no run
 * in the native stack, *outer is npy. Returns the number of frames written
 * (the woven part, root first), -1 when the runs cannot be matched (more
 * runs than entries and the innermost one bare, or out too small). */
int weave_partial(const struct native_frame *native, int nnative,
                  const struct sample_frame *py, int npy, struct woven_frame *out,
                  int max, int *outer);

/* Is a function of this name part of the evaluation loop? Called once per
 * symbol when symbol tables are built, never per sample. */
bool weave_is_eval_symbol(const char *name);

#endif
