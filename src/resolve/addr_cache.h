/* A bounded cache of resolved addresses: (file number, address in the
 * file) -> the frames found there, strings copied in.
 *
 * Bounded in entries and in bytes; when either bound is reached the whole
 * cache is emptied and filled again. Profiles name a few thousand
 * distinct addresses, so this happens only on inputs far larger than the
 * bounds, and costs one libbfd look-up per address again, never memory. */
#ifndef ADDR_CACHE_H
#define ADDR_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "resolver.h"

struct addr_cache;

struct addr_cached {
  uint64_t vaddr;
  uint32_t file;
  uint32_t nframes;                     /* 0: nothing known there */
  const struct resolver_frame *frames;  /* outermost first */
};

/* max_entries: at most this many addresses; max_bytes: at most this much
 * memory for their frames and strings (both at least a small minimum). */
struct addr_cache *addr_cache_new(size_t max_entries, size_t max_bytes);
void addr_cache_free(struct addr_cache *c);

/* The entry for (file, vaddr), or NULL. Valid until the next put. */
const struct addr_cached *addr_cache_get(struct addr_cache *c, uint32_t file,
                                         uint64_t vaddr);

/* Store a copy of frames[0..n) for (file, vaddr), emptying the cache
 * first when it is full. NULL when out of memory or when the entry alone
 * is larger than the byte bound (the caller then uses its own copy). */
const struct addr_cached *addr_cache_put(struct addr_cache *c, uint32_t file,
                                         uint64_t vaddr,
                                         const struct resolver_frame *frames,
                                         uint32_t n);

/* How many times the cache was emptied. */
uint64_t addr_cache_flushes(const struct addr_cache *c);

#endif
