/* One rule for the load bias (see load_bias.h).
 *
 * How a segment is mapped: the loader (kernel or ld.so) maps the file
 * pages of a PT_LOAD segment at page granularity,
 *
 *     mmap(PAGE_DOWN(bias + p_vaddr), ..., offset = PAGE_DOWN(p_offset))
 *
 * which works because p_vaddr and p_offset are congruent modulo the page
 * size. Within the segment, the byte at file offset o is at run-time
 * address bias + p_vaddr + (o - p_offset); this holds for the page-rounded
 * start too, and for any later piece of the segment that became a mapping
 * of its own (mprotect of RELRO splits the mapping). The mapping begins
 * with the byte at file offset map_offset, at address map_start, so
 *
 *     map_start = bias + p_vaddr + (map_offset - p_offset)
 *     bias      = map_start - (p_vaddr - (p_offset - map_offset))
 *
 * The segment is the one whose page-rounded file range
 * [PAGE_DOWN(p_offset), PAGE_UP(p_offset + p_filesz)) holds map_offset.
 * When two segments share a page, a mapping that starts on that page is
 * the mapping of the later segment (the earlier one's mapping starts on an
 * earlier page), so the segment with the greatest start wins. */
#include "load_bias.h"

int load_bias(const struct load_segment *segs, size_t n, uint64_t page, uint64_t map_start,
              uint64_t map_offset, uint64_t *bias) {
  const struct load_segment *best = NULL;
  uint64_t best_start = 0;
  for (size_t i = 0; i < n; i++) {
    const struct load_segment *s = &segs[i];
    uint64_t start = s->offset & ~(page - 1);
    uint64_t end = s->offset + s->filesz; /* no overflow: within the file */
    if (end > UINT64_MAX - (page - 1)) continue;
    end = (end + page - 1) & ~(page - 1);
    if (map_offset < start || map_offset >= end) continue;
    if (best == NULL || start > best_start) {
      best = s;
      best_start = start;
    }
  }
  if (best == NULL) return -1;
  /* Unsigned arithmetic wraps like the addresses do. */
  if (bias != NULL) *bias = map_start - (best->vaddr - (best->offset - map_offset));
  return 0;
}

uint64_t load_bias_segment_start(const struct load_segment *s, uint64_t page,
                                 uint64_t map_start) {
  uint64_t bias;
  /* The mapping's offset is the segment's, page-rounded down; the segment
   * alone: its first page is where the mapping starts. (A segment with no
   * file contents has no file range: its first page is still p_vaddr's.) */
  if (load_bias(s, 1, page, map_start, s->offset & ~(page - 1), &bias) != 0)
    bias = map_start - (s->vaddr & ~(page - 1));
  return bias;
}
