/* austinp: Python stacks woven into native stacks.
 *
 * Each round, for every thread the interpreter knows: stop it, take its
 * registers, a copy of the top of its stack and its Python frame chain,
 * resume it; only then unwind the copy offline, name the native frames
 * and weave the Python frames in place of the evaluation-loop frames. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "cli.h"
#include "clock.h"
#include "emit.h"
#include "errors.h"
#include "kstack.h"
#include "kstack_read.h"
#include "proc_maps.h"
#include "ptrace_set.h"
#include "py_walk.h"
#include "sampler_loop.h"
#include "snapshot.h"
#include "target.h"
#include "target_python.h"
#include "traced_output.h"
#include "unwind.h"
#include "weave.h"

/* austinp samples every 10 ms by default, as Austin 3.7's does. */
#define AUSTINP_DEFAULT_INTERVAL_US 10000
/* How long a thread may take to stop before we give up on it this round. */
#define STOP_TIMEOUT_US 20000
#define MAX_THREADS 1024
#define MAX_NATIVE 512
#define MAX_WOVEN (MAX_NATIVE + SAMPLE_MAX_FRAMES)

struct austinp {
  const struct options *o;
  FILE *out;
  struct emitter e;
  struct emitter copy;   /* PYAUSTIN_MOJO_COPY, for the tests */
  FILE *copy_out;
  struct sample_policy policy;
  bool want_idle;            /* -s, -m, -f: tell idle threads apart */
  struct sample woven_sample; /* what is written: woven, native, kernel */
  struct target t;
  struct py_runtime rt;
  struct remote *r;
  struct py_walker w;
  struct ptrace_set *ps;
  struct unwinder *u;
  struct native_snapshot snap;
  struct sample sample;
  uint64_t pcs[MAX_NATIVE];
  struct native_frame native[MAX_NATIVE];
  struct woven_frame woven[MAX_WOVEN];
  struct py_thread_ref threads[MAX_THREADS];
  struct sampling_stats st;
  uint64_t unwoven; /* samples whose runs and entries did not match */
  struct proc_maps maps; /* to find where each thread's stack ends */
  uint64_t maps_read_us;
  struct kstack_reader *kr; /* -k; NULL without it */
  struct kstack kstack;     /* the sampled thread's, when kstack_ok */
  bool kstack_ok;
};

/* Largest stack slice copied per sample: the main thread of a deep Python
 * program uses well over 64 KiB of C stack between its entry point and
 * the evaluation loop; a thread's slice ends at its stack's end anyway. */
#define STACK_COPY_MAX (512u << 10)

/* One `# map:` line per executable file mapping, so that native
 * addresses can be resolved later, elsewhere (austinp-resolve): all of
 * them after the header, then each new one (a module imported mid-run)
 * before the first sample that may name it. */
static void emit_map(void *arg, uint64_t start, uint64_t end, const char *path) {
  emit_metadata(arg, "map", "%" PRIx64 "-%" PRIx64 " %s", start, end, path);
}

/* End of the mapping that holds a thread's stack pointer, so that the
 * copy goes up to the outermost frame and no further. The maps are read
 * again when sp falls outside them (new threads), at most every 100 ms. */
static uint64_t stack_end(struct austinp *a, uint64_t sp) {
  for (int attempt = 0; attempt < 2; attempt++) {
    for (size_t i = 0; i < a->maps.count; i++)
      if (sp >= a->maps.maps[i].start && sp < a->maps.maps[i].end)
        return a->maps.maps[i].end;
    uint64_t now = clock_us();
    if (attempt > 0 || now - a->maps_read_us < 100000) break;
    a->maps_read_us = now;
    proc_maps_free(&a->maps);
    if (proc_maps_read(a->t.pid, &a->maps) != 0) break;
  }
  return 0;
}

/* Name the unwound pcs. A return address points after its call: look up
 * pc - 1 for every frame but the innermost, so that a call at the very
 * end of a function is not named after the next one. */
