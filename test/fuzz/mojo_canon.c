#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mojo_canon.h"

/* A definition: (pid, kind, key) -> bytes of the arena. */
struct def {
  int64_t pid;
  uint64_t key;
  int kind; /* 0: empty slot, 's': string, 'f': frame */
  size_t at, len;
};

struct decoder {
  const uint8_t *p;
  size_t n, i;
  int64_t pid;
  struct def *defs;
  size_t cap, count;
  struct canon arena; /* the text of every definition */
  struct canon *out;
};

static int put(struct canon *c, const void *p, size_t n) {
  if (n == 0) return 0; /* c->buf may be NULL yet */
  if (c->cap - c->len < n) {
    size_t cap = c->cap ? c->cap : 256;
    while (cap - c->len < n) cap *= 2;
    char *b = realloc(c->buf, cap);
    if (b == NULL) return -1;
    c->buf = b;
    c->cap = cap;
  }
  memcpy(c->buf + c->len, p, n);
  c->len += n;
  return 0;
}

/* A field: its bytes and a NUL (MOJO strings hold none). */
static int put_field(struct canon *c, const char *s, size_t n) {
  return put(c, s, n) || put(c, "", 1) ? -1 : 0;
}

static int put_int(struct canon *c, int64_t v) {
  char tmp[24];
  int n = snprintf(tmp, sizeof tmp, "%" PRId64, v);
  return put_field(c, tmp, (size_t)n);
}

/* 6 bits, the sign and "more" in the first byte; 7 bits and "more" in
 * each of at most 9 others, least significant first. */
static int get_int(struct decoder *d, uint64_t *mag, bool *neg) {
  if (d->i >= d->n) return -1;
  uint8_t b = d->p[d->i++];
  uint64_t v = b & 0x3f;
  *neg = (b & 0x40) != 0;
  for (unsigned shift = 6, k = 1; b & 0x80; shift += 7, k++) {
    if (k == 10 || d->i >= d->n) return -1;
    b = d->p[d->i++];
    uint64_t group = b & 0x7f;
    if (shift == 62 && group > 3) return -1;
    v |= group << shift;
  }
  *mag = v;
  return 0;
}

static int get_sint(struct decoder *d, int64_t *v) {
  uint64_t mag;
  bool neg;
  if (get_int(d, &mag, &neg) != 0 || mag > (uint64_t)INT64_MAX + neg) return -1;
  *v = neg ? (int64_t)(0 - mag) : (int64_t)mag;
  return 0;
}

static int get_key(struct decoder *d, uint64_t *key) {
  bool neg;
  return get_int(d, key, &neg) != 0 || neg ? -1 : 0;
}

static int get_str(struct decoder *d, const char **s, size_t *len) {
  const uint8_t *end = memchr(d->p + d->i, '\0', d->n - d->i);
  if (end == NULL) return -1;
  *s = (const char *)d->p + d->i;
  *len = (size_t)(end - (d->p + d->i));
  d->i += *len + 1;
  return 0;
}

static size_t slot(const struct decoder *d, int kind, uint64_t key) {
  uint64_t h = (key * 31 + (uint64_t)d->pid) * 0x9e3779b97f4a7c15ull + (uint64_t)kind;
  return (size_t)(h ^ h >> 29) & (d->cap - 1);
}

static struct def *find(const struct decoder *d, int kind, uint64_t key) {
  if (d->cap == 0) return NULL;
  for (size_t j = slot(d, kind, key); d->defs[j].kind != 0; j = (j + 1) & (d->cap - 1)) {
    struct def *e = &d->defs[j];
    if (e->kind == kind && e->key == key && e->pid == d->pid) return e;
  }
  return NULL;
}

static int grow(struct decoder *d) {
  struct decoder old = *d;
  d->cap = d->cap ? 2 * d->cap : 256;
  d->defs = calloc(d->cap, sizeof *d->defs);
  if (d->defs == NULL) return -1;
  for (size_t i = 0; i < old.cap; i++) {
    if (old.defs[i].kind == 0) continue;
    d->pid = old.defs[i].pid;
    size_t j = slot(d, old.defs[i].kind, old.defs[i].key);
    while (d->defs[j].kind != 0) j = (j + 1) & (d->cap - 1);
    d->defs[j] = old.defs[i];
  }
  d->pid = old.pid;
  free(old.defs);
  return 0;
}

/* What the arena holds from at on is the definition of (kind, key). */
static int define(struct decoder *d, int kind, uint64_t key, size_t at) {
  struct def *e = find(d, kind, key);
  if (e == NULL) {
    if (2 * (d->count + 1) > d->cap && grow(d) != 0) return -1;
    size_t j = slot(d, kind, key);
    while (d->defs[j].kind != 0) j = (j + 1) & (d->cap - 1);
    e = &d->defs[j];
    d->count++;
  }
  *e = (struct def){d->pid, key, kind, at, d->arena.len - at};
  return 0;
}

