/* Capturing one thread: stop, copy, resume. */
#include "capture.h"

#include <inttypes.h>
#include <stdlib.h>

#include "clock.h"

/* End of the mapping that holds a thread's stack pointer, so that the
 * copy goes up to the outermost frame and no further. The maps are read
 * again when sp falls outside them (new threads), at most every 100 ms. */
static uint64_t stack_end(struct capturer *c, uint64_t sp) {
  for (int attempt = 0; attempt < 2; attempt++) {
    for (size_t i = 0; i < c->maps.count; i++)
      if (sp >= c->maps.maps[i].start && sp < c->maps.maps[i].end) return c->maps.maps[i].end;
    uint64_t now = clock_us();
    if (attempt > 0 || (c->maps_read_us != 0 && now - c->maps_read_us < 100000)) break;
    c->maps_read_us = now;
    proc_maps_free(&c->maps);
    if (proc_maps_read(c->pid, &c->maps) != 0) break;
  }
  return 0;
}

/* -k, before the stop. The kernel stack is read *before* PTRACE_INTERRUPT,
 * not during the stop: the interrupt wakes a thread that waits in a system
 * call (futex, nanosleep, poll, recv) and takes it out of the wait to the
 * ptrace stop, so that during the stop its stack file shows ptrace_stop,
 * get_signal, arch_do_signal_or_restart... and never the wait it was in
 * (seen for all four calls). A waiting thread does not move, so the stack
 * read just before the stop is the stack at the stop; the registers taken
 * in the stop confirm it (kernel_after_stop). */
static void kernel_before_stop(struct capturer *c, struct capture *out) {
  out->kstack_ok = c->kr != NULL && kstack_reader_enabled(c->kr) &&
                   kstack_reader_read(c->kr, out->tid, &out->kstack) == 0;
}

/* Keep the kernel frames only if the stop broke a waiting system call:
 * a thread that left its wait between the read and the stop (or was in
 * user space, with an empty stack) shows no kernel frames rather than
 * stale ones. Nor when the read found the thread already in a ptrace stop
 * (a late stop of ours, after an earlier stop timed out, not yet
 * collected): then the wait it was in is not known. */
static void kernel_after_stop(struct capture *out) {
  if (out->kstack_ok && (!out->in_wait || kstack_in_ptrace_stop(&out->kstack)))
    out->kstack_ok = false;
}

static void count_stop(struct capturer *c, uint64_t us) {
  struct capture_stop_stats *st = &c->stop_stats;
  if (st->hist == NULL && (st->hist = calloc(CAPTURE_STOP_HIST, sizeof *st->hist)) == NULL) return;
  st->hist[us < CAPTURE_STOP_HIST ? us : CAPTURE_STOP_HIST - 1]++;
  st->count++;
}

static uint64_t percentile(const struct capture_stop_stats *st, double q) {
  uint64_t want = (uint64_t)(q * (double)(st->count - 1)) + 1, seen = 0;
  for (uint64_t us = 0; us < CAPTURE_STOP_HIST; us++)
    if ((seen += st->hist[us]) >= want) return us;
  return CAPTURE_STOP_HIST - 1;
}

void capture_print_stop_stats(const struct capturer *c, FILE *f, const char *who) {
  const struct capture_stop_stats *st = &c->stop_stats;
  if (!c->want_stop_stats || st->count == 0) return;
  fprintf(f, "%s: threads stopped %" PRIu64 " times: median %" PRIu64 " us, p99 %" PRIu64
             " us, max %" PRIu64 " us\n", who, st->count, percentile(st, 0.5),
          percentile(st, 0.99), percentile(st, 1.0));
}

