/* The load bias of a mapped ELF file: the value to add to a link-time
 * address to get the run-time address. One rule for the sampler (from
 * /proc/PID/maps: any mapping and its file offset) and the resolver (from
 * a profile's `# map:` line: the start of the executable mapping). */
#ifndef LOAD_BIAS_H
#define LOAD_BIAS_H

#include <stddef.h>
#include <stdint.h>

/* A PT_LOAD segment: p_vaddr, p_offset, and the part backed by the file. */
struct load_segment {
  uint64_t vaddr, offset, filesz;
};

/* The bias of a file whose mapping of file offset map_offset starts at
 * map_start, among its segments (page: the page size). 0, or -1 when the
 * offset belongs to no segment. */
int load_bias(const struct load_segment *segs, size_t n, uint64_t page, uint64_t map_start,
              uint64_t map_offset, uint64_t *bias);

/* The same for the mapping of segment s that starts at its first page:
 * what a `# map:` line gives for an executable segment. */
uint64_t load_bias_segment_start(const struct load_segment *s, uint64_t page,
                                 uint64_t map_start);

#endif
