#include <errno.h>
#include <sys/prctl.h>
#include <string.h>

#include "clock.h"
#include "emit_text.h"
#include "sampler_loop.h"

volatile sig_atomic_t sampler_stop_requested = 0;

static void on_stop_signal(int signo) {
  (void)signo;
  sampler_stop_requested = 1;
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
  FILE *out;
  bool sleepless;
  bool write_failed;
  struct sampling_stats *st;
};

static int on_sample(const struct sample *s, void *ctx) {
  struct round *rd = ctx;
  rd->st->samples++;
  if (s->invalid) rd->st->invalid++;
  if (rd->sleepless && s->idle) return 0;
  /* A thread with no Python frame (not started, or finishing) has nothing
   * to attribute its time to. */
  if (s->nframes == 0 && !s->invalid) return 0;
  emit_text_sample(rd->out, s);
  if (ferror(rd->out)) {
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

enum loop_end sampler_run(struct py_walker *w, struct target *t,
                          const struct options *o, FILE *out,
                          struct sampling_stats *st) {
  static struct sample scratch; /* large: keep it off the stack */
  struct round rd = {out, o->sleepless, false, st};
  enum loop_end end;

  /* The default timer slack (50 us) would stretch every sleep at short
   * intervals: ask the kernel to wake us as close to the deadline as it can. */
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);

  sampler_stats_start(st);
  uint64_t last = st->start_us - o->interval_us, next = st->start_us;
  w->want_idle = o->sleepless;

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

    int n = py_walk_all(w, &scratch, on_sample, &rd);
    if (rd.write_failed) {
      end = END_OUTPUT;
      break;
    }
    if (n < 0 && !target_alive(t)) {
      end = END_TARGET_EXITED;
      break;
    }
    uint64_t done = clock_us();
    sampler_stats_round(st, done - now, o->interval_us);
    if (!target_alive(t)) {
      end = END_TARGET_EXITED;
      break;
    }
    next = sampler_next_round(next, done, o->interval_us);
    clock_sleep_until(next);
  }
  sampler_stats_end(st);
  return end;
}
