/* The vDSO: the small ELF image the kernel maps into every process
 * ("[vdso]" in its maps; AT_SYSINFO_EHDR in its auxiliary vector).
 *
 * It holds the fast paths of clock_gettime, gettimeofday, time and getcpu,
 * where programs that read clocks often (event loops, timers, loggers,
 * time.monotonic()) are caught by the sampler. It is no file: no path, no
 * map_files entry. Its unwind tables (.eh_frame_hdr, .eh_frame) and its
 * symbols (.dynsym: __vdso_clock_gettime...) are read from the image in
 * the target's memory, once per process. The target's memory is not
 * trusted: the image is read with one bounded read and every structure in
 * it is checked against the image's bounds (libelf checks the section
 * offsets and strings; sizes and addresses are checked here). */
#ifndef VDSO_H
#define VDSO_H

#include <stddef.h>
#include <stdint.h>

#include "elf_symbols.h"
#include "remote.h"

/* Largest image read: two to four pages on the kernels seen; a mapping
 * larger than this is not believed to be a vDSO. */
#define VDSO_MAX_BYTES (256u << 10)

/* The special mapping's name in /proc/PID/maps. */
#define VDSO_MAPPING "[vdso]"

struct vdso_image;

/* Read the image mapped at [start, end) in the process r reads, and parse
 * it. NULL when it cannot be read or is no ELF image of our class and
 * byte order. */
struct vdso_image *vdso_image_read(struct remote *r, uint64_t start, uint64_t end);
void vdso_image_free(struct vdso_image *v);

/* Load bias of the image mapped at map_start (the mapping starts at the
 * image's first byte): the value to add to a link-time address. */
uint64_t vdso_image_bias(const struct vdso_image *v, uint64_t map_start);

/* Offset in the image of a link-time address (what names an unnamed
 * function: "[vdso]+0x7a0"). */
uint64_t vdso_image_offset(const struct vdso_image *v, uint64_t addr);

/* Link-time address and size of a section by name; -1 if none (or it
 * does not lie in the image). */
int vdso_image_section(const struct vdso_image *v, const char *name, uint64_t *addr,
                       uint64_t *size);

/* Copy len bytes at link-time address addr; -1 unless all of them lie in
 * one loaded segment's contents. */
int vdso_image_read_at(const struct vdso_image *v, uint64_t addr, void *buf, size_t len);

/* The defined function symbols of .dynsym (as elf_file_each_function);
 * the names live as long as the image. */
int vdso_image_each_function(const struct vdso_image *v, elf_symbol_cb cb, void *ctx);

#endif
