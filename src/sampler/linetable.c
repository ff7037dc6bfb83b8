/* Line tables: decoding of co_lnotab (3.8, 3.9), the PEP 626 co_linetable
 * (3.10) and the PEP 657 location table (3.11+).
 *
 * The tables come from another process's memory, so nothing in them is
 * trusted: every read is checked against the table length, every loop is
 * bounded by it, and arithmetic is done on 64-bit values checked against the
 * int range before being handed out. */
#include "linetable.h"

#include <limits.h>

/* Lines and columns outside this range are taken as a malformed table. */
#define LT_MAX_VALUE ((int64_t)INT_MAX)
#define LT_MIN_LINE ((int64_t)INT_MIN / 2)

static int line_ok(int64_t line) {
  return line >= LT_MIN_LINE && line <= LT_MAX_VALUE;
}

static void set_line_only(struct linetable_location *out, int line) {
  out->line = line;
  out->end_line = line;
  out->column = -1;
  out->end_column = -1;
}

/* ---- 3.8, 3.9: co_lnotab ------------------------------------------------
 * Pairs (byte increment: unsigned, line increment: signed byte). The line of
 * the instruction at `offset` is firstlineno plus the line increments of
 * every pair whose cumulative byte offset is <= offset. */
static int locate_lnotab(const uint8_t *table, size_t len, int firstlineno,
                         uint64_t offset, struct linetable_location *out) {
  if (len % 2 != 0)
    return -1;
  uint64_t addr = 0;
  int64_t line = firstlineno;
  for (size_t i = 0; i + 1 < len; i += 2) {
    addr += table[i];
    if (addr > offset)
      break;
    line += (int8_t)table[i + 1];
    if (!line_ok(line))
      return -1;
  }
  set_line_only(out, (int)line);
  return 0;
}

/* ---- 3.10: PEP 626 co_linetable -----------------------------------------
 * Pairs (start delta: unsigned byte, line delta: signed byte). Each pair
 * describes the range [end, end + delta) following the previous range; a line
 * delta of -128 means the range has no line (and leaves the running line
 * unchanged). Empty ranges only carry line deltas. */
static int locate_pep626(const uint8_t *table, size_t len, int firstlineno,
                         uint64_t offset, struct linetable_location *out) {
  if (len % 2 != 0)
    return -1;
  uint64_t end = 0;
  int64_t line = firstlineno;
  for (size_t i = 0; i + 1 < len; i += 2) {
    uint64_t start = end;
    end = start + table[i];
    int ldelta = (int8_t)table[i + 1];
    int has_line = ldelta != -128;
    if (has_line) {
      line += ldelta;
      if (!line_ok(line))
        return -1;
    }
    if (start <= offset && offset < end) {
      set_line_only(out, has_line ? (int)line : 0);
      return 0;
    }
  }
  return -1;
}

/* ---- 3.11+: PEP 657 location table --------------------------------------
 * Entries: a first byte 1cccclll (code c, length l+1 in 2-byte code units)
 * followed by bytes whose most significant bit is clear. */
enum {
  LOC_SHORT_MAX = 9,
  LOC_ONE_LINE0 = 10,
  LOC_ONE_LINE2 = 12,
  LOC_NO_COLUMNS = 13,
  LOC_LONG = 14,
  LOC_NONE = 15,
};

struct loc_reader {
  const uint8_t *table;
  size_t len;
  size_t pos;
};

/* A byte that is part of an entry (not its first byte). */
static int read_cont_byte(struct loc_reader *r, uint32_t *value) {
  if (r->pos >= r->len)
    return -1;
  uint8_t b = r->table[r->pos];
  if (b & 0x80)
    return -1;
  r->pos++;
  *value = b;
  return 0;
}

/* Unsigned varint: 6-bit chunks, least significant first, bit 6 set on every
 * chunk but the last. Values beyond 32 bits are malformed. */
