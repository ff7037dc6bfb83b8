#include <inttypes.h>

#include "config.h"
#include "emit_text.h"

void emit_text_header(FILE *out, uint64_t interval_us, const char *mode,
                      const char *python_version) {
  fprintf(out, "# austin: %s\n", AUSTIN_COMPAT_VERSION);
  fprintf(out, "# interval: %" PRIu64 "\n", interval_us);
  fprintf(out, "# mode: %s\n", mode);
  fprintf(out, "# python: %s\n", python_version);
}

void emit_text_sample(FILE *out, const struct sample *s) {
  fprintf(out, "P%d;T%" PRId64 ":%" PRIu64, (int)s->pid, s->iid, s->tid);
  for (unsigned i = 0; i < s->nframes; i++) {
    const struct sample_frame *f = &s->frames[i];
    fprintf(out, ";%s:%s:%d", f->filename, f->name, f->line);
  }
  if (s->invalid) fputs(";:INVALID:", out);
  fprintf(out, " %" PRIu64 "\n", s->metric);
}

void emit_text_footer(FILE *out, const struct sampling_stats *st) {
  fprintf(out, "\n# duration: %" PRIu64 "\n", st->duration_us);
  if (st->rounds == 0) return;
  fprintf(out, "# sampling: %" PRIu64 ",%" PRIu64 ",%" PRIu64 "\n", st->min_us,
          st->total_us / st->rounds, st->max_us);
  fprintf(out, "# saturation: %" PRIu64 "/%" PRIu64 "\n", st->long_rounds,
          st->rounds);
  fprintf(out, "# errors: %" PRIu64 "/%" PRIu64 "\n", st->invalid, st->samples);
}
