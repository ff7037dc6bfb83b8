/* Reading .eh_frame records directly, for what libunwind does not tell:
 * which FDE holds a pc, and which FDE follows another in the section.
 *
 * Compilers that split a function into a hot and a cold part (GCC's
 * `.cold` parts, which Debian's PGO builds of CPython put most of the
 * evaluation loop in) emit one FDE per part, the cold part's right after
 * the function's own. In a stripped binary no symbol names the cold part:
 * the FDE order is what still ties it to its function. */
#ifndef EH_FRAME_H
#define EH_FRAME_H

#include <stddef.h>
#include <stdint.h>

/* A section's contents and its link-time address. */
struct eh_section {
  const uint8_t *data;
  uint64_t addr;
  size_t size;
};

/* The FDE for pc in .eh_frame_hdr's sorted table (count entries of two
 * datarel sdata4 fields at table_addr): its address in .eh_frame.
 * 0 on success, -1 when no entry covers pc or the table is bad. */
int eh_frame_hdr_find(const struct eh_section *hdr, uint64_t table_addr, uint64_t count,
                      uint64_t pc, uint64_t *fde_addr);

/* The pc range [start, end) of the FDE at fde_addr. 0 or -1. */
int eh_frame_fde_range(const struct eh_section *eh, uint64_t fde_addr, uint64_t *start,
                       uint64_t *end);

/* The FDE that follows the one at fde_addr in the section (CIEs skipped):
 * its address. 0 or -1 (end of section, malformed record). */
int eh_frame_next_fde(const struct eh_section *eh, uint64_t fde_addr, uint64_t *next);

#endif
