/* Line tables: from a code object's table bytes and an instruction offset
 * to a source location. Pure functions over bytes: no remote reads. */
#ifndef LINETABLE_H
#define LINETABLE_H

#include <stddef.h>
#include <stdint.h>

enum linetable_format {
  LINETABLE_LNOTAB,    /* 3.8, 3.9: co_lnotab (byte increments, signed line deltas) */
  LINETABLE_PEP626,    /* 3.10: co_linetable (start/end deltas) */
  LINETABLE_LOCATIONS, /* 3.11+: PEP 657 location table */
};

struct linetable_location {
  int line;       /* 0 when the instruction has no line */
  int end_line;   /* = line when unknown */
  int column;     /* 0-based; -1 when unknown (always before 3.11) */
  int end_column; /* -1 when unknown */
};

/* Location of the instruction at byte offset `offset` (from the start of
 * the bytecode) in a code object whose first line is `firstlineno`.
 * Returns 0 on success, -1 when the table is malformed or does not cover
 * the offset. Never reads outside table[0..len). */
int linetable_locate(enum linetable_format format, const uint8_t *table,
                     size_t len, int firstlineno, uint64_t offset,
                     struct linetable_location *out);

#endif
