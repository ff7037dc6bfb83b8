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
#include "capture.h"
#include "privilege.h"
#include "ptrace_set.h"
#include "py_walk.h"
#include "sampler_loop.h"
#include "target.h"
#include "traced_output.h"
#include "unwind.h"
#include "weave.h"
#include "native_run.h"
#include "where_native.h"

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
  struct native_run run;
  struct sample woven_sample; /* what is written: woven, native, kernel */
  struct capture capture;
  struct sample sample;
  uint64_t pcs[MAX_NATIVE];
  struct native_frame native[MAX_NATIVE];
  struct woven_frame woven[MAX_WOVEN];
  struct py_thread_ref threads[MAX_THREADS];
  struct sampling_stats st;
  uint64_t unwoven; /* samples whose runs and entries did not match */
  uint64_t stopped[UNWIND_STOP_KINDS]; /* samples whose native unwind stopped short */
};

/* One `# map:` line per executable file mapping, so that native
 * addresses can be resolved later, elsewhere (austinp-resolve): all of
 * them after the header, then each new one (a module imported mid-run)
 * before the first sample that may name it. With -C each line names its
 * process ("P<pid> "): a child started by exec has a layout of its own. */
struct map_dest {
  struct emitter *e;
  pid_t pid;
  bool with_pid;
};

static void emit_map(void *arg, uint64_t start, uint64_t end, const char *path) {
  const struct map_dest *d = arg;
  if (d->with_pid)
    emit_metadata(d->e, "map", "P%d %" PRIx64 "-%" PRIx64 " %s", (int)d->pid, start, end, path);
  else
    emit_metadata(d->e, "map", "%" PRIx64 "-%" PRIx64 " %s", start, end, path);
}

static void announce_mappings(struct austinp *a, struct native_session *s) {
  struct map_dest d = {&a->e, s->p->pid, a->o->children};
  unwinder_new_mappings(s->u, emit_map, &d);
}

/* Frames of the sample to write, root first; those beyond its capacity
 * (a runaway recursion) are dropped at the root end. */
static void push_frame(struct sample *out, struct sample_frame f) {
  if (out->nframes < SAMPLE_MAX_FRAMES) out->frames[out->nframes++] = f;
  else out->truncated = true;
}

static void push_native(struct sample *out, const struct native_frame *f) {
  push_frame(out, (struct sample_frame){.kind = FRAME_NATIVE, .pc = f->pc, .name = f->name,
                                        .line = (int)f->offset, .end_line = -1, .column = -1,
                                        .end_column = -1});
}

/* -k: the kernel frames at the leaf end, outermost first, as Austin 3.7
 * writes them (the :INVALID: mark, when there is one, stays last). */
static void push_kernel(const struct austinp *a, struct sample *out) {
  const struct capture *c = &a->capture;
  if (!c->kstack_ok) return;
  for (size_t i = c->kstack.n; i-- > 0;)
    push_frame(out, (struct sample_frame){.kind = FRAME_KERNEL, .name = c->kstack.names[i],
                                          .line = 0, .end_line = -1, .column = -1,
                                          .end_column = -1});
}

/* Woven frames, root first. */
static void push_woven(struct sample *out, const struct woven_frame *w, int n) {
  for (int i = 0; i < n; i++) {
    if (w[i].kind == WOVEN_NATIVE) push_native(out, w[i].native);
    else push_frame(out, *w[i].py);
  }
}

/* The frame that marks where native unwinding stopped, root side of the
 * native frames reached: "native:[unwind stopped (<reason>)]:0". Austin
 * readers split a frame at its last two colons: the name has none. Its
 * file is not "native@0x...", so that austinp-resolve leaves it alone. */
