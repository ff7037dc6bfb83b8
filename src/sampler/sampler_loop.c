#include <errno.h>
#include <sys/prctl.h>
#include <string.h>

#include <stdio.h>
#include <unistd.h>

#include "clock.h"
#include "emit.h"
#include "proc_set.h"
#include "proc_stat.h"
#include "sampler_loop.h"

volatile sig_atomic_t sampler_stop_requested = 0;

static void on_stop_signal(int signo) {
  sampler_stop_requested = signo;
}

int sampler_signal_status(void) {
  /* Austin 3.7 returns minus the signal's number: 254, 241. */
  int signo = (int)sampler_stop_requested;
  return signo == SIGINT || signo == SIGTERM ? 256 - signo : 0;
}

void sampler_install_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal;
  sa.sa_flags = SA_RESTART; /* a write cut by the signal must not look failed */
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
}

struct round {
  struct emitter *e;
  const struct options *o;
  struct sampled_proc *p; /* the process being walked */
  bool mem_taken;     /* this round's delta of p went to a thread already */
  bool write_failed;
  struct sampling_stats *st;
};

/* Resident memory of a process, in bytes, or -1 when unreadable; read
 * through thread tid (0: the main thread), whose memory it is. Not through
 * the main thread alone: once that thread has let the memory go (it ended,
 * or the process is exiting while other threads are still read) the kernel
 * writes zeros there, and a delta to zero would be the whole process's. A
 * thread that shows no resident page is in the same case. */
static int64_t resident_bytes(pid_t pid, uint64_t tid) {
  char buf[128];
  if (proc_task_read(pid, (pid_t)tid, "statm", buf, sizeof buf) <= 0) return -1;
  long long size, resident;
  if (sscanf(buf, "%lld %lld", &size, &resident) != 2 || resident <= 0) return -1;
  return (int64_t)resident * sysconf(_SC_PAGESIZE);
}

/* Does this sample take its process's memory delta of the round? As in
 * Austin, the thread holding the GIL does: it is the one that can be
 * allocating Python objects; a thread running C code without the GIL,
 * or waiting for it, does not. When no thread holds the GIL (all run C
 * code, or sleep) or it cannot be read, the first thread found running
 * does: the change can only come from a running thread, and a delta held
 * back would later be given to a holder that did not cause it. A thread
 * seen idle never takes it, not even the holder: it let the GIL go after
 * the GIL was read, or it is blocked holding it and changes nothing. A
 * round that gives the delta to none (the holder was not sampled) hands
 * the change, whole, to the next one.
 *
 * Sub-interpreters with GILs of their own (3.12+) can have several
 * holders at once, but the resident size is the process's: the delta
 * still goes once per round, to the first holder met in the walk.
 *
 * The holder may also be a thread that no sample takes for long (seen on
 * 3.8: a run of 2 s with one delta in all); after GIL_STARVED_ROUNDS
 * rounds in a row without a taker, the first running thread takes the
 * change, as when the GIL is free: a delta late and misplaced once is
 * better than memory changes never reported. */
#define GIL_STARVED_ROUNDS 50

static bool takes_memory_delta(const struct sample *s, unsigned starved) {
  return !s->idle && (s->gil != SAMPLE_GIL_OTHER || starved >= GIL_STARVED_ROUNDS);
}

/* The change of pid's resident size since *last_rss, read through the
 * sample's thread, into s->mem_delta. False when unreadable (the change
 * then goes, whole, with a later reading). */
static bool give_memory_delta(pid_t pid, int64_t *last_rss, struct sample *s) {
  int64_t rss = resident_bytes(pid, s->tid);
  if (rss < 0) return false;
  s->mem_delta = rss - *last_rss;
  *last_rss = rss;
  return true;
}

static void take_memory_delta(struct round *rd, struct sample *s) {
  s->mem_delta = 0;
  if (rd->mem_taken || !takes_memory_delta(s, rd->p->mem_starved)) return;
  rd->mem_taken = give_memory_delta(rd->p->pid, &rd->p->last_rss, s);
}

bool sample_policy_wanted(const struct options *o, const struct sample *s) {
  /* Full mode keeps idle samples: they carry the idle flag. */
  if (o->sleepless && s->idle && !o->full) return false;
  /* Memory mode reports only the samples that saw memory change. */
  if (o->memory && !o->full && s->mem_delta == 0) return false;
  return true;
}

/* austinp's: one process, the same rule for the memory delta (the GIL is
 * read by py_walk_thread while the thread is stopped). */
void sample_policy_init(struct sample_policy *p, const struct options *o, pid_t pid) {
  *p = (struct sample_policy){o, pid, resident_bytes(pid, 0), false, 0};
}

void sample_policy_round(struct sample_policy *p) {
  p->starved = p->mem_taken ? 0 : p->starved + 1;
  p->mem_taken = false;
}

bool sample_policy_keep(struct sample_policy *p, struct sample *s) {
  const struct options *o = p->o;
  s->mem_delta = 0;
  if ((o->memory || o->full) && !p->mem_taken && takes_memory_delta(s, p->starved))
    p->mem_taken = give_memory_delta(p->pid, &p->last_rss, s);
  return sample_policy_wanted(o, s);
}

void sample_policy_walker(const struct options *o, struct py_walker *w) {
  w->want_idle = o->sleepless || o->full || o->memory;
  w->want_gc = o->gc;
  w->want_gil = o->memory || o->full;
}

