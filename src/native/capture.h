/* Capturing one thread: the short stop, and what is taken during it.
 *
 * Stop the thread (PTRACE_INTERRUPT, bounded wait), copy its registers,
 * the top of its stack and its Python frame chain, resume it. With -k,
 * its kernel stack is read just before the stop (see capture.c: during
 * the stop it would show the stop itself). Everything else (unwinding,
 * naming, weaving, writing) happens after, from the capture, while the
 * thread runs. Shared by the sampler and where mode. */
#ifndef CAPTURE_H
#define CAPTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <sys/user.h>

#include "kstack.h"
#include "kstack_read.h"
#include "proc_maps.h"
#include "ptrace_set.h"
#include "py_walk.h"
#include "snapshot.h"
#include "unwind.h"
#include "weave.h"

/* How long threads stayed stopped, to the microsecond (a histogram up to
 * 100 ms; longer stops counted in the last bucket). */
#define CAPTURE_STOP_HIST 100001
struct capture_stop_stats {
  uint64_t count;
  uint32_t *hist; /* allocated on the first stop when wanted */
};

/* What capturing needs of a process: shared state, one per process. */
struct capturer {
  pid_t pid;
  struct ptrace_set *ps;
  struct remote *r;
  struct py_walker *w;
  struct kstack_reader *kr; /* -k; NULL without it */
  struct proc_maps maps;    /* to find where each thread's stack ends */
  uint64_t maps_read_us;
  bool want_stop_stats;     /* keep stop_stats (PYAUSTIN_STOP_STATS) */
  struct capture_stop_stats stop_stats;
};

/* One thread, captured. */
struct capture {
  pid_t tid;
  bool stopped;             /* it stopped in time: regs and snap are valid */
  struct user_regs_struct regs;
  struct native_snapshot snap;
  bool snap_ok;
  bool in_wait;             /* the stop broke a system call: it was idle */
  bool kstack_ok;           /* kstack holds its kernel stack (-k) */
  struct kstack kstack;
  int py_rc;                /* py_walk_thread's result; -1 when not read */
};

/* Largest stack slice copied: the main thread of a deep Python program
 * uses well over 64 KiB of C stack between its entry point and the
 * evaluation loop; a thread's slice ends at its stack's end anyway. */
#define CAPTURE_STACK_MAX (512u << 10)

/* Capture thread tid; with t (a Python thread), also its Python frames
 * into s. Returns 0 when the thread stopped, -1 when it did not stop in
 * timeout_us (it is left running; with read_unstopped, its Python frames
 * are read anyway, as austin reads them, and py_rc says how that went). */
int capture_thread(struct capturer *c, pid_t tid, const struct py_thread_ref *t,
                   struct sample *s, uint64_t timeout_us, bool read_unstopped,
                   struct capture *out);

void capture_free(struct capture *c);

/* With want_stop_stats: one line on f, the median, 99th percentile and
 * longest time a thread stayed stopped, in microseconds. */
void capture_print_stop_stats(const struct capturer *c, FILE *f, const char *who);
/* Add the stops counted in `from` to `into` (austinp -C: one line for
 * all processes). */
void capture_stop_stats_add(struct capture_stop_stats *into,
                            const struct capture_stop_stats *from);
void capturer_free(struct capturer *c);

/* The native stack of a capture, unwound and named, leaf first. A return
 * address is named after pc - 1, so that a call at the very end of a
 * function is not named after the next one. Returns the number of
 * frames; *complete is false when the unwind stopped short. */
int capture_native_stack(struct unwinder *u, const struct capture *c, uint64_t *pcs,
                         struct native_frame *out, int max, bool *complete);

/* The same, saying why the unwind ended (UNWIND_COMPLETE: at the
 * outermost frame; UNWIND_NO_STACK: nothing to unwind). */
int capture_native_stack_why(struct unwinder *u, const struct capture *c, uint64_t *pcs,
                             struct native_frame *out, int max, enum unwind_stop *why);

#endif