#define MARK_FILE "native"
static void push_stop_mark(struct sample *out, enum unwind_stop why) {
  static char names[UNWIND_STOP_KINDS][64];
  if (names[why][0] == '\0')
    snprintf(names[why], sizeof names[why], "[unwind stopped (%s)]", unwind_stop_name(why));
  push_frame(out, (struct sample_frame){.kind = FRAME_PYTHON, .filename = MARK_FILE,
                                        .name = names[why], .line = 0, .end_line = -1,
                                        .column = -1, .end_column = -1});
}

/* A native stack that stops short of its root: the Python frames of the
 * runs it did not reach (all of them when it reached none), the marker,
 * then what it reached, with its runs woven when their count allows. The
 * Python stack is never lost to a failed native unwind. */
static void push_stopped(struct austinp *a, struct sample *out, int nnative,
                         enum unwind_stop why) {
  const struct sample *s = &a->sample;
  int outer = 0;
  int n = weave_partial(a->native, nnative, s->frames, (int)s->nframes, a->woven, MAX_WOVEN,
                        &outer);
  if (n < 0) outer = (int)s->nframes;
  for (int i = 0; i < outer; i++) push_frame(out, s->frames[i]);
  push_stop_mark(out, why);
  if (n < 0)
    for (int i = nnative - 1; i >= 0; i--) push_native(out, &a->native[i]);
  else
    push_woven(out, a->woven, n);
}

/* The sample to write: the Python frames woven into the native stack; or,
 * when the native stack stops short, as push_stopped writes it; or, when
 * they cannot be woven (or the Python stack could not be read), the
 * native stack alone, marked invalid. */
static void emit_woven(struct austinp *a, int nnative, enum unwind_stop why) {
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
  bool complete = why == UNWIND_COMPLETE && nnative > 0;
  if (!complete && !s->invalid && (nnative > 0 || s->nframes > 0)) {
    push_stopped(a, out, nnative, why);
    a->stopped[why]++;
    out->invalid = false;
  } else {
    int n = s->invalid ? -1
                       : weave(a->native, nnative, s->frames, (int)s->nframes,
                               a->woven, MAX_WOVEN);
    if (n < 0) {
      a->unwoven += !s->invalid;
      for (int i = nnative - 1; i >= 0; i--) push_native(out, &a->native[i]);
    } else {
      push_woven(out, a->woven, n);
    }
    out->invalid = n < 0 || !complete;
  }
  push_kernel(a, out);
  emit_sample(&a->e, out);
  sampler_stats_written(&a->st, out);
  a->st.samples++;
  if (out->invalid) a->st.invalid++;
}

/* Capture (the only time the thread is stopped), then unwind, weave and
 * write from the capture while the thread runs. */
static void sample_thread(struct austinp *a, struct native_session *s,
                          const struct py_thread_ref *t) {
  struct capture *c = &a->capture;
  if (capture_thread(&s->cap, (pid_t)t->tid, t, &a->sample, STOP_TIMEOUT_US, false, c) != 0 ||
      c->py_rc != 0)
    return;
  a->sample.idle = a->run.want_idle && c->in_wait;
  if (sample_policy_keep(&s->policy, &a->sample)) {
    enum unwind_stop why;
    int n = capture_native_stack_why(s->u, c, a->pcs, a->native, MAX_NATIVE, &why);
    announce_mappings(a, s);
    emit_woven(a, n, why);
  }
  py_code_cache_sweep(&s->p->w.codes);
}

/* One round over the threads of one process. False when it is a child
 * that exited or can no longer be read (it ran exec). */
static bool sample_process(struct austinp *a, struct native_session *s) {
  struct sampled_proc *p = s->p;
  if (p->child && !target_alive(&p->t)) return false;
  int n = py_walk_list_threads(&p->w, a->threads, MAX_THREADS);
  if (n < 0) return !p->child;
  for (int i = 0; i < n; i++) {
    /* A child between fork and exec names its parent's threads. */
    if (p->child && !proc_set_own_thread(p, a->threads[i].tid)) continue;
    sample_thread(a, s, &a->threads[i]);
  }
  return true;
}