/* A string by key; 0 and 1 are "" and "<unknown>" unless defined. */
static int string_of(struct decoder *d, uint64_t key, const char **s, size_t *len) {
  const struct def *e = find(d, 's', key);
  if (e != NULL) {
    /* Only empty strings defined so far: no arena yet. */
    *s = e->len > 0 ? d->arena.buf + e->at : "";
    *len = e->len;
    return 0;
  }
  if (key > 1) return -1;
  *s = key == 0 ? "" : "<unknown>";
  *len = strlen(*s);
  return 0;
}

static int on_frame(struct decoder *d) {
  uint64_t key, fkey, nkey;
  int64_t loc[4];
  const char *file, *name;
  size_t flen, nlen;
  if (get_key(d, &key) || get_key(d, &fkey) || get_key(d, &nkey)) return -1;
  for (int i = 0; i < 4; i++)
    if (get_sint(d, &loc[i])) return -1;
  if (string_of(d, fkey, &file, &flen) || string_of(d, nkey, &name, &nlen)) return -1;
  /* file and name may lie in the arena that put_field grows: copy first. */
  char *copy = malloc(flen + nlen + 2);
  if (copy == NULL) return -1;
  memcpy(copy, file, flen);
  memcpy(copy + flen + 1, name, nlen);
  size_t at = d->arena.len;
  int rc = put_field(&d->arena, copy, flen) || put_field(&d->arena, copy + flen + 1, nlen);
  free(copy);
  for (int i = 0; rc == 0 && i < 4; i++) rc = put_int(&d->arena, loc[i]);
  return rc ? -1 : define(d, 'f', key, at);
}

static int on_string(struct decoder *d) {
  uint64_t key;
  const char *s;
  size_t len;
  if (get_key(d, &key) || get_str(d, &s, &len)) return -1;
  size_t at = d->arena.len;
  return put(&d->arena, s, len) ? -1 : define(d, 's', key, at);
}

static int on_ref(struct decoder *d, int kind, bool keep) {
  uint64_t key;
  const char *s;
  size_t len;
  if (get_key(d, &key)) return -1;
  if (kind == 's') {
    if (string_of(d, key, &s, &len)) return -1;
  } else {
    const struct def *e = find(d, 'f', key);
    if (e == NULL) return -1;
    s = d->arena.buf + e->at;
    len = e->len;
  }
  return keep ? put_field(d->out, s, len) : 0;
}

/* Fields, in order: 's' a string, 'i' a signed integer. */
static int copy_fields(struct decoder *d, const char *fields) {
  for (; *fields; fields++) {
    const char *s;
    size_t len;
    int64_t v;
    if (*fields == 's' ? get_str(d, &s, &len) || put_field(d->out, s, len)
                       : get_sint(d, &v) || put_int(d->out, v))
      return -1;
  }
  return 0;
}

static int one_event(struct decoder *d, uint8_t ev, bool frames) {
  static const char *const fields[13] = {NULL, "ss", NULL, NULL, "", NULL, "s",
                                         "",   "",   "i",  "i",  NULL, NULL};
  /* Definitions are left out: what they define appears where used. */
  bool keep = ev != 3 && ev != 11 && (frames || ev != 5);
  if (keep && put(d->out, &ev, 1)) return -1;
  switch (ev) {
  case 2: { /* STACK: the process whose keys follow */
    size_t at = d->i;
    if (get_sint(d, &d->pid)) return -1;
    d->i = at;
    return copy_fields(d, "iis");
  }
  case 3: return on_frame(d);
  case 5: return on_ref(d, 'f', keep);
  case 11: return on_string(d);
  case 12: return on_ref(d, 's', true);
  default: return ev < 13 && fields[ev] != NULL ? copy_fields(d, fields[ev]) : -1;
  }
}

int mojo_canon(const uint8_t *p, size_t n, bool frames, struct canon *c) {
  struct decoder d = {p, n, 0, 0, NULL, 0, 0, {NULL, 0, 0}, c};
  c->len = 0;
  uint64_t version;
  bool neg;
  int rc = n < 3 || memcmp(p, "MOJ", 3) != 0 ? -1 : 0;
  d.i = 3;
  if (rc == 0 && (get_int(&d, &version, &neg) || neg || version != 3)) rc = -1;
  while (rc == 0 && d.i < n) rc = one_event(&d, p[d.i++], frames);
  free(d.defs);
  free(d.arena.buf);
  return rc;
}

void canon_free(struct canon *c) {
  free(c->buf);
  *c = (struct canon){NULL, 0, 0};
}
