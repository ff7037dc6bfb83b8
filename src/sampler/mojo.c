#include <stdlib.h>
#include <string.h>

#include "mojo.h"

/* --- integers ------------------------------------------------------------- */

size_t mojo_encode_int(uint8_t *buf, uint64_t magnitude, bool negative) {
  uint8_t *p = buf;
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
  return (size_t)(p - buf);
}

int mojo_decode_int(const uint8_t *p, size_t n, uint64_t *magnitude, bool *negative) {
  if (n == 0) return 0;
  uint64_t v = p[0] & 0x3f;
  *negative = (p[0] & 0x40) != 0;
  unsigned shift = 6;
  size_t i = 0;
  while (p[i] & 0x80) {
    if (++i == MOJO_INT_MAX_BYTES) return -1;
    if (i == n) return 0;
    uint64_t group = p[i] & 0x7f;
    /* The tenth byte has room for the two top bits of a 64-bit value. */
    if (shift == 62 && group > 3) return -1;
    v |= group << shift;
    shift += 7;
  }
  *magnitude = v;
  return (int)(i + 1);
}

/* --- interned definitions ------------------------------------------------- */

struct mojo_intern_slot {
  uint64_t hash;
  uint8_t *blob; /* NULL: empty */
  uint32_t len, key;
};

static uint64_t fnv1a(const uint8_t *p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

static void intern_clear(struct mojo_intern *t) {
  for (uint32_t i = 0; i < t->cap; i++) free(t->slots[i].blob);
  free(t->slots);
  *t = (struct mojo_intern){NULL, 0, 0, 0};
}

static int intern_grow(struct mojo_intern *t) {
  uint32_t cap = t->cap ? t->cap * 2 : 1024;
  struct mojo_intern_slot *slots = calloc(cap, sizeof *slots);
  if (slots == NULL) return -1;
  for (uint32_t i = 0; i < t->cap; i++) {
    struct mojo_intern_slot *s = &t->slots[i];
    if (s->blob == NULL) continue;
    uint32_t j = (uint32_t)s->hash & (cap - 1);
    while (slots[j].blob != NULL) j = (j + 1) & (cap - 1);
    slots[j] = *s;
  }
  free(t->slots);
  t->bytes += (size_t)(cap - t->cap) * sizeof *slots;
  t->slots = slots;
  t->cap = cap;
  return 0;
}

/* The key of blob; when new, *fresh is set and it gets `next_key`.
 * Returns 0 when out of memory (never a key). */
static uint32_t intern_key(struct mojo_intern *t, const uint8_t *blob, uint32_t len,
                           uint32_t next_key, bool *fresh) {
  *fresh = false;
  if (2 * (t->count + 1) > t->cap && intern_grow(t) != 0) return 0;
  uint64_t h = fnv1a(blob, len);
  uint32_t j = (uint32_t)h & (t->cap - 1);
  for (; t->slots[j].blob != NULL; j = (j + 1) & (t->cap - 1)) {
    struct mojo_intern_slot *s = &t->slots[j];
    if (s->hash == h && s->len == len && memcmp(s->blob, blob, len) == 0) return s->key;
  }
  uint8_t *copy = malloc(len ? len : 1);
  if (copy == NULL) return 0;
  memcpy(copy, blob, len);
  t->slots[j] = (struct mojo_intern_slot){h, copy, len, next_key};
  t->count++;
  t->bytes += (size_t)len + MOJO_INTERN_ENTRY_OVERHEAD;
  *fresh = true;
  return next_key;
}

/* --- the writer ----------------------------------------------------------- */

void mojo_writer_init(struct mojo_writer *w, mojo_write_fn write, void *sink) {
  memset(w, 0, sizeof *w);
  w->write = write;
  w->sink = sink;
  w->max_bytes = MOJO_INTERN_MAX_BYTES;
  mojo_writer_forget_all(w); /* generation 1: 0 is never one */
}

void mojo_writer_free(struct mojo_writer *w) {
  intern_clear(&w->strings);
  intern_clear(&w->frames);
}

void mojo_writer_forget_all(struct mojo_writer *w) {
  intern_clear(&w->strings);
  intern_clear(&w->frames);
  w->next_string = MOJO_FIRST_STRING_KEY;
  w->next_frame = MOJO_FIRST_FRAME_KEY;
  w->generation++;
}

void mojo_put_magic(struct mojo_writer *w) {
  w->write(w->sink, "MOJ", 3);
  mojo_put_uint(w, MOJO_VERSION);
}

void mojo_put_event(struct mojo_writer *w, enum mojo_event ev) {
  uint8_t b = (uint8_t)ev;
  w->write(w->sink, &b, 1);
}

void mojo_put_uint(struct mojo_writer *w, uint64_t v) {
  uint8_t buf[MOJO_INT_MAX_BYTES];
  w->write(w->sink, buf, mojo_encode_int(buf, v, false));
}

void mojo_put_sint(struct mojo_writer *w, int64_t v) {
  uint8_t buf[MOJO_INT_MAX_BYTES];
  uint64_t magnitude = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  w->write(w->sink, buf, mojo_encode_int(buf, magnitude, v < 0));
}

void mojo_put_str(struct mojo_writer *w, const char *s) { w->write(w->sink, s, strlen(s) + 1); }

uint32_t mojo_string_key(struct mojo_writer *w, int64_t pid, const char *s, size_t len) {
  /* Keys are per process: the pid is part of what is interned. */
  uint8_t stack_blob[512], *blob = stack_blob;
  if (len > UINT32_MAX - sizeof pid) return 1;
  if (len + sizeof pid > sizeof stack_blob && (blob = malloc(len + sizeof pid)) == NULL)
    return 1;
  memcpy(blob, &pid, sizeof pid);
  memcpy(blob + sizeof pid, s, len);
  bool fresh;
  uint32_t key = intern_key(&w->strings, blob, (uint32_t)(len + sizeof pid), w->next_string,
                            &fresh);
  if (blob != stack_blob) free(blob);
  if (key == 0) return 1; /* out of memory: "<unknown>" */
  if (fresh) {
    w->next_string++;
    mojo_put_event(w, MOJO_STRING);
    mojo_put_uint(w, key);
    w->write(w->sink, s, len);
    w->write(w->sink, "", 1);
  }
  return key;
}

uint32_t mojo_frame_key(struct mojo_writer *w, int64_t pid, uint32_t file, uint32_t name,
                        const int64_t loc[4]) {
  int64_t blob[7] = {pid, file, name, loc[0], loc[1], loc[2], loc[3]};
  bool fresh;
  uint32_t key = intern_key(&w->frames, (const uint8_t *)blob, sizeof blob, w->next_frame,
                            &fresh);
  if (key == 0 || !fresh) return key;
  w->next_frame++;
  mojo_put_event(w, MOJO_FRAME);
  mojo_put_uint(w, key);
  mojo_put_uint(w, file);
  mojo_put_uint(w, name);
  for (int i = 0; i < 4; i++) mojo_put_uint(w, loc[i] > 0 ? (uint64_t)loc[i] : 0);
  return key;
}
