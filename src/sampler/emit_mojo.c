/* MOJO, Austin's binary format, version 3 (Austin 3.4 to 3.7).
 *
 * A stream is "MOJ" and the version, then events: one byte naming the
 * event and its fields. Integers are variable-length: the first byte holds
 * six bits of the magnitude (0x3f), the sign (0x40) and a continuation
 * flag (0x80); each further byte holds seven more bits (0x7f) and the
 * continuation flag, least significant group first. Strings end with NUL.
 *
 * Strings and frames are defined once per process (STRING: key, text;
 * FRAME: key, file key, name key, line, end line, column, end column) and
 * then referred to by key (FRAME_REF). A sample is STACK (pid, iid, tid as
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

enum mojo_event {
  MOJO_METADATA = 1,
  MOJO_STACK = 2,
  MOJO_FRAME = 3,
  MOJO_FRAME_INVALID = 4,
  MOJO_FRAME_REF = 5,
  MOJO_FRAME_KERNEL = 6,
  MOJO_GC = 7,
  MOJO_IDLE = 8,
  MOJO_METRIC_TIME = 9,
  MOJO_METRIC_MEMORY = 10,
  MOJO_STRING = 11,
  MOJO_STRING_REF = 12,
};

#define MOJO_VERSION 3

/* String keys 0 and 1 are taken by readers ("" and "<unknown>"). */
#define FIRST_STRING_KEY 2
#define FIRST_FRAME_KEY 1
/* Definitions kept before all are forgotten (and defined again when next
 * used): bounds memory, and keeps keys within four varint bytes. */
#define INTERN_MAX (1u << 20)

/* An open-addressing set of byte strings (pid + content), each with the
 * key it was given. */
struct intern_slot {
  uint64_t hash;
  uint8_t *blob; /* NULL: empty */
  uint32_t len, key;
};

struct intern {
  struct intern_slot *slots;
  uint32_t cap, count;
};

struct mojo_state {
  struct intern strings, frames;
  uint32_t next_string, next_frame;
  uint32_t refs[SAMPLE_MAX_FRAMES];
};