static int on_sample(struct sample *s, void *ctx) {
  struct round *rd = ctx;
  const struct options *o = rd->o;
  if (rd->p->child && !proc_set_own_thread(rd->p, s->tid)) return 0;
  rd->st->samples++;
  if (s->invalid) rd->st->invalid++;
  /* A thread with no Python frame (not started, or finishing) has nothing
   * to attribute its time to; nor its memory delta, which is left to the
   * next thread rather than lost with a sample never written. */
  if (s->nframes == 0 && !s->invalid) return 0;
  if (o->memory || o->full) take_memory_delta(rd, s);
  if (!sample_policy_wanted(o, s)) return 0;
  emit_sample(rd->e, s);
  sampler_stats_written(rd->st, s);
  if (ferror(rd->e->out)) {
    rd->write_failed = true;
    return 1;
  }
  return 0;
}

void sampler_stats_start(struct sampling_stats *st) {
  memset(st, 0, sizeof *st);
  st->min_us = UINT64_MAX;
  st->start_us = clock_us();
}

void sampler_stats_written(struct sampling_stats *st, const struct sample *s) {
  if (st->gc && s->gc) st->gc_us += s->metric;
}

void sampler_stats_round(struct sampling_stats *st, uint64_t took, uint64_t interval) {
  st->rounds++;
  st->total_us += took;
  if (took < st->min_us) st->min_us = took;
  if (took > st->max_us) st->max_us = took;
  if (took > interval) st->long_rounds++;
}

void sampler_stats_end(struct sampling_stats *st) {
  st->duration_us = clock_us() - st->start_us;
  if (st->min_us == UINT64_MAX) st->min_us = 0;
}

/* Rounds start on a fixed grid, so that the wake-up latency of each sleep
 * does not add up; after a stall we resume on the grid, not in a burst. */
uint64_t sampler_next_round(uint64_t next, uint64_t done, uint64_t interval) {
  next += interval;
  if (next <= done) next = done + interval - (done - next) % interval;
  return next;
}

/* Walk one process. Returns true when its walk failed (the runtime could
 * not be read). */
static bool walk_process(struct round *rd, struct sampled_proc *p, struct sample *scratch) {
  rd->p = p;
  rd->mem_taken = false;
  if ((rd->o->memory || rd->o->full) && !p->rss_known) {
    /* The first reading is the baseline: no delta before it. */
    p->last_rss = resident_bytes(p->pid, 0);
    p->rss_known = p->last_rss >= 0;
  }
  bool failed = py_walk_all(&p->w, scratch, on_sample, rd) < 0;
  p->mem_starved = rd->mem_taken ? 0 : p->mem_starved + 1;
  return failed;
}

/* One round over every sampled process. With -C, a child whose walk
 * failed is dropped or looked for again (proc_set_lost); the target's own
 * failure is judged by the caller, from its liveness. */
static void walk_round(struct proc_set *ps, struct round *rd, struct sample *scratch,
                       uint64_t now) {
  for (size_t i = 0; i < ps->n && !rd->write_failed;) {
    struct sampled_proc *p = ps->procs[i];
    if (walk_process(rd, p, scratch) && !rd->write_failed && p->child) {
      proc_set_lost(ps, i, now);
      continue;
    }
    i++;
  }
}

/* Is the run over? Without -C it ends with the target; with -C, once the
 * target has exited and no descendant is sampled any more. */
static bool run_over(struct proc_set *ps) {
  if (target_alive(ps->root)) return false;
  if (!ps->children) return true;
  for (size_t i = 0; i < ps->n; i++)
    if (!ps->procs[i]->child) {
      proc_set_lost(ps, i, 0);
      break;
    }
  return ps->n == 0;
}

enum loop_end sampler_run(struct proc_set *ps, const struct options *o,
                          struct emitter *e, struct sampling_stats *st) {
  static struct sample scratch; /* large: keep it off the stack */
  struct round rd = {e, o, NULL, false, false, st};
  enum loop_end end;

  /* The default timer slack (50 us) would stretch every sleep at short
   * intervals: ask the kernel to wake us as close to the deadline as it can. */
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);

  sampler_stats_start(st);
  st->gc = o->gc;
  uint64_t last = st->start_us - o->interval_us, next = st->start_us;
  ps->want_idle = o->sleepless || o->full || o->memory;
  ps->want_gc = o->gc;
  ps->want_gil = o->memory || o->full;
  for (size_t i = 0; i < ps->n; i++) {
    ps->procs[i]->w.want_idle = ps->want_idle;
    ps->procs[i]->w.want_gc = ps->want_gc;
    ps->procs[i]->w.want_gil = ps->want_gil;
  }

  for (;;) {
    if (sampler_stop_requested) {
      end = END_SIGNAL;
      break;
    }
    uint64_t now = clock_us();
    if (o->exposure_us && now - st->start_us >= o->exposure_us) {
      end = END_EXPOSURE;
      break;
    }
    scratch.metric = now - last;
    last = now;
    proc_set_refresh(ps, now);

    walk_round(ps, &rd, &scratch, now);
    if (rd.write_failed) {
      end = END_OUTPUT;
      break;
    }
    uint64_t done = clock_us();
    sampler_stats_round(st, done - now, o->interval_us);
    if (run_over(ps)) {
      end = END_TARGET_EXITED;
      break;
    }
    next = sampler_next_round(next, done, o->interval_us);
    clock_sleep_until(next);
  }
  sampler_stats_end(st);
  return end;
}