/* One round over every process; a child lost is dropped. */
static void sample_round(struct austinp *a, uint64_t now) {
  struct native_run *run = &a->run;
  for (size_t i = 0; i < run->n && !ferror(a->out);) {
    if (sample_process(a, run->s[i])) i++;
    else native_run_lost(run, i, now);
  }
}

static enum loop_end run_loop(struct austinp *a) {
  const struct options *o = a->o;
  struct native_run *run = &a->run;
  struct sampling_stats *st = &a->st;
  sampler_stats_start(st);
  st->gc = o->gc;
  uint64_t last = st->start_us - o->interval_us, next = st->start_us;
  enum loop_end end;

  for (;;) {
    ptrace_set_poll(run->ps);
    if (sampler_stop_requested) { end = END_SIGNAL; break; }
    uint64_t now = clock_us();
    if (o->exposure_us && now - st->start_us >= o->exposure_us) { end = END_EXPOSURE; break; }
    native_run_refresh(run, now); /* -C: children that started */
    if (native_run_over(run, now)) { end = END_TARGET_EXITED; break; }
    a->sample.metric = now - last;
    last = now;
    for (size_t i = 0; i < run->n; i++) sample_policy_round(&run->s[i]->policy);

    /* Threads that started since the last round are seized now. In a
     * privileged run, a refusal means that a process became what its user
     * may not trace (it ran a setuid program): a child is dropped, and
     * sampling ends when it is the target. */
    if (ptrace_set_sync(run->ps) < 0 && errno == EPERM && privilege_active() &&
        native_run_drop_refused(run, now)) {
      fprintf(stderr, "%s: process %d may no longer be traced by its user: sampling stopped\n",
              error_progname, (int)run->t.pid);
      end = END_UNREADABLE;
      break;
    }
    sample_round(a, now);
    if (ferror(a->out)) { end = END_OUTPUT; break; }

    uint64_t done = clock_us();
    sampler_stats_round(st, done - now, o->interval_us);
    next = sampler_next_round(next, done, o->interval_us);
    ptrace_set_sleep_until(run->ps, next);
  }
  sampler_stats_end(st);
  return end;
}

/* A launched command that a privileged run may no longer trace is the
 * user's program all the same: it runs on, untraced, to its end, unless
 * we are asked to stop (then it is terminated, as at any early end). */
static void wait_untraced(struct target *t) {
  if (!t->launched) return;
  while (target_alive(t) && !sampler_stop_requested) clock_sleep_until(clock_us() + 10000);
  target_release(t);
}

/* The output: a slow reader of it must not hold the target's threads. */
static int open_output(struct austinp *a, int out_fd) {
  static char outbuf[1 << 16];
  a->out = traced_output_open(out_fd, out_fd != STDOUT_FILENO, a->run.ps);
  if (a->out == NULL) return -1;
  setvbuf(a->out, outbuf, _IOFBF, sizeof outbuf);
  return 0;
}

/* The header, then every mapping of every process. */
static void write_header(struct austinp *a) {
  const struct options *o = a->o;
  struct native_run *run = &a->run;
  struct emit_header_info h = {o->interval_us, o->sleepless, o->children,
                               run->procs.procs[0]->rt.version};
  emit_header(&a->e, &h);
  for (size_t i = 0; i < run->n; i++) announce_mappings(a, run->s[i]);
  emit_header_end(&a->e);
}

/* Footer, before Austin's own entries (which end the profile): how many
 * samples' native unwinds stopped short, by reason,
 * "# unwind_stopped: no-unwind-info=3,stack-end=1"; none when none did.
 * Austin readers ignore metadata they do not know. */
static void emit_stop_counts(struct austinp *a) {
  char buf[512];
  size_t len = 0;
  for (int k = 0; k < UNWIND_STOP_KINDS; k++) {
    if (a->stopped[k] == 0 || len >= sizeof buf) continue;
    int w = snprintf(buf + len, sizeof buf - len, "%s%s=%" PRIu64, len ? "," : "",
                     unwind_stop_name((enum unwind_stop)k), a->stopped[k]);
    if (w > 0) len += (size_t)w; /* past the end when cut: the loop ends */
  }
  if (len > 0) emit_footer_metadata(&a->e, "unwind_stopped", "%s", buf);
}