static int name_frames(struct austinp *a, int n, bool *complete) {
  for (int i = 0; i < n; i++) {
    /* A return address outside every executable mapping is garbage that
     * the unwinder took from the stack: the stack ends here, unfinished. */
    const char *path;
    uint64_t start, end, bias;
    if (unwinder_mapping(a->u, a->pcs[i], &path, &start, &end, &bias) != 0) {
      *complete = false;
      return i;
    }
    struct native_frame *f = &a->native[i];
    const char *name = NULL;
    bool eval = false;
    uint64_t offset = 0, lookup = i == 0 ? a->pcs[i] : a->pcs[i] - 1;
    if (unwinder_symbol_marked(a->u, lookup, &name, &offset, &eval) == 0 && i > 0) offset++;
    *f = (struct native_frame){a->pcs[i], name, name ? offset : 0, name != NULL && eval};
  }
  return n;
}

/* Frames of the sample to write, root first; those beyond its capacity
 * (a runaway recursion) are dropped at the root end. */
static void push_frame(struct sample *out, struct sample_frame f) {
  if (out->nframes < SAMPLE_MAX_FRAMES) out->frames[out->nframes++] = f;
  else out->truncated = true;
}

static void push_native(struct sample *out, const struct native_frame *f) {
  push_frame(out, (struct sample_frame){.kind = FRAME_NATIVE, .pc = f->pc, .name = f->symbol,
                                        .line = (int)f->offset, .end_line = -1, .column = -1,
                                        .end_column = -1});
}

/* -k: the kernel frames at the leaf end, outermost first, as Austin 3.7
 * writes them (the :INVALID: mark, when there is one, stays last). */
static void push_kernel(const struct austinp *a, struct sample *out) {
  if (!a->kstack_ok) return;
  for (size_t i = a->kstack.n; i-- > 0;)
    push_frame(out, (struct sample_frame){.kind = FRAME_KERNEL, .name = a->kstack.names[i],
                                          .line = 0, .end_line = -1, .column = -1,
                                          .end_column = -1});
}

/* The sample to write: the Python frames woven into the native stack or,
 * when they cannot be woven, the native stack alone, marked invalid. */
static void emit_woven(struct austinp *a, int nnative, bool complete) {
  const struct sample *s = &a->sample;
  struct sample *out = &a->woven_sample;
  out->pid = s->pid;
  out->iid = s->iid;
  out->tid = s->tid;
  out->idle = s->idle;
  out->gc = s->gc;
  out->metric = s->metric;
  out->mem_delta = s->mem_delta;
  out->nframes = 0;
  out->truncated = false;
  int n = s->invalid ? -1
                     : weave(a->native, nnative, s->frames, (int)s->nframes,
                             a->woven, MAX_WOVEN);
  if (n < 0) {
    a->unwoven += !s->invalid;
    for (int i = nnative - 1; i >= 0; i--) push_native(out, &a->native[i]);
  } else {
    for (int i = 0; i < n; i++) {
      const struct woven_frame *f = &a->woven[i];
      if (f->kind == WOVEN_NATIVE) push_native(out, f->native);
      else push_frame(out, *f->py);
    }
  }
  push_kernel(a, out);
  out->invalid = n < 0 || !complete;
  emit_sample(&a->e, out);
  a->st.samples++;
  if (out->invalid) a->st.invalid++;
}

/* -k, before the stop. The kernel stack is read *before* PTRACE_INTERRUPT,
 * not during the stop: the interrupt wakes a thread that waits in a system
 * call (futex, nanosleep, poll, recv) and takes it out of the wait to the
 * ptrace stop, so that during the stop its stack file shows ptrace_stop,
 * get_signal, arch_do_signal_or_restart... and never the wait it was in
 * (seen on Debian 12 for all four calls). A waiting thread does not move,
 * so the stack read just before the stop is the stack at the stop; the
 * registers taken in the stop confirm it (kernel_after_stop). */
static void kernel_before_stop(struct austinp *a, pid_t tid) {
  a->kstack_ok = a->kr != NULL && kstack_reader_enabled(a->kr) &&
                 kstack_reader_read(a->kr, tid, &a->kstack) == 0;
}

/* Keep the kernel frames only if the stop broke a waiting system call:
 * a thread that left its wait between the read and the stop (or was in
 * user space, with an empty stack) shows no kernel frames rather than
 * stale ones. Nor when the read found the thread already in a ptrace stop
 * (a late stop of ours, after an earlier stop timed out, not yet
 * collected): then the wait it was in is not known. */
static void kernel_after_stop(struct austinp *a, const struct user_regs_struct *regs) {
  if (a->kstack_ok && (!kstack_regs_in_wait(regs) || kstack_in_ptrace_stop(&a->kstack)))
    a->kstack_ok = false;
}

