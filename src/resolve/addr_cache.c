#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "addr_cache.h"

/* Frames and strings are bump-allocated from chunks that never move, so
 * that pointers handed out stay valid until the cache is emptied. */
#define CHUNK_SIZE (256u << 10)

struct chunk {
  struct chunk *next;
  size_t used, size;
  char data[];
};

struct slot {
  struct addr_cached e;
  bool used;
};

struct addr_cache {
  struct slot *slots;
  size_t nslots;      /* a power of two, twice max_entries at least */
  size_t count, max_entries;
  size_t bytes, max_bytes;
  struct chunk *chunks;
  uint64_t flushes;
};

static size_t pow2_at_least(size_t n) {
  size_t p = 16;
  while (p < n) p <<= 1;
  return p;
}

struct addr_cache *addr_cache_new(size_t max_entries, size_t max_bytes) {
  struct addr_cache *c = calloc(1, sizeof *c);
  if (c == NULL) return NULL;
  if (max_entries < 16) max_entries = 16;
  if (max_bytes < 4 * CHUNK_SIZE) max_bytes = 4 * CHUNK_SIZE;
  /* At most half full: probes stay short. */
  c->nslots = pow2_at_least(2 * max_entries);
  c->max_entries = max_entries;
  c->max_bytes = max_bytes;
  c->slots = calloc(c->nslots, sizeof *c->slots);
  if (c->slots == NULL) {
    free(c);
    return NULL;
  }
  return c;
}

static void chunks_free(struct addr_cache *c) {
  while (c->chunks != NULL) {
    struct chunk *n = c->chunks->next;
    free(c->chunks);
    c->chunks = n;
  }
  c->bytes = 0;
}

void addr_cache_free(struct addr_cache *c) {
  if (c == NULL) return;
  chunks_free(c);
  free(c->slots);
  free(c);
}

static void flush(struct addr_cache *c) {
  memset(c->slots, 0, c->nslots * sizeof *c->slots);
  c->count = 0;
  chunks_free(c);
  c->flushes++;
}

static size_t hash(uint32_t file, uint64_t vaddr) {
  uint64_t h = (vaddr ^ ((uint64_t)file << 47)) * UINT64_C(0x9e3779b97f4a7c15);
  return (size_t)(h >> 17);
}

const struct addr_cached *addr_cache_get(struct addr_cache *c, uint32_t file,
                                         uint64_t vaddr) {
  size_t mask = c->nslots - 1;
  for (size_t i = hash(file, vaddr) & mask;; i = (i + 1) & mask) {
    struct slot *s = &c->slots[i];
    if (!s->used) return NULL;
    if (s->e.vaddr == vaddr && s->e.file == file) return &s->e;
  }
}

/* n bytes, aligned for pointers, from the current chunk or a new one. */
static void *bump(struct addr_cache *c, size_t n) {
  n = (n + 7) & ~(size_t)7;
  struct chunk *k = c->chunks;
  if (k == NULL || k->size - k->used < n) {
    size_t size = n > CHUNK_SIZE ? n : CHUNK_SIZE;
    k = malloc(sizeof *k + size);
    if (k == NULL) return NULL;
    k->size = size;
    k->used = 0;
    k->next = c->chunks;
    c->chunks = k;
    c->bytes += sizeof *k + size;
  }
  void *p = k->data + k->used;
  k->used += n;
  return p;
}

static size_t entry_bytes(const struct resolver_frame *frames, uint32_t n) {
  size_t b = n * sizeof *frames;
  for (uint32_t i = 0; i < n; i++) {
    if (frames[i].function) b += strlen(frames[i].function) + 1;
    if (frames[i].file) b += strlen(frames[i].file) + 1;
  }
  return b + 8 * (2 * n + 1); /* alignment */
}

static const char *copy_str(struct addr_cache *c, const char *s) {
  if (s == NULL) return NULL;
  size_t n = strlen(s) + 1;
  char *p = bump(c, n);
  if (p != NULL) memcpy(p, s, n);
  return p;
}

/* The frames and their strings, copied; NULL when out of memory. */
static struct resolver_frame *copy_frames(struct addr_cache *c,
                                          const struct resolver_frame *frames,
                                          uint32_t n) {
  if (n == 0) return NULL;
  struct resolver_frame *out = bump(c, n * sizeof *out);
  if (out == NULL) return NULL;
  for (uint32_t i = 0; i < n; i++) {
    out[i].line = frames[i].line;
    out[i].function = copy_str(c, frames[i].function);
    out[i].file = copy_str(c, frames[i].file);
    if ((frames[i].function && !out[i].function) || (frames[i].file && !out[i].file))
      return NULL;
  }
  return out;
}

const struct addr_cached *addr_cache_put(struct addr_cache *c, uint32_t file,
                                         uint64_t vaddr,
                                         const struct resolver_frame *frames,
                                         uint32_t n) {
  size_t need = entry_bytes(frames, n);
  if (need > c->max_bytes / 2) return NULL;
  if (c->count >= c->max_entries || c->bytes + need + CHUNK_SIZE > c->max_bytes)
    flush(c);
  struct resolver_frame *copy = copy_frames(c, frames, n);
  if (n > 0 && copy == NULL) {
    /* Out of memory: start again empty rather than keep a half entry. */
    flush(c);
    return NULL;
  }
  size_t mask = c->nslots - 1;
  size_t i = hash(file, vaddr) & mask;
  while (c->slots[i].used) {
    if (c->slots[i].e.vaddr == vaddr && c->slots[i].e.file == file) break;
    i = (i + 1) & mask;
  }
  struct slot *s = &c->slots[i];
  if (!s->used) c->count++;
  s->used = true;
  s->e = (struct addr_cached){vaddr, file, n, copy};
  return &s->e;
}

uint64_t addr_cache_flushes(const struct addr_cache *c) { return c->flushes; }
