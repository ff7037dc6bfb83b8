/* Austin's collapsed-stack text format: "# key: value" metadata and one
 * line per sample, P<pid>;T<iid>:<tid>;<frame>;... <metric(s)>. */
#include <inttypes.h>

#include "config.h"

#include "emit.h"
#include "emit_text.h"

static void text_metadata(struct emitter *e, const char *key, const char *value,
                          bool footer) {
  /* The footer is set apart from the samples by a blank line. */
  if (footer && !e->footer_open) fputc('\n', e->out);
  fprintf(e->out, "# %s: %s\n", key, value);
}

static void text_header_end(struct emitter *e) { fputc('\n', e->out); }

static void text_frame(FILE *out, const struct sample_frame *f) {
  char buf[EMIT_NATIVE_NAME_MAX];
  switch (f->kind) {
  case FRAME_NATIVE:
    fprintf(out, ";%s:%s:%d", emit_native_filename(f->pc, buf),
            f->name ? f->name : "??", f->line);
    break;
  case FRAME_KERNEL:
    fprintf(out, ";kernel:%s:0", f->name ? f->name : "??");
    break;
  default:
    fprintf(out, ";%s:%s:%d", f->filename, f->name, f->line);
  }
}

static void text_metrics(const struct emitter *e, const struct sample *s) {
  switch (e->metrics) {
  case EMIT_METRIC_MEMORY:
    fprintf(e->out, " %" PRId64 "\n", s->mem_delta);
    break;
  case EMIT_METRIC_FULL:
    fprintf(e->out, " %" PRIu64 ",%d,%" PRId64 "\n", s->metric, s->idle ? 1 : 0,
            s->mem_delta);
    break;
  default:
    fprintf(e->out, " %" PRIu64 "\n", s->metric);
  }
}

static void text_sample(struct emitter *e, const struct sample *s) {
  fprintf(e->out, "P%d;T%" PRId64 ":%" PRIu64, (int)s->pid, s->iid, s->tid);
  for (unsigned i = 0; i < s->nframes; i++) text_frame(e->out, &s->frames[i]);
  if (s->invalid) fputs(";:INVALID:", e->out);
  if (s->gc) fputs(";:GC:", e->out);
  text_metrics(e, s);
}

const struct emitter_ops emit_text_ops = {NULL, text_metadata, text_header_end,
                                          text_sample, NULL};

/* The entry points austinp has used from the start: a time-metric text
 * emitter on the stream, for one call. */
static struct emitter on(FILE *out) {
  return (struct emitter){&emit_text_ops, out, EMIT_METRIC_TIME, false, false, NULL, NULL};
}

void emit_text_header(FILE *out, uint64_t interval_us, const char *mode,
                      const char *python_version) {
  struct emitter e = on(out);
  emit_metadata(&e, "austin", "%s", AUSTIN_COMPAT_VERSION);
  emit_metadata(&e, "interval", "%" PRIu64, interval_us);
  emit_metadata(&e, "mode", "%s", mode);
  emit_metadata(&e, "python", "%s", python_version);
}

void emit_text_sample(FILE *out, const struct sample *s) {
  struct emitter e = on(out);
  text_sample(&e, s);
}

void emit_text_footer(FILE *out, const struct sampling_stats *st) {
  struct emitter e = on(out);
  emit_footer(&e, st);
}