/* Stop, snapshot, read the Python chain, resume: the thread is stopped
 * for this function only. Then unwind, weave and emit. */
static void sample_thread(struct austinp *a, const struct py_thread_ref *t) {
  struct user_regs_struct regs;
  pid_t tid = (pid_t)t->tid;
  kernel_before_stop(a, tid);
  if (ptrace_set_stop(a->ps, tid, &regs, STOP_TIMEOUT_US) != 0) return;
  kernel_after_stop(a, &regs);
  int snap_rc = snapshot_take(a->r, tid, &regs, stack_end(a, regs.rsp), STACK_COPY_MAX,
                              &a->snap);
  int py_rc = py_walk_thread(&a->w, t, &a->sample);
  ptrace_set_resume(a->ps, tid);
  /* Idle is what the thread was doing when we stopped it (its /proc state
   * now reads "traced"): waiting in a system call that the stop broke. */
  a->sample.idle = a->want_idle && kstack_regs_in_wait(&regs);

  if (py_rc != 0) return;
  if (!sample_policy_keep(&a->policy, &a->sample)) goto done;
  bool complete = false;
  int n = snap_rc == 0 ? unwinder_unwind(a->u, &a->snap, a->pcs, MAX_NATIVE, &complete) : 0;
  if (n < 0) n = 0;
  n = name_frames(a, n, &complete);
  unwinder_new_mappings(a->u, emit_map, &a->e);
  emit_woven(a, n, complete && n > 0);
done:
  py_code_cache_sweep(&a->w.codes);
}

static enum loop_end run_loop(struct austinp *a) {
  const struct options *o = a->o;
  struct sampling_stats *st = &a->st;
  sampler_stats_start(st);
  uint64_t last = st->start_us - o->interval_us, next = st->start_us;
  sample_policy_walker(o, &a->w);
  a->want_idle = a->w.want_idle;
  a->w.want_idle = false; /* see sample_thread */
  enum loop_end end;

  for (;;) {
    ptrace_set_poll(a->ps);
    if (sampler_stop_requested) { end = END_SIGNAL; break; }
    uint64_t now = clock_us();
    if (o->exposure_us && now - st->start_us >= o->exposure_us) { end = END_EXPOSURE; break; }
    if (!target_alive(&a->t)) { end = END_TARGET_EXITED; break; }
    a->sample.metric = now - last;
    last = now;
    sample_policy_round(&a->policy);

    /* Threads that started since the last round are seized now. */
    ptrace_set_sync(a->ps);
    int n = py_walk_list_threads(&a->w, a->threads, MAX_THREADS);
    for (int i = 0; i < n; i++) sample_thread(a, &a->threads[i]);
    if (ferror(a->out)) { end = END_OUTPUT; break; }

    uint64_t done = clock_us();
    sampler_stats_round(st, done - now, o->interval_us);
    next = sampler_next_round(next, done, o->interval_us);
    ptrace_set_sleep_until(a->ps, next);
  }
  sampler_stats_end(st);
  return end;
}

