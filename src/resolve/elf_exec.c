#include <elf.h>
#include <string.h>
#include <unistd.h>

#include "elf_exec.h"

/* The kernel and ld.so map segments at page granularity: 4 KiB on the
 * machines we run on (x86-64). */
#define PAGE 4096u
#define PAGE_DOWN(x) ((x) & ~(uint64_t)(PAGE - 1))
#define PAGE_UP(x) PAGE_DOWN((x) + PAGE - 1)
#define PHDRS_MAX 256

static void add(struct elf_exec *out, uint64_t vaddr, uint64_t offset, uint64_t filesz,
                uint64_t memsz) {
  if (out->count >= ELF_EXEC_MAX) return;
  out->seg[out->count].load = (struct load_segment){vaddr, offset, filesz};
  out->seg[out->count].span = PAGE_UP(vaddr + memsz) - PAGE_DOWN(vaddr);
  out->count++;
}

static int read_at(int fd, void *buf, size_t n, uint64_t off) {
  return pread(fd, buf, n, (off_t)off) == (ssize_t)n ? 0 : -1;
}

static int read64(int fd, struct elf_exec *out) {
  Elf64_Ehdr eh;
  if (read_at(fd, &eh, sizeof eh, 0) != 0) return -1;
  if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 || eh.e_phnum > PHDRS_MAX)
    return -1;
  Elf64_Phdr ph[PHDRS_MAX];
  if (read_at(fd, ph, eh.e_phnum * sizeof *ph, eh.e_phoff) != 0) return -1;
  for (unsigned i = 0; i < eh.e_phnum; i++)
    if (ph[i].p_type == PT_LOAD && (ph[i].p_flags & PF_X)) add(out, ph[i].p_vaddr, ph[i].p_offset, ph[i].p_filesz, ph[i].p_memsz);
  return 0;
}

static int read32(int fd, struct elf_exec *out) {
  Elf32_Ehdr eh;
  if (read_at(fd, &eh, sizeof eh, 0) != 0) return -1;
  if (eh.e_phentsize != sizeof(Elf32_Phdr) || eh.e_phnum == 0 || eh.e_phnum > PHDRS_MAX)
    return -1;
  Elf32_Phdr ph[PHDRS_MAX];
  if (read_at(fd, ph, eh.e_phnum * sizeof *ph, eh.e_phoff) != 0) return -1;
  for (unsigned i = 0; i < eh.e_phnum; i++)
    if (ph[i].p_type == PT_LOAD && (ph[i].p_flags & PF_X)) add(out, ph[i].p_vaddr, ph[i].p_offset, ph[i].p_filesz, ph[i].p_memsz);
  return 0;
}

int elf_exec_read(int fd, struct elf_exec *out) {
  unsigned char ident[EI_NIDENT];
  memset(out, 0, sizeof *out);
  if (read_at(fd, ident, sizeof ident, 0) != 0 || memcmp(ident, ELFMAG, SELFMAG) != 0)
    return -1;
  unsigned char data = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? ELFDATA2LSB : ELFDATA2MSB;
  if (ident[EI_DATA] != data) return -1;
  int rc = ident[EI_CLASS] == ELFCLASS64 ? read64(fd, out)
           : ident[EI_CLASS] == ELFCLASS32 ? read32(fd, out) : -1;
  return rc == 0 && out->count > 0 ? 0 : -1;
}

uint64_t elf_exec_bias(const struct elf_exec *x, uint64_t lo, uint64_t pc) {
  for (unsigned i = 0; i < x->count; i++)
    if (pc >= lo && pc - lo < x->seg[i].span)
      return load_bias_segment_start(&x->seg[i].load, PAGE, lo);
  return load_bias_segment_start(&x->seg[0].load, PAGE, lo);
}
