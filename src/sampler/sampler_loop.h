/* The sampling loop: walk, emit, sleep; statistics for the footer. */
#ifndef SAMPLER_LOOP_H
#define SAMPLER_LOOP_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cli.h"
#include "py_walk.h"
#include "target.h"

struct sampling_stats {
  uint64_t start_us, duration_us;
  uint64_t rounds;          /* sampling rounds (one per interval) */
  uint64_t long_rounds;     /* rounds that took longer than the interval */
  uint64_t min_us, max_us, total_us; /* duration of a round */
  uint64_t samples;         /* thread samples */
  uint64_t invalid;         /* thread samples that could not be read fully */
  bool gc;                  /* -g: the footer gives gc_us */
  uint64_t gc_us;           /* -g: time of the written samples taken while
                             * the collector ran, as Austin 3.7 sums it */
};

/* Set by the signal handlers (to the signal's number): the loop ends at
 * the next round. */
extern volatile sig_atomic_t sampler_stop_requested;

/* The exit status of a run that a signal stopped (its profile complete):
 * Austin 3.7's for SIGINT and SIGTERM (254, 241), 0 for SIGHUP, which
 * Austin does not catch. */
int sampler_signal_status(void);

/* Install handlers for SIGINT, SIGTERM and SIGHUP that request a stop, and
 * ignore SIGPIPE (a closed output is seen as a write error). */
void sampler_install_signals(void);

/* Statistics of a run: start, one sampling round that took `took` us,
 * end (duration, and min 0 when there was no round). */
void sampler_stats_start(struct sampling_stats *st);
void sampler_stats_round(struct sampling_stats *st, uint64_t took, uint64_t interval);
void sampler_stats_end(struct sampling_stats *st);
/* A sample was written: with -g, its time goes to the collector's when
 * it was taken during a collection (Austin's `# gc:`, microseconds). */
void sampler_stats_written(struct sampling_stats *st, const struct sample *s);

/* Start of the round after the one due at `next`, given the time `done`
 * that round ended: the next point of the interval grid after done. */
uint64_t sampler_next_round(uint64_t next, uint64_t done, uint64_t interval);

/* Why the loop ended. */
enum loop_end { END_TARGET_EXITED, END_EXPOSURE, END_SIGNAL, END_OUTPUT, END_UNREADABLE };

/* Which samples a run writes, as the options ask (-s, -m, -f): the rule
 * of both samplers. */
bool sample_policy_wanted(const struct options *o, const struct sample *s);

/* austinp's single process: the memory delta (-m, -f) taken once per
 * round by a running thread, then sample_policy_wanted. */
struct sample_policy {
  const struct options *o;
  pid_t pid;
  int64_t last_rss;   /* resident bytes when the last delta was taken */
  bool mem_taken;     /* this round's delta went to a thread already */
  unsigned starved;   /* rounds in a row whose delta none took */
};
void sample_policy_init(struct sample_policy *p, const struct options *o, pid_t pid);
/* A new sampling round starts. */
void sample_policy_round(struct sample_policy *p);
/* Fill s->mem_delta (-m, -f); false when the sample is not to be written. */
bool sample_policy_keep(struct sample_policy *p, struct sample *s);
/* What the walker must read for these options (idle state, GC state). */
void sample_policy_walker(const struct options *o, struct py_walker *w);

struct emitter;   /* emit.h */
struct proc_set;  /* proc_set.h */

/* Sample the processes of ps until the target ends (with -C: until it and
 * every sampled descendant have ended), the exposure expires or a signal
 * comes. */
enum loop_end sampler_run(struct proc_set *ps, const struct options *o,
                          struct emitter *e, struct sampling_stats *st);

#endif