static uint64_t fnv1a(const uint8_t *p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

static void intern_clear(struct intern *t) {
  for (uint32_t i = 0; i < t->cap; i++) free(t->slots[i].blob);
  free(t->slots);
  *t = (struct intern){NULL, 0, 0};
}

static int intern_grow(struct intern *t) {
  uint32_t cap = t->cap ? t->cap * 2 : 1024;
  struct intern_slot *slots = calloc(cap, sizeof *slots);
  if (slots == NULL) return -1;
  for (uint32_t i = 0; i < t->cap; i++) {
    struct intern_slot *s = &t->slots[i];
    if (s->blob == NULL) continue;
    uint32_t j = (uint32_t)s->hash & (cap - 1);
    while (slots[j].blob != NULL) j = (j + 1) & (cap - 1);
    slots[j] = *s;
  }
  free(t->slots);
  t->slots = slots;
  t->cap = cap;
  return 0;
}

/* The key of blob; when new, *fresh is set and it gets `next_key`.
 * Returns 0 when out of memory (never a key). */
static uint32_t intern_key(struct intern *t, const uint8_t *blob, uint32_t len,
                           uint32_t next_key, bool *fresh) {
  *fresh = false;
  if (2 * (t->count + 1) > t->cap && intern_grow(t) != 0) return 0;
  uint64_t h = fnv1a(blob, len);
  uint32_t j = (uint32_t)h & (t->cap - 1);
  for (; t->slots[j].blob != NULL; j = (j + 1) & (t->cap - 1)) {
    struct intern_slot *s = &t->slots[j];
    if (s->hash == h && s->len == len && memcmp(s->blob, blob, len) == 0) return s->key;
  }
  uint8_t *copy = malloc(len);
  if (copy == NULL) return 0;
  memcpy(copy, blob, len);
  t->slots[j] = (struct intern_slot){h, copy, len, next_key};
  t->count++;
  *fresh = true;
  return next_key;
}

/* --- primitives ----------------------------------------------------------- */

static void put_int(FILE *out, uint64_t magnitude, bool negative) {
  uint8_t buf[12], *p = buf;
  uint8_t b = (uint8_t)(magnitude & 0x3f) | (negative ? 0x40 : 0);
  magnitude >>= 6;
  if (magnitude) b |= 0x80;
  *p++ = b;
  while (magnitude) {
    b = magnitude & 0x7f;
    magnitude >>= 7;
    if (magnitude) b |= 0x80;
    *p++ = b;
  }
  fwrite(buf, 1, (size_t)(p - buf), out);
}

static void put_uint(FILE *out, uint64_t v) { put_int(out, v, false); }

static void put_sint(FILE *out, int64_t v) {
  put_int(out, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v, v < 0);
}

/* Line and column numbers: 0 when unknown. */
static void put_location(FILE *out, int v) { put_uint(out, v > 0 ? (uint64_t)v : 0); }

static void put_str(FILE *out, const char *s) { fwrite(s, 1, strlen(s) + 1, out); }

static void put_event(FILE *out, enum mojo_event ev) { fputc((int)ev, out); }

/* --- definitions ---------------------------------------------------------- */

static void forget_all(struct mojo_state *m) {
  intern_clear(&m->strings);
  intern_clear(&m->frames);
  m->next_string = FIRST_STRING_KEY;
  m->next_frame = FIRST_FRAME_KEY;
}

/* The key of a string in process pid, defined (STRING event) when new. */
static uint32_t string_key(struct emitter *e, pid_t pid, const char *s) {
  struct mojo_state *m = e->state;
  size_t n = strlen(s);
  uint8_t stack_blob[512], *blob = stack_blob;
  if (n + sizeof pid > sizeof stack_blob && (blob = malloc(n + sizeof pid)) == NULL)
    return 1;
  memcpy(blob, &pid, sizeof pid);
  memcpy(blob + sizeof pid, s, n);
  bool fresh;
  uint32_t key = intern_key(&m->strings, blob, (uint32_t)(n + sizeof pid),
                            m->next_string, &fresh);
  if (blob != stack_blob) free(blob);
  if (key == 0) return 1; /* out of memory: "<unknown>" */
  if (fresh) {
    m->next_string++;
    put_event(e->out, MOJO_STRING);
    put_uint(e->out, key);
    put_str(e->out, s);
  }
  return key;
}

/* The key of a (non-kernel) frame, defined (FRAME event) when new. */
static uint32_t frame_key(struct emitter *e, pid_t pid, const struct sample_frame *f) {
  struct mojo_state *m = e->state;
  char native[EMIT_NATIVE_NAME_MAX];
  bool is_native = f->kind == FRAME_NATIVE;
  const char *file = is_native ? emit_native_filename(f->pc, native) : f->filename;
  const char *name = f->name != NULL ? f->name : "??";
  /* Column-level locations exist from 3.11 on; without a column (older
   * versions, native frames) none of the extra fields is written. */
  bool located = !is_native && f->column >= 0;
  int32_t blob[7] = {(int32_t)pid,
                     (int32_t)string_key(e, pid, file ? file : "??"),
                     (int32_t)string_key(e, pid, name),
                     f->line,
                     located ? f->end_line : 0,
                     located ? f->column : 0,
                     located ? f->end_column : 0};
  bool fresh;
  uint32_t key = intern_key(&m->frames, (const uint8_t *)blob, sizeof blob,
                            m->next_frame, &fresh);
  if (key == 0 || !fresh) return key;
  m->next_frame++;
  put_event(e->out, MOJO_FRAME);
  put_uint(e->out, key);
  put_uint(e->out, (uint32_t)blob[1]);
  put_uint(e->out, (uint32_t)blob[2]);
  put_location(e->out, blob[3]);
  put_location(e->out, blob[4]);
  put_location(e->out, blob[5]);
  put_location(e->out, blob[6]);
  return key;
}

/* --- events --------------------------------------------------------------- */

static int mojo_open(struct emitter *e) {
  struct mojo_state *m = calloc(1, sizeof *m);
  if (m == NULL) return -1;
  e->state = m;
  forget_all(m);
  fputs("MOJ", e->out);
  put_uint(e->out, MOJO_VERSION);
  return 0;
}

static void mojo_metadata(struct emitter *e, const char *key, const char *value,
                          bool footer) {
  (void)footer;
  put_event(e->out, MOJO_METADATA);
  put_str(e->out, key);
  put_str(e->out, value);
}

static void mojo_metrics(struct emitter *e, const struct sample *s) {
  if (e->metrics != EMIT_METRIC_MEMORY) {
    put_event(e->out, MOJO_METRIC_TIME);
    put_uint(e->out, s->metric);
  }
  if (e->metrics == EMIT_METRIC_FULL && s->idle) put_event(e->out, MOJO_IDLE);
  if (e->metrics != EMIT_METRIC_TIME) {
    put_event(e->out, MOJO_METRIC_MEMORY);
    put_sint(e->out, s->mem_delta);
  }
}

static void mojo_sample(struct emitter *e, const struct sample *s) {
  struct mojo_state *m = e->state;
  if (m->strings.count + m->frames.count + 2 * SAMPLE_MAX_FRAMES > INTERN_MAX)
    forget_all(m);
  char tid[24];
  snprintf(tid, sizeof tid, "%" PRIx64, s->tid);
  put_event(e->out, MOJO_STACK);
  put_uint(e->out, (uint64_t)s->pid);
  put_sint(e->out, s->iid);
  put_str(e->out, tid);
  /* Definitions first (they may only follow the STACK event of their
   * process), then the references, root first. */
  for (unsigned i = 0; i < s->nframes; i++)
    m->refs[i] = s->frames[i].kind == FRAME_KERNEL ? 0 : frame_key(e, s->pid, &s->frames[i]);
  for (unsigned i = 0; i < s->nframes; i++) {
    if (s->frames[i].kind == FRAME_KERNEL) {
      put_event(e->out, MOJO_FRAME_KERNEL);
      put_str(e->out, s->frames[i].name ? s->frames[i].name : "??");
    } else if (m->refs[i] != 0) {
      put_event(e->out, MOJO_FRAME_REF);
      put_uint(e->out, m->refs[i]);
    }
  }
  if (s->invalid) put_event(e->out, MOJO_FRAME_INVALID);
  if (s->gc) put_event(e->out, MOJO_GC);
  mojo_metrics(e, s);
}

static void mojo_close(struct emitter *e) {
  struct mojo_state *m = e->state;
  if (m == NULL) return;
  intern_clear(&m->strings);
  intern_clear(&m->frames);
  free(m);
}

const struct emitter_ops emit_mojo_ops = {mojo_open, mojo_metadata, NULL, mojo_sample,
                                          mojo_close};