int capture_thread(struct capturer *c, pid_t tid, const struct py_thread_ref *t,
                   struct sample *s, uint64_t timeout_us, bool read_unstopped,
                   struct capture *out) {
  out->tid = tid;
  out->py_rc = -1;
  out->snap_ok = false;
  out->in_wait = false;
  kernel_before_stop(c, out);
  uint64_t t0 = c->want_stop_stats ? clock_us() : 0;
  out->stopped = ptrace_set_stop(c->ps, tid, &out->regs, timeout_us) == 0;
  if (!out->stopped) {
    out->kstack_ok = false;
    if (read_unstopped && t != NULL) out->py_rc = py_walk_thread(c->w, t, s);
    return -1;
  }
  /* Idle is what the thread was doing when we stopped it (its /proc state
   * now reads "traced"): waiting in a system call that the stop broke. */
  out->in_wait = kstack_regs_in_wait(&out->regs);
  kernel_after_stop(out);
  out->snap_ok = snapshot_take(c->r, tid, &out->regs, stack_end(c, out->regs.rsp),
                               CAPTURE_STACK_MAX, &out->snap) == 0;
  if (t != NULL) out->py_rc = py_walk_thread(c->w, t, s);
  ptrace_set_resume(c->ps, tid);
  if (c->want_stop_stats) count_stop(c, clock_us() - t0);
  return 0;
}

void capture_stop_stats_add(struct capture_stop_stats *into,
                            const struct capture_stop_stats *from) {
  if (from->count == 0) return;
  if (into->hist == NULL && (into->hist = calloc(CAPTURE_STOP_HIST, sizeof *into->hist)) == NULL)
    return;
  for (size_t us = 0; us < CAPTURE_STOP_HIST; us++) into->hist[us] += from->hist[us];
  into->count += from->count;
}

void capture_free(struct capture *c) { snapshot_free(&c->snap); }

void capturer_free(struct capturer *c) {
  proc_maps_free(&c->maps);
  free(c->stop_stats.hist);
}

/* A native frame's name, by the policy of func_syms.h: the symbol that
 * holds it, else its module and the start of its function from the
 * unwind tables. A return address (every frame but the leaf) is looked
 * up at pc - 1, in the call instruction: a call that ends a function
 * returns past its end. */
static void name_frame(struct unwinder *u, uint64_t pc, bool leaf, const char *path,
                       struct native_frame *f) {
  uint64_t lookup = leaf ? pc : pc - 1, offset = 0, start = 0, link = 0;
  const char *symbol = NULL;
  bool eval = false;
  f->pc = pc;
  f->identity[0] = '\0';
  if (unwinder_symbol_marked(u, lookup, &symbol, &offset, &eval) == 0) {
    f->symbol = f->name = symbol;
    f->offset = offset + (leaf ? 0 : 1);
    f->eval = eval;
    return;
  }
  bool has_start = unwinder_function_start(u, lookup, &start) == 0 &&
                   unwinder_link_address(u, pc, &link) == 0;
  f->symbol = NULL;
  f->eval = false;
  f->offset = has_start ? link - start : 0;
  f->name = func_syms_identity(path, has_start, start, f->identity);
}

int capture_native_stack(struct unwinder *u, const struct capture *c, uint64_t *pcs,
                         struct native_frame *out, int max, bool *complete) {
  enum unwind_stop why;
  int n = capture_native_stack_why(u, c, pcs, out, max, &why);
  *complete = why == UNWIND_COMPLETE;
  return n;
}

int capture_native_stack_why(struct unwinder *u, const struct capture *c, uint64_t *pcs,
                             struct native_frame *out, int max, enum unwind_stop *why) {
  *why = UNWIND_NO_STACK;
  if (!c->stopped || !c->snap_ok) return 0;
  int n = unwinder_unwind_why(u, &c->snap, pcs, max, why);
  for (int i = 0; i < n; i++) {
    /* A return address outside every executable mapping is garbage that
     * the unwinder took from the stack: the stack ends here, unfinished
     * (after a pc without unwind information, that is the reason). */
    const char *path = NULL;
    if (unwinder_mapping(u, pcs[i], &path, NULL, NULL, NULL) != 0) {
      if (*why != UNWIND_NO_INFO) *why = i == 0 ? UNWIND_NO_INFO : UNWIND_BAD_ADDRESS;
      return i;
    }
    name_frame(u, pcs[i], i == 0, path, &out[i]);
  }
  if (n <= 0 && *why == UNWIND_COMPLETE) *why = UNWIND_ERROR;
  return n < 0 ? 0 : n;
}
