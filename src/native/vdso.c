/* The vDSO image, read from the target and parsed with libelf. */
#include "vdso.h"

#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct vdso_image {
  uint8_t *data; /* the mapping's contents: the image from its first byte */
  size_t size;
  Elf *elf;      /* over data */
  uint64_t link_base; /* link-time address of data[0] */
};

void vdso_image_free(struct vdso_image *v) {
  if (v == NULL) return;
  if (v->elf != NULL) elf_end(v->elf);
  free(v->data);
  free(v);
}

/* The first loadable segment says where the image's first byte was
 * linked (0 on current kernels; older x86_64 ones linked it high). */
static bool find_link_base(struct vdso_image *v) {
  size_t n;
  if (elf_getphdrnum(v->elf, &n) != 0 || n > 64) return false;
  for (size_t i = 0; i < n; i++) {
    GElf_Phdr ph;
    if (gelf_getphdr(v->elf, (int)i, &ph) == NULL || ph.p_type != PT_LOAD) continue;
    if (ph.p_offset > ph.p_vaddr) return false;
    v->link_base = ph.p_vaddr - ph.p_offset;
    return true;
  }
  return false;
}

struct vdso_image *vdso_image_read(struct remote *r, uint64_t start, uint64_t end) {
  if (r == NULL || end <= start || end - start > VDSO_MAX_BYTES) return NULL;
  if (elf_version(EV_CURRENT) == EV_NONE) return NULL;
  struct vdso_image *v = calloc(1, sizeof *v);
  if (v == NULL) return NULL;
  v->size = (size_t)(end - start);
  v->data = malloc(v->size);
  if (v->data == NULL || remote_read(r, start, v->data, v->size) != 0 ||
      memcmp(v->data, ELFMAG, SELFMAG) != 0) {
    vdso_image_free(v);
    return NULL;
  }
  v->elf = elf_memory((char *)v->data, v->size);
  if (v->elf == NULL || elf_kind(v->elf) != ELF_K_ELF || !find_link_base(v)) {
    vdso_image_free(v);
    return NULL;
  }
  return v;
}

uint64_t vdso_image_bias(const struct vdso_image *v, uint64_t map_start) {
  return map_start - v->link_base;
}

uint64_t vdso_image_offset(const struct vdso_image *v, uint64_t addr) {
  return addr - v->link_base;
}

/* A section whose contents lie in the image (libelf checks offsets when
 * it gives the data; this checks before anything is read). */
static bool section_in_image(const struct vdso_image *v, const GElf_Shdr *sh) {
  return sh->sh_type != SHT_NOBITS && sh->sh_offset <= v->size &&
         sh->sh_size <= v->size - sh->sh_offset;
}

int vdso_image_section(const struct vdso_image *v, const char *name, uint64_t *addr,
                       uint64_t *size) {
  size_t shstrndx;
  if (v == NULL || elf_getshdrstrndx(v->elf, &shstrndx) != 0) return -1;
  Elf_Scn *scn = NULL;
  while ((scn = elf_nextscn(v->elf, scn)) != NULL) {
    GElf_Shdr sh;
    if (gelf_getshdr(scn, &sh) == NULL) continue;
    const char *n = elf_strptr(v->elf, shstrndx, sh.sh_name);
    if (n == NULL || strcmp(n, name) != 0 || !section_in_image(v, &sh)) continue;
    if (addr != NULL) *addr = sh.sh_addr;
    if (size != NULL) *size = sh.sh_size;
    return 0;
  }
  return -1;
}

int vdso_image_read_at(const struct vdso_image *v, uint64_t addr, void *buf, size_t len) {
  size_t n;
  if (v == NULL || elf_getphdrnum(v->elf, &n) != 0) return -1;
  for (size_t i = 0; i < n && i < 64; i++) {
    GElf_Phdr ph;
    if (gelf_getphdr(v->elf, (int)i, &ph) == NULL || ph.p_type != PT_LOAD) continue;
    if (addr < ph.p_vaddr || addr - ph.p_vaddr > ph.p_filesz ||
        len > ph.p_filesz - (addr - ph.p_vaddr))
      continue;
    uint64_t off = ph.p_offset + (addr - ph.p_vaddr);
    if (off < ph.p_offset || off > v->size || len > v->size - off) return -1;
    memcpy(buf, v->data + off, len);
    return 0;
  }
  return -1;
}

int vdso_image_each_function(const struct vdso_image *v, elf_symbol_cb cb, void *ctx) {
  if (v == NULL) return 0;
  Elf_Scn *scn = NULL;
  while ((scn = elf_nextscn(v->elf, scn)) != NULL) {
    GElf_Shdr sh;
    if (gelf_getshdr(scn, &sh) == NULL || sh.sh_type != SHT_DYNSYM || !section_in_image(v, &sh))
      continue;
    Elf_Data *d = elf_getdata(scn, NULL);
    if (d == NULL || sh.sh_entsize == 0) continue;
    size_t count = sh.sh_size / sh.sh_entsize;
    for (size_t i = 0; i < count; i++) {
      GElf_Sym sym;
      /* gelf_getsym checks i against the data's size. */
      if (gelf_getsym(d, (int)i, &sym) == NULL) break;
      if (GELF_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_shndx == SHN_UNDEF ||
          sym.st_size == 0)
        continue;
      const char *name = elf_strptr(v->elf, sh.sh_link, sym.st_name);
      if (name == NULL || name[0] == '\0') continue;
      int rc = cb(name, sym.st_value, sym.st_size, ctx);
      if (rc != 0) return rc;
    }
  }
  return 0;
}