static int read_varint(struct loc_reader *r, uint64_t *value) {
  uint64_t result = 0;
  unsigned shift = 0;
  for (;;) {
    uint32_t b;
    if (read_cont_byte(r, &b) < 0)
      return -1;
    result |= (uint64_t)(b & 0x3f) << shift;
    if (!(b & 0x40))
      break;
    shift += 6;
    if (shift > 30)
      return -1;
  }
  if (result > UINT32_MAX)
    return -1;
  *value = result;
  return 0;
}

/* Signed varint: an unsigned varint v; v>>1, negated when v&1. */
static int read_svarint(struct loc_reader *r, int64_t *value) {
  uint64_t v;
  if (read_varint(r, &v) < 0)
    return -1;
  int64_t magnitude = (int64_t)(v >> 1);
  *value = (v & 1) ? -magnitude : magnitude;
  return 0;
}

static int locate_locations(const uint8_t *table, size_t len, int firstlineno,
                            uint64_t offset, struct linetable_location *out) {
  struct loc_reader r = {table, len, 0};
  uint64_t end = 0;
  int64_t line = firstlineno;
  /* Every iteration consumes at least one byte: bounded by len. */
  while (r.pos < r.len) {
    uint8_t first = r.table[r.pos++];
    if (!(first & 0x80))
      return -1;
    int code = (first >> 3) & 0x0f;
    uint64_t start = end;
    end = start + 2 * (uint64_t)((first & 7) + 1);

    int64_t eline, col, ecol;
    int has_line = 1;
    if (code <= LOC_SHORT_MAX) {
      uint32_t second;
      if (read_cont_byte(&r, &second) < 0)
        return -1;
      eline = line;
      col = ((int64_t)code << 3) | (second >> 4);
      ecol = col + (second & 0x0f);
    } else if (code <= LOC_ONE_LINE2) {
      uint32_t c, ec;
      line += code - LOC_ONE_LINE0;
      if (read_cont_byte(&r, &c) < 0 || read_cont_byte(&r, &ec) < 0)
        return -1;
      eline = line;
      col = c;
      ecol = ec;
    } else if (code == LOC_NO_COLUMNS) {
      int64_t delta;
      if (read_svarint(&r, &delta) < 0)
        return -1;
      line += delta;
      eline = line;
      col = ecol = -1;
    } else if (code == LOC_LONG) {
      int64_t delta;
      uint64_t edelta, c, ec;
      if (read_svarint(&r, &delta) < 0 || read_varint(&r, &edelta) < 0 ||
          read_varint(&r, &c) < 0 || read_varint(&r, &ec) < 0)
        return -1;
      line += delta;
      eline = line + (int64_t)edelta;
      /* Columns are stored plus one; 0 means unknown. */
      col = (int64_t)c - 1;
      ecol = (int64_t)ec - 1;
    } else { /* LOC_NONE */
      has_line = 0;
      eline = 0;
      col = ecol = -1;
    }
    if (!line_ok(line) || !line_ok(eline) || col > LT_MAX_VALUE ||
        ecol > LT_MAX_VALUE)
      return -1;

    if (start <= offset && offset < end) {
      if (has_line) {
        out->line = (int)line;
        out->end_line = (int)eline;
      } else {
        out->line = 0;
        out->end_line = 0;
      }
      out->column = (int)col;
      out->end_column = (int)ecol;
      return 0;
    }
  }
  return -1;
}

int linetable_locate(enum linetable_format format, const uint8_t *table,
                     size_t len, int firstlineno, uint64_t offset,
                     struct linetable_location *out) {
  if (out == NULL || (table == NULL && len != 0))
    return -1;
  switch (format) {
  case LINETABLE_LNOTAB:
    return locate_lnotab(table, len, firstlineno, offset, out);
  case LINETABLE_PEP626:
    return locate_pep626(table, len, firstlineno, offset, out);
  case LINETABLE_LOCATIONS:
    return locate_locations(table, len, firstlineno, offset, out);
  }
  return -1;
}
