/* MOJO, Austin's binary format, version 3 (Austin 3.4 to 3.7).
 *
 * The encoding (integers, strings, keyed definitions) is mojo.c's,
 * shared with austinp-resolve. Strings and frames are defined once per
 * process and then referred to by key (FRAME_REF). A sample is STACK (pid, iid, tid as
 * lower-case hex text), the definitions it needs, its frame references
 * root first, then INVALID, GC, and its metrics: TIME, or MEMORY (signed),
 * or, in full mode, TIME, IDLE when idle, MEMORY. Native frames (austinp)
 * are ordinary frames, file "native@0x<pc>", name the symbol, line the
 * offset; kernel frames are KERNEL events with the symbol inline. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "emit.h"
#include "mojo.h"

struct mojo_state {
  struct mojo_writer w;
  uint32_t refs[SAMPLE_MAX_FRAMES];
};

static void file_write(void *sink, const void *p, size_t n) { fwrite(p, 1, n, sink); }

static uint32_t string_key(struct mojo_writer *w, pid_t pid, const char *s) {
  return mojo_string_key(w, pid, s, strlen(s));
}

/* The key of a (non-kernel) frame, defined (FRAME event) when new. */
static uint32_t frame_key(struct mojo_writer *w, pid_t pid, const struct sample_frame *f) {
  char native[EMIT_NATIVE_NAME_MAX];
  bool is_native = f->kind == FRAME_NATIVE;
  const char *file = is_native ? emit_native_filename(f->pc, native) : f->filename;
  const char *name = f->name != NULL ? f->name : "??";
  /* As Austin 3.7 writes them: the end line where the code object has one
   * (3.11+), columns 1-based (CPython's offsets plus one, as its location
   * table stores them), 0 for what is unknown (older versions, an
   * instruction without columns, native frames). */
  uint32_t fkey = string_key(w, pid, file ? file : "??");
  uint32_t nkey = string_key(w, pid, name);
  int64_t loc[4] = {f->line, 0, 0, 0};
  if (!is_native) {
    loc[1] = f->end_line >= 0 ? f->end_line : 0;
    loc[2] = f->column >= 0 ? (int64_t)f->column + 1 : 0;
    loc[3] = f->end_column >= 0 ? (int64_t)f->end_column + 1 : 0;
  }
  return mojo_frame_key(w, pid, fkey, nkey, loc);
}

/* --- events --------------------------------------------------------------- */

static int mojo_open(struct emitter *e) {
  struct mojo_state *m = calloc(1, sizeof *m);
  if (m == NULL) return -1;
  e->state = m;
  mojo_writer_init(&m->w, file_write, e->out);
  /* The tests lower the bound on the definitions' memory, so that a short
   * run reaches it many times (never raised: it bounds us). */
  const char *max = getenv("PYAUSTIN_MOJO_MAX_BYTES");
  unsigned long long bytes = max != NULL ? strtoull(max, NULL, 10) : 0;
  if (bytes > 0 && bytes < m->w.max_bytes) m->w.max_bytes = (size_t)bytes;
  mojo_put_magic(&m->w);
  return 0;
}

static void mojo_metadata(struct emitter *e, const char *key, const char *value,
                          bool footer) {
  struct mojo_state *m = e->state;
  (void)footer;
  mojo_put_event(&m->w, MOJO_METADATA);
  mojo_put_str(&m->w, key);
  mojo_put_str(&m->w, value);
}

static void mojo_metrics(struct emitter *e, struct mojo_writer *w, const struct sample *s) {
  if (e->metrics != EMIT_METRIC_MEMORY) {
    mojo_put_event(w, MOJO_METRIC_TIME);
    mojo_put_uint(w, s->metric);
  }
  if (e->metrics == EMIT_METRIC_FULL && s->idle) mojo_put_event(w, MOJO_IDLE);
  if (e->metrics != EMIT_METRIC_TIME) {
    mojo_put_event(w, MOJO_METRIC_MEMORY);
    mojo_put_sint(w, s->mem_delta);
  }
}

static void mojo_sample(struct emitter *e, const struct sample *s) {
  struct mojo_state *m = e->state;
  struct mojo_writer *w = &m->w;
  if (mojo_writer_full(w, 2 * SAMPLE_MAX_FRAMES)) mojo_writer_forget_all(w);
  char tid[24];
  snprintf(tid, sizeof tid, "%" PRIx64, s->tid);
  mojo_put_event(w, MOJO_STACK);
  mojo_put_uint(w, (uint64_t)s->pid);
  mojo_put_sint(w, s->iid);
  mojo_put_str(w, tid);
  /* Definitions first (they may only follow the STACK event of their
   * process), then the references, root first. */
  for (unsigned i = 0; i < s->nframes; i++)
    m->refs[i] = s->frames[i].kind == FRAME_KERNEL ? 0 : frame_key(w, s->pid, &s->frames[i]);
  for (unsigned i = 0; i < s->nframes; i++) {
    if (s->frames[i].kind == FRAME_KERNEL) {
      mojo_put_event(w, MOJO_FRAME_KERNEL);
      mojo_put_str(w, s->frames[i].name ? s->frames[i].name : "??");
    } else if (m->refs[i] != 0) {
      mojo_put_event(w, MOJO_FRAME_REF);
      mojo_put_uint(w, m->refs[i]);
    }
  }
  if (s->invalid) mojo_put_event(w, MOJO_FRAME_INVALID);
  if (s->gc) mojo_put_event(w, MOJO_GC);
  mojo_metrics(e, w, s);
}

static void mojo_close(struct emitter *e) {
  struct mojo_state *m = e->state;
  if (m == NULL) return;
  mojo_writer_free(&m->w);
  free(m);
}

const struct emitter_ops emit_mojo_ops = {mojo_open, mojo_metadata, NULL, mojo_sample,
                                          mojo_close};
