/* Emitters: one interface, one file per output format.
 *
 * A run writes metadata (a header), samples, then more metadata (a
 * footer). Each format (emit_text.c, emit_mojo.c) fills a struct
 * emitter_ops; the sampler only ever calls the emit_* functions below,
 * so adding a format touches one file and the table in emit.c.
 *
 * Which metrics a sample carries (time, memory, both with the idle flag)
 * is the run's metric mode, fixed when the emitter is opened. */
#ifndef EMIT_H
#define EMIT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "sample.h"

enum emit_format { EMIT_FORMAT_TEXT, EMIT_FORMAT_MOJO };

/* The metric each sample ends with, as Austin's -m and -f choose. */
enum emit_metrics {
  EMIT_METRIC_TIME,   /* microseconds since the previous sample */
  EMIT_METRIC_MEMORY, /* resident memory delta, bytes (-m) */
  EMIT_METRIC_FULL,   /* time, idle flag, memory delta (-f) */
};

struct emitter;

struct emitter_ops {
  /* Anything that opens the stream (MOJO's magic). 0 or -1. */
  int (*open)(struct emitter *e);
  /* One metadata entry; `footer` is true for those written after the
   * samples (the text format separates them with a blank line). */
  void (*metadata)(struct emitter *e, const char *key, const char *value,
                   bool footer);
  /* The header is complete (the text format ends it with a blank line). */
  void (*header_end)(struct emitter *e);
  void (*sample)(struct emitter *e, const struct sample *s);
  /* Free the format's own state (not the stream). */
  void (*close)(struct emitter *e);
};

struct emitter {
  const struct emitter_ops *ops;
  FILE *out;
  enum emit_metrics metrics;
  bool pipe;        /* -P: every sample reaches the reader at once */
  bool footer_open; /* the first footer entry has been written */
  void *state;      /* the format's own */
  struct emitter *also; /* a second emitter that receives the same run */
};

/* Set up an emitter of a format on `out` and write what opens the stream.
 * 0 on success, -1 when out of memory. */
int emit_open(struct emitter *e, enum emit_format format, FILE *out,
              enum emit_metrics metrics, bool pipe);

/* Metadata, "key: value" in Austin's words; value is printf-formatted. */
void emit_metadata(struct emitter *e, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void emit_footer_metadata(struct emitter *e, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The metadata Austin 3.7 opens a profile with, in its order:
 * austin, interval, mode, memory (-m/-f: total physical memory, KiB),
 * multiprocess (-C), then python; the header ends after the caller's own
 * entries, with emit_header_end. */
struct emit_header_info {
  uint64_t interval_us;
  bool sleepless, children;
  const char *python_version;
};
void emit_header(struct emitter *e, const struct emit_header_info *h);
void emit_header_end(struct emitter *e);

void emit_sample(struct emitter *e, const struct sample *s);

/* The statistics Austin 3.7 closes a profile with: duration, then
 * with -g, gc (time in the collector, us), sampling (min,avg,max round
 * time), saturation, errors. */
struct sampling_stats;
void emit_footer(struct emitter *e, const struct sampling_stats *st);

/* Free the emitter's state; the stream stays open (the caller owns it). */
void emit_close(struct emitter *e);

/* The text of a native frame's "file" part, as Austin names it:
 * native@0x<pc>. buf must hold EMIT_NATIVE_NAME_MAX bytes. */
#define EMIT_NATIVE_NAME_MAX 32
const char *emit_native_filename(uint64_t pc, char *buf);

/* PYAUSTIN_MOJO_COPY=FILE: a MOJO emitter on FILE that a text run
 * attaches as `also`, so that the test suite can check that both formats
 * carry the same samples. Returns the stream (the caller closes it after
 * emit_close), NULL when not asked for or not possible. */
FILE *emit_open_mojo_copy(struct emitter *copy, enum emit_metrics metrics);

/* Format-specific constructors (emit_text.c, emit_mojo.c). */
extern const struct emitter_ops emit_text_ops;
extern const struct emitter_ops emit_mojo_ops;

#endif
