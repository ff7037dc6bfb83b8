/* The input's definitions (STRING, FRAME) are kept by (pid, key), with
 * their text, because a key may be defined again (austinp's writer
 * forgets its definitions now and then and starts its keys over). A
 * sample is written when its frames end (at its first flag or metric, or
 * the next STACK, METADATA or the end of the input): only then is its
 * innermost native frame known, the one looked up at pc rather than
 * pc - 1. Its STACK event and the definitions its frames need are
 * written at once, its references when it ends. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mojo.h"
#include "mojo_format.h"

/* Bounds on what is kept, whatever the input: definitions held (austinp
 * holds 2^20 at most, strings and frames together) and their bytes; the
 * frames of one sample once resolved, and the bytes it copies. Far
 * smaller in the fuzz builds (test/fuzz), so that small inputs reach
 * them. */
#ifndef DEFS_MAX
#define DEFS_MAX (1u << 21)
#define DEF_BYTES_MAX ((size_t)256 << 20)
#define SAMPLE_ITEMS_MAX 65536
#define SAMPLE_BYTES_MAX ((size_t)32 << 20)
#endif

struct def_slot {
  int64_t pid;
  uint64_t key;
  void *val; /* NULL: empty */
  size_t bytes;
};

/* An open-addressing map (pid, key) -> definition. Never shrinks: a key
 * defined again replaces its value. */
struct defs {
  struct def_slot *slots;
  size_t cap, count;
};

struct mstr {
  size_t len;
  char text[];
};

struct mframe {
  int64_t loc[4];  /* line, end line, column, end column */
  uint64_t pc;     /* native frames: the address in their file */
  bool native;
  uint32_t out_key, out_gen; /* the output's key, in the writer's generation out_gen */
  size_t file_len, name_len;
  char text[];     /* file NUL name NUL */
};

static inline const char *mframe_name(const struct mframe *f) { return f->text + f->file_len + 1; }

/* What a sample's frames become, in order: a frame reference (key of the
 * output), a native frame still to resolve (a copy of its definition at
 * `at` in the sample's arena), a kernel frame (its symbol at `at`), or a
 * string reference (key of the output). */
enum item_kind { ITEM_REF, ITEM_NATIVE, ITEM_KERNEL, ITEM_STRING_REF };

struct item {
  enum item_kind kind;
  uint32_t key;
  size_t at;
};

struct items {
  struct item *v;
  size_t n, cap;
};

struct mojo {
  struct rin *in;
  struct rout *out;
  struct session *s;
  struct mojo_writer w;
  struct defs strings, frames;
  size_t def_bytes;
  enum error_kind error;
  uint64_t ev_offset;     /* input offset of the event being read */
  const char *ev_name;
  /* The sample being read. */
  bool in_sample;         /* after a STACK event, before a METADATA one */
  bool frames_done;       /* its references have been written */
  int64_t pid;
  struct items items, outs;
  char *arena;
  size_t arena_len, arena_cap;
};

bool mojo_detect(const char *head, size_t n) { return n >= 3 && memcmp(head, "MOJ", 3) == 0; }

/* --- errors --------------------------------------------------------------- */