static int run(const struct options *o) {
  static struct austinp a;
  char why[512] = "";
  a.o = o;
  int out_fd = STDOUT_FILENO;
  if (o->output != NULL &&
      (out_fd = open(o->output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666)) < 0)
    return error_report(E_OUTPUT, "cannot open %s: %s", o->output, strerror(errno));
  signal(SIGPIPE, SIG_IGN);

  enum error_kind kind;
  uint64_t wait_us = o->timeout_us;
  if (o->command != NULL) {
    kind = target_launch(o->command, o->output == NULL, &a.t, why, sizeof why);
    if (wait_us < TARGET_LAUNCH_MIN_WAIT_US) wait_us = TARGET_LAUNCH_MIN_WAIT_US;
  } else {
    kind = target_attach(o->pid, &a.t, why, sizeof why);
  }
  if (kind == E_OK) kind = target_wait_python(&a.t, wait_us, &a.rt, why, sizeof why);
  if (kind != E_OK) {
    target_release(&a.t);
    return error_report(kind, "%s", why);
  }

  a.r = remote_open_pid(a.t.pid);
  a.ps = ptrace_set_new(a.t.pid);
  a.u = unwinder_new(a.t.pid);
  if (a.r == NULL || a.ps == NULL || a.u == NULL || py_walker_init(&a.w, a.r, &a.rt) != 0) {
    target_release(&a.t);
    return error_report(E_INTERNAL, "cannot set up the native sampler");
  }
  /* Nothing is written before the target is traced: from here on, a slow
   * reader of the output must not hold the target's threads. */
  static char outbuf[1 << 16];
  a.out = traced_output_open(out_fd, out_fd != STDOUT_FILENO, a.ps);
  if (a.out == NULL) {
    target_release(&a.t);
    return error_report(E_INTERNAL, "cannot set up the output");
  }
  setvbuf(a.out, outbuf, _IOFBF, sizeof outbuf);
  /* -k: without the privilege the first read warns and turns it off. */
  if (o->kernel && (a.kr = kstack_reader_new(a.t.pid)) == NULL) {
    target_release(&a.t);
    return error_report(E_INTERNAL, "cannot set up the kernel stack reader");
  }
  /* The evaluation loop's functions are told apart once per symbol table. */
  unwinder_set_classifier(a.u, weave_is_eval_symbol);
  ptrace_set_guard(a.ps);
  if (ptrace_set_sync(a.ps) < 0) {
    int err = errno;
    ptrace_set_guard(NULL);
    fclose(a.out);
    ptrace_set_free(a.ps);
    target_release(&a.t);
    if (err == EPERM || err == EACCES)
      return error_report(E_PERMISSION, "cannot trace process %d: %s", (int)a.t.pid,
                          strerror(err));
    return error_report(E_NO_PROCESS, "cannot trace process %d: %s", (int)a.t.pid,
                        strerror(err));
  }

  if (emit_open(&a.e, o->binary ? EMIT_FORMAT_MOJO : EMIT_FORMAT_TEXT, a.out,
                o->full ? EMIT_METRIC_FULL : o->memory ? EMIT_METRIC_MEMORY : EMIT_METRIC_TIME,
                o->pipe) != 0) {
    ptrace_set_guard(NULL);
    fclose(a.out);
    ptrace_set_free(a.ps);
    target_release(&a.t);
    return error_report(E_INTERNAL, "out of memory");
  }
  /* A MOJO copy of the same run, for the test suite. */
  a.copy_out = o->binary ? NULL : emit_open_mojo_copy(&a.copy, a.e.metrics);
  if (a.copy_out != NULL) a.e.also = &a.copy;
  sample_policy_init(&a.policy, o, a.t.pid);
  struct emit_header_info h = {o->interval_us, o->sleepless, false, a.rt.version};
  emit_header(&a.e, &h);
  unwinder_new_mappings(a.u, emit_map, &a.e);
  emit_header_end(&a.e);
  enum loop_end end = run_loop(&a);

  /* The target first: every thread resumed and detached before anything
   * else (output, cleanup) can go wrong. */
  ptrace_set_detach_all(a.ps);
  ptrace_set_guard(NULL);

  int status = 0;
  if (end != END_OUTPUT) {
    emit_footer(&a.e, &a.st);
    if (fflush(a.out) != 0) end = END_OUTPUT;
  }
  emit_close(&a.e);
  if (a.copy_out != NULL) fclose(a.copy_out);
  if (end == END_OUTPUT && errno != EPIPE)
    status = error_report(E_OUTPUT, "cannot write the output: %s", strerror(errno));
  if (a.unwoven)
    fprintf(stderr, "%s: %" PRIu64 " samples could not be woven (evaluation-loop runs and "
                    "Python entries differed)\n", error_progname, a.unwoven);

  if (end == END_TARGET_EXITED) target_wait(&a.t);
  else target_release(&a.t);

  fclose(a.out); /* before the set it serves goes */
  ptrace_set_free(a.ps);
  proc_maps_free(&a.maps);
  unwinder_free(a.u);
  kstack_reader_free(a.kr);
  snapshot_free(&a.snap);
  py_walker_free(&a.w);
  remote_close(a.r);
  py_runtime_free(&a.rt);
  return status;
}

int main(int argc, char **argv) {
  error_progname = "austinp";
  argp_program_version = "austinp " AUSTIN_COMPAT_VERSION " (" PACKAGE_STRING ")";
  struct options o;
  enum error_kind kind = cli_parse_austinp(argc, argv, AUSTINP_DEFAULT_INTERVAL_US, &o);
  if (kind != E_OK) return error_status(kind);
  if (o.where) return error_report(E_BAD_OPTION, "where mode (-w) is not available in austinp yet");
  return run(&o);
}
