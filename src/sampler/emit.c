#define _GNU_SOURCE
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "emit.h"
#include "sampler_loop.h"

int emit_open(struct emitter *e, enum emit_format format, FILE *out,
              enum emit_metrics metrics, bool pipe) {
  *e = (struct emitter){format == EMIT_FORMAT_MOJO ? &emit_mojo_ops : &emit_text_ops,
                        out, metrics, pipe, false, NULL, NULL};
  if (e->ops->open != NULL && e->ops->open(e) != 0) return -1;
  if (pipe) fflush(out);
  return 0;
}

static void metadata_v(struct emitter *e, const char *key, bool footer,
                       const char *fmt, va_list ap) {
  char value[512];
  vsnprintf(value, sizeof value, fmt, ap);
  for (; e != NULL; e = e->also) {
    e->ops->metadata(e, key, value, footer);
    e->footer_open |= footer;
    /* A live reader must see the metadata before the first sample. */
    if (e->pipe) fflush(e->out);
  }
}

void emit_metadata(struct emitter *e, const char *key, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  metadata_v(e, key, false, fmt, ap);
  va_end(ap);
}

void emit_footer_metadata(struct emitter *e, const char *key, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  metadata_v(e, key, true, fmt, ap);
  va_end(ap);
}

/* Total physical memory in KiB, as Austin reports it with -m and -f. */
static uint64_t total_memory_kib(void) {
  long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
  return pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)(size >> 10) : 0;
}

static const char *mode_name(const struct emitter *e, bool sleepless) {
  switch (e->metrics) {
  case EMIT_METRIC_FULL: return "full";
  case EMIT_METRIC_MEMORY: return "memory";
  default: return sleepless ? "cpu" : "wall";
  }
}

void emit_header(struct emitter *e, const struct emit_header_info *h) {
  emit_metadata(e, "austin", "%s", AUSTIN_COMPAT_VERSION);
  emit_metadata(e, "interval", "%" PRIu64, h->interval_us);
  emit_metadata(e, "mode", "%s", mode_name(e, h->sleepless));
  if (e->metrics != EMIT_METRIC_TIME)
    emit_metadata(e, "memory", "%" PRIu64, total_memory_kib());
  if (h->children) emit_metadata(e, "multiprocess", "on");
  emit_metadata(e, "python", "%s", h->python_version);
}

void emit_header_end(struct emitter *e) {
  for (; e != NULL; e = e->also) {
    if (e->ops->header_end != NULL) e->ops->header_end(e);
    if (e->pipe) fflush(e->out);
  }
}

void emit_sample(struct emitter *e, const struct sample *s) {
  for (; e != NULL; e = e->also) {
    e->ops->sample(e, s);
    if (e->pipe) fflush(e->out);
  }
}

void emit_footer(struct emitter *e, const struct sampling_stats *st) {
  emit_footer_metadata(e, "duration", "%" PRIu64, st->duration_us);
  if (st->gc) emit_footer_metadata(e, "gc", "%" PRIu64, st->gc_us);
  if (st->rounds == 0) return;
  emit_footer_metadata(e, "sampling", "%" PRIu64 ",%" PRIu64 ",%" PRIu64, st->min_us,
                       st->total_us / st->rounds, st->max_us);
  emit_footer_metadata(e, "saturation", "%" PRIu64 "/%" PRIu64, st->long_rounds,
                       st->rounds);
  emit_footer_metadata(e, "errors", "%" PRIu64 "/%" PRIu64, st->invalid, st->samples);
}

void emit_close(struct emitter *e) {
  for (; e != NULL; e = e->also) {
    if (e->ops != NULL && e->ops->close != NULL) e->ops->close(e);
    e->state = NULL;
  }
}

const char *emit_native_filename(uint64_t pc, char *buf) {
  snprintf(buf, EMIT_NATIVE_NAME_MAX, "native@0x%" PRIx64, pc);
  return buf;
}

FILE *emit_open_mojo_copy(struct emitter *copy, enum emit_metrics metrics) {
  const char *path = getenv("PYAUSTIN_MOJO_COPY");
  if (path == NULL || *path == '\0') return NULL;
  FILE *f = fopen(path, "w");
  if (f == NULL) return NULL;
  if (emit_open(copy, EMIT_FORMAT_MOJO, f, metrics, false) != 0) {
    fclose(f);
    return NULL;
  }
  return f;
}