/* One line: the event and its offset, then what is wrong. */
static bool bad(struct mojo *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool bad(struct mojo *m, const char *fmt, ...) {
  if (m->error != E_OK) return false;
  char what[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  error_report(E_MALFORMED_INPUT, "%s: offset %" PRIu64 ": %s%s%s", m->in->name, m->ev_offset,
               m->ev_name ? m->ev_name : "", m->ev_name ? " event: " : "", what);
  m->error = E_MALFORMED_INPUT;
  return false;
}

static bool nomem(struct mojo *m) {
  if (m->error == E_OK) error_report(E_INTERNAL, "out of memory");
  m->error = E_INTERNAL;
  return false;
}

/* Text of the input for a message: at most 80 bytes, one line. */
static const char *quoted(const char *s, size_t len, char buf[84]) {
  size_t n = len < 80 ? len : 80;
  for (size_t i = 0; i < n; i++)
    buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
  buf[n] = '\0';
  return buf;
}

/* --- reading -------------------------------------------------------------- */

static bool truncated(struct mojo *m) {
  if (m->in->error) {
    if (m->error == E_OK)
      error_report(E_INPUT, "cannot read %s: %s", m->in->name, strerror(m->in->error));
    m->error = E_INPUT;
    return false;
  }
  return bad(m, "truncated (the input ends in its middle)");
}

static bool read_int(struct mojo *m, uint64_t *magnitude, bool *negative) {
  const char *p;
  size_t n = rin_peek(m->in, MOJO_INT_MAX_BYTES, &p);
  int used = mojo_decode_int((const uint8_t *)p, n, magnitude, negative);
  if (used < 0) return bad(m, "integer longer than %d bytes or beyond 64 bits", MOJO_INT_MAX_BYTES);
  if (used == 0) return truncated(m);
  rin_skip(m->in, (size_t)used);
  return true;
}

/* Keys, pids: no sign. */
static bool read_uint(struct mojo *m, uint64_t *v, const char *what) {
  bool negative;
  if (!read_int(m, v, &negative)) return false;
  if (negative) return bad(m, "negative %s", what);
  return true;
}

static bool read_sint(struct mojo *m, int64_t *v) {
  uint64_t magnitude;
  bool negative;
  if (!read_int(m, &magnitude, &negative)) return false;
  if (magnitude > (uint64_t)INT64_MAX + negative) return bad(m, "integer beyond 64 bits");
  *v = negative ? (int64_t)(0 - magnitude) : (int64_t)magnitude;
  return true;
}

/* A string, valid until the next read. */
static bool read_str(struct mojo *m, char **s, size_t *len) {
  bool found;
  switch (rin_until(m->in, '\0', s, len, &found)) {
  case RIN_LINE:
    if (!found) return truncated(m);
    return true;
  case RIN_TOO_LONG: return bad(m, "string longer than %u bytes", RIN_LINE_MAX);
  default: return truncated(m);
  }
}

/* --- the input's definitions ---------------------------------------------- */

static size_t slot_of(const struct defs *t, int64_t pid, uint64_t key) {
  uint64_t h = (key ^ (uint64_t)pid * 0x9e3779b97f4a7c15ull) * 0xbf58476d1ce4e5b9ull;
  return (size_t)(h ^ h >> 31) & (t->cap - 1);
}

static void *defs_get(const struct defs *t, int64_t pid, uint64_t key) {
  if (t->cap == 0) return NULL;
  for (size_t j = slot_of(t, pid, key); t->slots[j].val != NULL; j = (j + 1) & (t->cap - 1))
    if (t->slots[j].key == key && t->slots[j].pid == pid) return t->slots[j].val;
  return NULL;
}

static int defs_grow(struct defs *t) {
  size_t cap = t->cap ? 2 * t->cap : 1024;
  struct def_slot *old = t->slots;
  size_t old_cap = t->cap;
  t->slots = calloc(cap, sizeof *t->slots);
  if (t->slots == NULL) {
    t->slots = old;
    return -1;
  }
  t->cap = cap;
  for (size_t i = 0; i < old_cap; i++) {
    if (old[i].val == NULL) continue;
    size_t j = slot_of(t, old[i].pid, old[i].key);
    while (t->slots[j].val != NULL) j = (j + 1) & (cap - 1);
    t->slots[j] = old[i];
  }
  free(old);
  return 0;
}

/* Keep val (bytes long, malloc'd) as the definition of (pid, key),
 * replacing any earlier one. False, val freed, on error. */
static bool define(struct mojo *m, struct defs *t, uint64_t key, void *val, size_t bytes) {
  if (2 * (t->count + 1) > t->cap && defs_grow(t) != 0) {
    free(val);
    return nomem(m);
  }
  size_t j = slot_of(t, m->pid, key);
  for (; t->slots[j].val != NULL; j = (j + 1) & (t->cap - 1))
    if (t->slots[j].key == key && t->slots[j].pid == m->pid) break;
  struct def_slot *slot = &t->slots[j];
  size_t freed = slot->val != NULL ? slot->bytes : 0;
  if (slot->val == NULL && m->strings.count + m->frames.count >= DEFS_MAX) {
    free(val);
    return bad(m, "more than %u strings and frames defined", DEFS_MAX);
  }
  if (m->def_bytes - freed + bytes > DEF_BYTES_MAX) {
    free(val);
    return bad(m, "definitions of more than %zu MiB in all", DEF_BYTES_MAX >> 20);
  }
  if (slot->val == NULL) t->count++;
  free(slot->val);
  *slot = (struct def_slot){m->pid, key, val, bytes};
  m->def_bytes += bytes - freed;
  return true;
}

/* Keys 0 and 1 mean "" and "<unknown>" unless the input defines them. */
static bool string_of(struct mojo *m, uint64_t key, const char **s, size_t *len) {
  static const char *const implicit[] = {"", "<unknown>"};
  const struct mstr *str = defs_get(&m->strings, m->pid, key);
  if (str != NULL) {
    *s = str->text;
    *len = str->len;
    return true;
  }
  if (key > 1) return bad(m, "unknown string reference %" PRIu64 " (pid %" PRId64 ")", key, m->pid);
  *s = implicit[key];
  *len = strlen(*s);
  return true;
}

static bool need_sample(struct mojo *m) {
  if (!m->in_sample) return bad(m, "outside a sample (no STACK event since the last METADATA)");
  return true;
}

static bool on_string(struct mojo *m) {
  uint64_t key;
  char *text;
  size_t len;
  if (!need_sample(m) || !read_uint(m, &key, "key") || !read_str(m, &text, &len)) return false;
  struct mstr *str = malloc(sizeof *str + len + 1);
  if (str == NULL) return nomem(m);
  str->len = len;
  memcpy(str->text, text, len + 1);
  return define(m, &m->strings, key, str, sizeof *str + len + 1);
}

/* native@0x<pc>, as a whole: the frame is austinp's. */
static bool native_pc(struct mojo *m, const char *file, size_t len, struct mframe *f) {
  size_t k = strlen(SESSION_NATIVE);
  f->native = len > k && memcmp(file, SESSION_NATIVE, k) == 0;
  if (!f->native) return true;
  if (session_parse_hex(file + k, file + len, &f->pc) == file + len) return true;
  char q[84];
  return bad(m, "bad hexadecimal address in native frame '%s'", quoted(file, len, q));
}

static bool on_frame(struct mojo *m) {
  uint64_t key, fkey, nkey;
  int64_t loc[4];
  if (!need_sample(m) || !read_uint(m, &key, "key") || !read_uint(m, &fkey, "string key") ||
      !read_uint(m, &nkey, "string key"))
    return false;
  for (int i = 0; i < 4; i++)
    if (!read_sint(m, &loc[i])) return false;
  const char *file, *name;
  size_t flen, nlen;
  if (!string_of(m, fkey, &file, &flen) || !string_of(m, nkey, &name, &nlen)) return false;
  size_t bytes = sizeof(struct mframe) + flen + nlen + 2;
  struct mframe *f = malloc(bytes);
  if (f == NULL) return nomem(m);
  memcpy(f->loc, loc, sizeof loc);
  f->pc = 0;
  f->out_key = f->out_gen = 0;
  f->file_len = flen;
  f->name_len = nlen;
  memcpy(f->text, file, flen + 1);
  memcpy(f->text + flen + 1, name, nlen + 1);
  if (!native_pc(m, file, flen, f)) {
    free(f);
    return false;
  }
  return define(m, &m->frames, key, f, bytes);
}

/* --- the sample being read ------------------------------------------------ */

static bool push(struct mojo *m, struct items *l, enum item_kind kind, uint32_t key, size_t at) {
  if (l->n == SAMPLE_ITEMS_MAX) return bad(m, "sample of more than %d frames", SAMPLE_ITEMS_MAX);
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 256;
    struct item *v = realloc(l->v, cap * sizeof *v);
    if (v == NULL) return nomem(m);
    l->v = v;
    l->cap = cap;
  }
  l->v[l->n++] = (struct item){kind, key, at};
  return true;
}

/* A copy of n bytes in the sample's arena (8-byte aligned), at *at. */
static bool keep(struct mojo *m, const void *p, size_t n, size_t *at) {
  size_t start = (m->arena_len + 7) & ~(size_t)7;
  if (n > SAMPLE_BYTES_MAX || start > SAMPLE_BYTES_MAX - n)
    return bad(m, "sample of more than %zu MiB of frames", SAMPLE_BYTES_MAX >> 20);
  if (start + n > m->arena_cap) {
    size_t cap = m->arena_cap ? m->arena_cap : 4096;
    while (cap < start + n) cap *= 2;
    char *a = realloc(m->arena, cap);
    if (a == NULL) return nomem(m);
    m->arena = a;
    m->arena_cap = cap;
  }
  memcpy(m->arena + start, p, n);
  m->arena_len = start + n;
  *at = start;
  return true;
}

/* The output's key of a frame of the input, defined when new. */
static uint32_t out_frame(struct mojo *m, const char *file, size_t flen, const char *name,
                          size_t nlen, const int64_t loc[4]) {
  uint32_t fkey = mojo_string_key(&m->w, m->pid, file, flen);
  uint32_t nkey = mojo_string_key(&m->w, m->pid, name, nlen);
  return mojo_frame_key(&m->w, m->pid, fkey, nkey, loc);
}

static bool frames_open(struct mojo *m) {
  if (!need_sample(m)) return false;
  if (m->frames_done) return bad(m, "frame after the flags or metrics of its sample");
  return true;
}

static bool on_frame_ref(struct mojo *m) {
  uint64_t key;
  if (!frames_open(m) || !read_uint(m, &key, "key")) return false;
  struct mframe *f = defs_get(&m->frames, m->pid, key);
  if (f == NULL)
    return bad(m, "unknown frame reference %" PRIu64 " (pid %" PRId64 ")", key, m->pid);
  if (f->native) {
    char q[84];
    if (session_find(m->s, m->pid, f->pc) == NULL)
      return bad(m, "address of native frame '%s' in no map announced before it",
                 quoted(f->text, f->file_len, q));
    size_t at;
    return keep(m, f, sizeof *f + f->file_len + f->name_len + 2, &at) &&
           push(m, &m->items, ITEM_NATIVE, 0, at);
  }
  /* Python frames are most of them: their output key is kept with them. */
  if (f->out_gen != m->w.generation || f->out_key == 0) {
    f->out_key = out_frame(m, f->text, f->file_len, mframe_name(f), f->name_len, f->loc);
    f->out_gen = m->w.generation;
  }
  return f->out_key == 0 ? nomem(m) : push(m, &m->items, ITEM_REF, f->out_key, 0);
}

static bool on_kernel(struct mojo *m) {
  char *sym;
  size_t len, at;
  if (!frames_open(m) || !read_str(m, &sym, &len)) return false;
  return keep(m, sym, len + 1, &at) && push(m, &m->items, ITEM_KERNEL, 0, at);
}

static bool on_string_ref(struct mojo *m) {
  uint64_t key;
  const char *s;
  size_t len;
  if (!need_sample(m) || !read_uint(m, &key, "key") || !string_of(m, key, &s, &len))
    return false;
  uint32_t out = mojo_string_key(&m->w, m->pid, s, len);
  if (!m->frames_done) return push(m, &m->items, ITEM_STRING_REF, out, 0);
  mojo_put_event(&m->w, MOJO_STRING_REF);
  mojo_put_uint(&m->w, out);
  return true;
}

/* --- resolving a sample's native frames ----------------------------------- */

struct resolve_ctx {
  struct mojo *m;
  const char *path; /* of the mapped file */
  const char *sym;  /* austinp's name for the frame, or NULL */
  size_t symlen;
  bool failed;
};

/* One resolved frame: file:function:line, as in text (without a line,
 * the mapped binary and line 0; without a function, austinp's name, else
 * "??"). Names are kept as they are: MOJO has no separators to escape. */
static void resolved_frame(void *arg, const struct resolver_frame *f) {
  struct resolve_ctx *c = arg;
  if (c->failed) return;
  const char *file = f->file != NULL ? f->file : c->path;
  const char *name = f->function;
  size_t nlen = name != NULL ? strlen(name) : 0;
  if (name == NULL) {
    name = c->sym != NULL ? c->sym : "??";
    nlen = c->sym != NULL ? c->symlen : 2;
  }
  int64_t loc[4] = {f->line, 0, 0, 0};
  uint32_t key = out_frame(c->m, file, strlen(file), name, nlen, loc);
  if (key == 0) c->failed = !nomem(c->m);
  else if (!push(c->m, &c->m->outs, ITEM_REF, key, 0)) c->failed = true;
}

static bool resolve_native(struct mojo *m, const struct mframe *f, bool leaf) {
  /* Found when referred to, and no mapping comes within a sample: this
   * is only a guard. */
  const struct session_map *map = session_find(m->s, m->pid, f->pc);
  if (map == NULL) return bad(m, "native frame in no map");
  const char *sym = mframe_name(f);
  size_t symlen = f->name_len;
  if (symlen == 0 || (symlen == 2 && memcmp(sym, "??", 2) == 0)) sym = NULL;
  struct resolve_ctx c = {m, map->file->path, sym, symlen, false};
  if (session_resolve(m->s, map, f->pc, !leaf, resolved_frame, &c) > 0) return !c.failed;
  if (c.failed) return false;
  uint32_t key = out_frame(m, f->text, f->file_len, mframe_name(f), f->name_len, f->loc);
  return key == 0 ? nomem(m) : push(m, &m->outs, ITEM_REF, key, 0);
}

/* The sample's frames, native ones resolved: definitions first, then the
 * references and kernel frames, root first. */
static bool end_frames(struct mojo *m) {
  if (!m->in_sample || m->frames_done) return true;
  m->frames_done = true;
  size_t leaf = SIZE_MAX;
  for (size_t i = 0; i < m->items.n; i++)
    if (m->items.v[i].kind == ITEM_NATIVE) leaf = i;
  m->outs.n = 0;
  for (size_t i = 0; i < m->items.n; i++) {
    const struct item *it = &m->items.v[i];
    bool ok = it->kind == ITEM_NATIVE
                  ? resolve_native(m, (const struct mframe *)(m->arena + it->at), i == leaf)
                  : push(m, &m->outs, it->kind, it->key, it->at);
    if (!ok) return false;
  }
  for (size_t i = 0; i < m->outs.n; i++) {
    const struct item *it = &m->outs.v[i];
    if (it->kind == ITEM_KERNEL) {
      mojo_put_event(&m->w, MOJO_FRAME_KERNEL);
      mojo_put_str(&m->w, m->arena + it->at);
      continue;
    }
    mojo_put_event(&m->w, it->kind == ITEM_REF ? MOJO_FRAME_REF : MOJO_STRING_REF);
    mojo_put_uint(&m->w, it->key);
  }
  return true;
}

/* --- events --------------------------------------------------------------- */

static bool all_hex(const char *s, size_t len) {
  uint64_t v;
  return len > 0 && len <= 16 && session_parse_hex(s, s + len, &v) == s + len;
}

static bool on_stack(struct mojo *m) {
  int64_t pid, iid;
  char *tid;
  size_t len;
  if (!end_frames(m) || !read_sint(m, &pid) || !read_sint(m, &iid) || !read_str(m, &tid, &len))
    return false;
  char q[84];
  if (!all_hex(tid, len)) return bad(m, "bad thread id '%s' (hexadecimal)", quoted(tid, len, q));
  /* Keys of one sample must not be forgotten in its middle. */
  if (mojo_writer_full(&m->w, 3 * SAMPLE_ITEMS_MAX)) mojo_writer_forget_all(&m->w);
  mojo_put_event(&m->w, MOJO_STACK);
  mojo_put_sint(&m->w, pid);
  mojo_put_sint(&m->w, iid);
  mojo_put_str(&m->w, tid);
  m->in_sample = true;
  m->frames_done = false;
  m->pid = pid;
  m->items.n = 0;
  m->arena_len = 0;
  return true;
}

/* Passed through; a "map" entry is austinp's `# map:` line. */
static bool on_metadata(struct mojo *m) {
  char *key, *value;
  size_t len;
  if (!end_frames(m) || !read_str(m, &key, &len)) return false;
  m->in_sample = false;
  bool is_map = strcmp(key, "map") == 0;
  mojo_put_event(&m->w, MOJO_METADATA);
  mojo_put_str(&m->w, key);
  if (!read_str(m, &value, &len)) return false;
  if (is_map) {
    enum session_map_status st = session_add_map_spec(m->s, value, value + len);
    char q[84];
    if (st == SESSION_MAP_NOMEM) return nomem(m);
    if (st != SESSION_MAP_OK)
      return bad(m, "%s map '%s'", session_map_error(st), quoted(value, len, q));
  }
  mojo_put_str(&m->w, value);
  return true;
}

/* INVALID, GC, IDLE, TIME, MEMORY: they end the frames of the sample. */
static bool on_mark(struct mojo *m, enum mojo_event ev) {
  int64_t v = 0;
  if (!need_sample(m) || !end_frames(m)) return false;
  bool metric = ev == MOJO_METRIC_TIME || ev == MOJO_METRIC_MEMORY;
  if (metric && !read_sint(m, &v)) return false;
  mojo_put_event(&m->w, ev);
  if (metric) mojo_put_sint(&m->w, v);
  return true;
}

static const char *const event_names[] = {
    NULL,   "METADATA", "STACK", "FRAME", "INVALID", "FRAME_REF", "KERNEL",
    "GC",   "IDLE",     "TIME",  "MEMORY", "STRING", "STRING_REF",
};

static bool one_event(struct mojo *m, unsigned ev) {
  m->ev_name = ev < sizeof event_names / sizeof *event_names ? event_names[ev] : NULL;
  switch (ev) {
  case MOJO_METADATA: return on_metadata(m);
  case MOJO_STACK: return on_stack(m);
  case MOJO_FRAME: return on_frame(m);
  case MOJO_FRAME_REF: return on_frame_ref(m);
  case MOJO_FRAME_KERNEL: return on_kernel(m);
  case MOJO_STRING: return on_string(m);
  case MOJO_STRING_REF: return on_string_ref(m);
  case MOJO_FRAME_INVALID:
  case MOJO_GC:
  case MOJO_IDLE:
  case MOJO_METRIC_TIME:
  case MOJO_METRIC_MEMORY: return on_mark(m, (enum mojo_event)ev);
  default: return bad(m, "unknown event %u (0x%02x)", ev, ev);
  }
}

static void rout_sink(void *out, const void *p, size_t n) { rout_write(out, p, n); }

/* "MOJ" (seen by mojo_detect) and the version, 3. */
static bool header(struct mojo *m) {
  uint64_t version;
  rin_skip(m->in, 3);
  m->ev_offset = m->in->offset;
  m->ev_name = NULL;
  if (!read_uint(m, &version, "version")) return false;
  if (version != MOJO_VERSION)
    return bad(m, "MOJO version %" PRIu64 ", not %d", version, MOJO_VERSION);
  mojo_put_magic(&m->w);
  return true;
}

static void free_defs(struct defs *t) {
  for (size_t i = 0; i < t->cap; i++) free(t->slots[i].val);
  free(t->slots);
}

enum error_kind mojo_resolve(struct rin *in, struct rout *out, struct session *s) {
  struct mojo m;
  memset(&m, 0, sizeof m);
  m.in = in;
  m.out = out;
  m.s = s;
  mojo_writer_init(&m.w, rout_sink, out);
  bool ok = header(&m);
  while (ok && out->error == 0) {
    const char *p;
    m.ev_offset = in->offset;
    if (rin_peek(in, 1, &p) == 0) {
      ok = in->error == 0 || truncated(&m);
      break;
    }
    unsigned ev = (unsigned char)*p;
    rin_skip(in, 1);
    ok = one_event(&m, ev);
  }
  if (ok && out->error == 0) end_frames(&m);
  mojo_writer_free(&m.w);
  free_defs(&m.strings);
  free_defs(&m.frames);
  free(m.items.v);
  free(m.outs.v);
  free(m.arena);
  return m.error;
}