/* After the run, on stderr: how long threads stayed stopped (when asked)
 * and how many samples could not be woven. */
static void report_counts(struct austinp *a) {
  native_run_print_stop_stats(&a->run, stderr);
  if (a->unwoven)
    fprintf(stderr, "%s: %" PRIu64 " samples could not be woven (evaluation-loop runs and "
                    "Python entries differed)\n", error_progname, a->unwoven);
}

static int run(const struct options *o) {
  static struct austinp a;
  char why[512] = "";
  a.o = o;
  int out_fd = STDOUT_FILENO;
  if (o->output != NULL &&
      (out_fd = open(o->output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666)) < 0)
    return error_report(E_OUTPUT_CREATE, "cannot open %s: %s", o->output, strerror(errno));
  signal(SIGPIPE, SIG_IGN);

  enum error_kind kind = native_run_start(&a.run, o, why, sizeof why);
  if (kind != E_OK) {
    if (out_fd != STDOUT_FILENO) close(out_fd);
    return error_report(kind, "%s", why);
  }
  /* Nothing is written before the target is traced: from here on, a slow
   * reader of the output must not hold the target's threads. */
  if (open_output(&a, out_fd) != 0) {
    native_run_end(&a.run, false);
    return error_report(E_INTERNAL, "cannot set up the output");
  }
  if (emit_open(&a.e, o->binary ? EMIT_FORMAT_MOJO : EMIT_FORMAT_TEXT, a.out,
                o->full ? EMIT_METRIC_FULL : o->memory ? EMIT_METRIC_MEMORY : EMIT_METRIC_TIME,
                o->pipe) != 0) {
    native_run_detach(&a.run);
    fclose(a.out);
    native_run_end(&a.run, false);
    return error_report(E_INTERNAL, "out of memory");
  }
  /* A MOJO copy of the same run, for the test suite. */
  a.copy_out = o->binary ? NULL : emit_open_mojo_copy(&a.copy, a.e.metrics);
  if (a.copy_out != NULL) a.e.also = &a.copy;
  write_header(&a);
  enum loop_end end = run_loop(&a);

  /* The target first: every thread resumed and detached before anything
   * else (output, cleanup) can go wrong. */
  native_run_detach(&a.run);

  int status = 0;
  if (end != END_OUTPUT) {
    emit_stop_counts(&a);
    emit_footer(&a.e, &a.st);
    if (fflush(a.out) != 0) end = END_OUTPUT;
  }
  emit_close(&a.e);
  if (a.copy_out != NULL) fclose(a.copy_out);
  if (end == END_OUTPUT && errno != EPIPE)
    status = error_report(E_OUTPUT, "cannot write the output: %s", strerror(errno));
  if (end == END_SIGNAL && status == 0) status = sampler_signal_status();
  report_counts(&a);
  if (end == END_UNREADABLE) wait_untraced(&a.run.t);

  fclose(a.out); /* before the set it serves goes */
  native_run_end(&a.run, end == END_TARGET_EXITED);
  capture_free(&a.capture);
  return status;
}

int main(int argc, char **argv) {
  error_progname = "austinp";
  /* Before anything else: a privileged start becomes its user (privilege.h). */
  if (privilege_init() != E_OK) return error_status(E_INTERNAL);
  argp_program_version = "austinp " AUSTIN_COMPAT_VERSION " (" PACKAGE_STRING ")";
  struct options o;
  enum error_kind kind = cli_parse_austinp(argc, argv, AUSTINP_DEFAULT_INTERVAL_US, &o);
  if (kind != E_OK) return error_status(kind);
  if (o.where) return where_native(&o);
  return run(&o);
}
