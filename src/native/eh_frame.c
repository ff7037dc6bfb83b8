/* .eh_frame records read directly; every read bounded by the section. */
#include "eh_frame.h"

#include <stdbool.h>
#include <string.h>

#define DW_EH_PE_omit 0xff
#define DW_EH_PE_pcrel 0x10

/* A cursor over one section: reads fail past its end. */
struct cur {
  const struct eh_section *s;
  size_t off;
};

static bool get(struct cur *c, void *out, size_t n) {
  if (c->off > c->s->size || n > c->s->size - c->off) return false;
  memcpy(out, c->s->data + c->off, n);
  c->off += n;
  return true;
}

static bool get_uleb(struct cur *c, uint64_t *out) {
  uint64_t v = 0;
  for (unsigned shift = 0; shift < 64; shift += 7) {
    uint8_t b;
    if (!get(c, &b, 1)) return false;
    v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *out = v;
      return true;
    }
  }
  return false;
}

/* Value of an encoded pointer: the format in the low nibble; only
 * absolute and pc-relative applications are accepted (what .eh_frame's
 * FDE addresses use). */
static bool get_encoded(struct cur *c, uint8_t enc, bool apply, uint64_t *out) {
  uint64_t field = c->s->addr + c->off, v;
  switch (enc & 0x0f) {
  case 0x00: case 0x04: case 0x0c: { uint64_t x; if (!get(c, &x, 8)) return false; v = x; break; }
  case 0x03: { uint32_t x; if (!get(c, &x, 4)) return false; v = x; break; }
  case 0x0b: { int32_t x; if (!get(c, &x, 4)) return false; v = (uint64_t)(int64_t)x; break; }
  case 0x02: { uint16_t x; if (!get(c, &x, 2)) return false; v = x; break; }
  case 0x0a: { int16_t x; if (!get(c, &x, 2)) return false; v = (uint64_t)(int64_t)x; break; }
  default: return false;
  }
  if (apply) {
    switch (enc & 0x70) {
    case 0: break;
    case DW_EH_PE_pcrel: v += field; break;
    default: return false;
    }
  }
  *out = v;
  return true;
}

/* A record's header: its length and where its body starts (after the
 * length field) and where the next record starts. */
static bool record(const struct eh_section *s, uint64_t addr, size_t *body, size_t *next) {
  if (addr < s->addr) return false;
  struct cur c = {s, addr - s->addr};
  uint32_t len32;
  if (!get(&c, &len32, 4) || len32 == 0) return false;
  uint64_t len = len32;
  if (len32 == 0xffffffffu && !get(&c, &len, 8)) return false;
  if (len > s->size - c.off) return false;
  *body = c.off;
  *next = c.off + len;
  return true;
}

/* The FDE pointer encoding of the CIE at cie_off ('R' of a "z..."
 * augmentation; absolute pointers when absent). */
static bool cie_encoding(const struct eh_section *s, size_t cie_off, uint8_t *enc) {
  size_t body, next;
  if (!record(s, s->addr + cie_off, &body, &next)) return false;
  struct cur c = {s, body};
  uint32_t id;
  uint8_t version;
  if (!get(&c, &id, 4) || id != 0 || !get(&c, &version, 1)) return false;
  char aug[16];
  size_t n = 0;
  for (;;) {
    if (n == sizeof aug || !get(&c, &aug[n], 1)) return false;
    if (aug[n++] == '\0') break;
  }
  *enc = 0;
  if (aug[0] != 'z') return aug[0] == '\0';
  uint64_t skip;
  if (!get_uleb(&c, &skip) || !get_uleb(&c, &skip)) return false; /* alignments */
  if (version == 1) {
    uint8_t ra;
    if (!get(&c, &ra, 1)) return false;
  } else if (!get_uleb(&c, &skip)) {
    return false;
  }
  uint64_t aug_len;
  if (!get_uleb(&c, &aug_len)) return false;
  for (size_t i = 1; aug[i] != '\0'; i++) {
    uint8_t e;
    uint64_t ignored;
    switch (aug[i]) {
    case 'R': return get(&c, enc, 1);
    case 'P': if (!get(&c, &e, 1) || !get_encoded(&c, e, false, &ignored)) return false; break;
    case 'L': if (!get(&c, &e, 1)) return false; break;
    default: return false; /* unknown augmentation: its data cannot be skipped safely */
    }
  }
  return true;
}

int eh_frame_fde_range(const struct eh_section *eh, uint64_t fde_addr, uint64_t *start,
                       uint64_t *end) {
  size_t body, next;
  if (!record(eh, fde_addr, &body, &next)) return -1;
  struct cur c = {eh, body};
  uint32_t cie_ptr;
  if (!get(&c, &cie_ptr, 4) || cie_ptr == 0 || cie_ptr > body) return -1;
  uint8_t enc;
  if (!cie_encoding(eh, body - cie_ptr, &enc)) return -1;
  uint64_t pc, range;
  if (!get_encoded(&c, enc, true, &pc) || !get_encoded(&c, enc & 0x0f, false, &range) ||
      c.off > next || range == 0 || pc + range < pc)
    return -1;
  *start = pc;
  *end = pc + range;
  return 0;
}

int eh_frame_next_fde(const struct eh_section *eh, uint64_t fde_addr, uint64_t *out) {
  size_t body, next;
  if (!record(eh, fde_addr, &body, &next)) return -1;
  /* Bounded: a CIE or two may sit between two FDEs of one object. */
  for (int i = 0; i < 64; i++) {
    uint64_t at = eh->addr + next;
    if (!record(eh, at, &body, &next)) return -1;
    struct cur c = {eh, body};
    uint32_t id;
    if (!get(&c, &id, 4)) return -1;
    if (id != 0) {
      *out = at;
      return 0;
    }
  }
  return -1;
}

int eh_frame_hdr_find(const struct eh_section *hdr, uint64_t table_addr, uint64_t count,
                      uint64_t pc, uint64_t *fde_addr) {
  if (table_addr < hdr->addr || table_addr - hdr->addr > hdr->size ||
      count > (hdr->size - (table_addr - hdr->addr)) / 8 || count == 0)
    return -1;
  const uint8_t *t = hdr->data + (table_addr - hdr->addr);
  /* The last entry whose initial location is <= pc. */
  size_t lo = 0, hi = count;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int32_t loc;
    memcpy(&loc, t + 8 * mid, 4);
    if (hdr->addr + (uint64_t)(int64_t)loc <= pc) lo = mid + 1;
    else hi = mid;
  }
  if (lo == 0) return -1;
  int32_t fde;
  memcpy(&fde, t + 8 * (lo - 1) + 4, 4);
  *fde_addr = hdr->addr + (uint64_t)(int64_t)fde;
  return 0;
}
