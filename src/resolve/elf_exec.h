/* Where a file's code is mapped: the executable PT_LOAD segments of an
 * ELF file, read from its program headers. */
#ifndef ELF_EXEC_H
#define ELF_EXEC_H

#include <stdint.h>

#include "load_bias.h"

#define ELF_EXEC_MAX 4

struct elf_exec {
  unsigned count;
  struct {
    struct load_segment load; /* p_vaddr, p_offset, p_filesz */
    uint64_t span;            /* page-rounded size of the mapping it makes */
  } seg[ELF_EXEC_MAX];
};

/* The executable segments of the ELF file open on fd (ELF32 or ELF64 of
 * this machine's byte order). 0, or -1 when it is not such a file or has
 * no executable segment. */
int elf_exec_read(int fd, struct elf_exec *out);

/* The load bias of a file whose executable mapping starts at lo, for an
 * address pc of that mapping: lo is where the kernel (or ld.so) put the
 * first page of a PF_X segment (the rule of src/sampler/load_bias.c, for
 * that segment's first page: bias = lo - page_down(p_vaddr)). With
 * several executable segments (rare), the one long enough to hold pc;
 * the first one otherwise. */
uint64_t elf_exec_bias(const struct elf_exec *x, uint64_t lo, uint64_t pc);

#endif
