/* Code objects read from the target, cached by address.
 *
 * The cache is direct-mapped with a fixed number of slots, so its memory is
 * bounded however many functions the target creates. An entry is reused
 * only when the code object still points to the same name, file and line
 * table objects (checked with the one read of the code object's head that
 * each frame costs anyway), so a freed and reallocated address never
 * yields a stale name. */
#ifndef PY_CODE_H
#define PY_CODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "py_discover.h"
#include "linetable.h"
#include "remote.h"

#define PY_CODE_CACHE_SLOTS 4096

struct py_code {
  uint64_t addr;
  uint64_t filename_ptr, name_ptr, linetable_ptr;
  int firstlineno;
  char *filename;
  char *name;            /* co_qualname from 3.11, co_name before */
  bool hidden;           /* an interpreter trampoline, not user code */
  uint8_t *linetable;
  size_t linetable_len;
  uint64_t last_offset;  /* one-entry memo of the last lookup */
  struct linetable_location last_loc;
};

struct py_code_cache {
  struct py_code *slots[PY_CODE_CACHE_SLOTS];
  /* Entries replaced since the last sweep: a sample may still point to
   * their strings until it has been emitted. */
  struct py_code **evicted;
  size_t nevicted, evicted_cap;
  uint64_t hits, misses;
};

void py_code_cache_init(struct py_code_cache *c);
void py_code_cache_free(struct py_code_cache *c);

/* How many bytes of a code object's head identify it (its type, names,
 * first line and line table pointers). */
size_t py_code_head_length(const struct py_layout *l);

/* The code object at addr, given the bytes of its head already read (so
 * that the heads of a whole stack can be read in one go): from the cache
 * when it still holds the same names and table, else read now. NULL when
 * addr does not hold a readable code object. The entry stays valid until
 * the next py_code_cache_sweep. */
struct py_code *py_code_from_head(struct py_code_cache *c, struct remote *r,
                                  const struct py_runtime *rt, uint64_t addr,
                                  const uint8_t *head);

/* Free the entries evicted since the last sweep (after a sample has been
 * emitted). */
void py_code_cache_sweep(struct py_code_cache *c);

/* Source location of the instruction at byte offset `offset` of the code's
 * bytecode; 0 on success. */
int py_code_locate(struct py_code *code, const struct py_layout *l,
                   int64_t offset, struct linetable_location *loc);

#endif
