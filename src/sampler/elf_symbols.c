/* ELF symbols and sections of one file, read with libelf.
 *
 * The file is untrusted (it may come from another container's root): every
 * offset and size read from it is checked against the size of the file
 * before use, and libelf is used in ELF_C_READ mode (no mmap, so a file
 * truncated under us gives a read error instead of SIGBUS). */
#include "elf_symbols.h"

#include "debug_paths.h"
#include "load_bias.h"
#include "minidebug.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Upper bounds on what we accept from a file. */
#define MAX_LOAD_SEGMENTS 64
#define MAX_BUILD_ID 64
#define MAX_PATH_LEN 4096

struct symtab {
  Elf_Data *syms;      /* converted symbols (gelf_getsym bounds-checks) */
  const char *strs;    /* string table contents */
  size_t strs_size;
  size_t count;
};

struct elf_file {
  int fd;
  Elf *elf;
  uint64_t file_size;
  size_t shstrndx;
  bool have_shstrndx;
  struct symtab dynsym, symtab;
  struct load_segment loads[MAX_LOAD_SEGMENTS];
  size_t nloads;
  unsigned char build_id[MAX_BUILD_ID];
  size_t build_id_len;
  char *path;
  char *root;
  bool is_debug;            /* this is itself a separate debug file */
  bool debug_tried;         /* the debug file was searched for */
  struct elf_file *debug;   /* the debug file, once found */
  char *debug_path;
  bool mini_tried;          /* .gnu_debugdata was looked at */
  struct elf_file *mini;    /* its ELF file (MiniDebugInfo), once read */
  void *mem;                /* an in-memory file's contents (owned) */
};

/* ---- helpers ---------------------------------------------------------- */

/* [off, off + size) lies within the file. */
static bool in_file(const struct elf_file *ef, uint64_t off, uint64_t size) {
  return off <= ef->file_size && size <= ef->file_size - off;
}

static char *xstrdup(const char *s) {
  return s ? strdup(s) : NULL;
}

/* A NUL-terminated string at `off` in a string table, or NULL. */
static const char *strtab_at(const char *strs, size_t size, uint64_t off) {
  if (strs == NULL || off >= size)
    return NULL;
  if (memchr(strs + off, '\0', size - off) == NULL)
    return NULL;
  return strs + off;
}

/* Data of a section whose header lies within the file, or NULL. NOBITS
 * sections (in a debug file made by --only-keep-debug, most are) have no
 * data. */
static Elf_Data *section_data(struct elf_file *ef, Elf_Scn *scn,
                              GElf_Shdr *shdr) {
  if (shdr->sh_type == SHT_NOBITS || shdr->sh_size == 0)
    return NULL;
  if (!in_file(ef, shdr->sh_offset, shdr->sh_size))
    return NULL;
  Elf_Data *data = elf_getdata(scn, NULL);
  if (data == NULL || data->d_buf == NULL)
    return NULL;
  return data;
}

/* Load a symbol table (SHT_SYMTAB or SHT_DYNSYM) and its string table. */
static void load_symtab(struct elf_file *ef, Elf_Scn *scn, GElf_Shdr *shdr,
                        struct symtab *out) {
  if (out->syms != NULL)
    return; /* a second table of the same kind: keep the first */
  size_t entsize = gelf_fsize(ef->elf, ELF_T_SYM, 1, EV_CURRENT);
  if (entsize == 0 || (shdr->sh_entsize != 0 && shdr->sh_entsize != entsize))
    return;
  Elf_Scn *strscn = elf_getscn(ef->elf, shdr->sh_link);
  GElf_Shdr strshdr;
  if (shdr->sh_link == 0 || strscn == NULL ||
      gelf_getshdr(strscn, &strshdr) == NULL || strshdr.sh_type != SHT_STRTAB)
    return;
  Elf_Data *syms = section_data(ef, scn, shdr);
  Elf_Data *strs = section_data(ef, strscn, &strshdr);
  if (syms == NULL || strs == NULL)
    return;
  out->syms = syms;
  out->strs = strs->d_buf;
  out->strs_size = strs->d_size;
  out->count = shdr->sh_size / entsize;
  if (out->count > INT_MAX) /* gelf_getsym takes an int */
    out->count = INT_MAX;
}

/* Find NT_GNU_BUILD_ID in a block of notes. */
static void scan_notes(struct elf_file *ef, Elf_Data *data) {
  size_t off = 0, next;
  GElf_Nhdr nhdr;
  size_t name_off, desc_off;
  while (off < data->d_size &&
         (next = gelf_getnote(data, off, &nhdr, &name_off, &desc_off)) > 0) {
    if (nhdr.n_type == NT_GNU_BUILD_ID && nhdr.n_namesz == 4 &&
        name_off + 4 <= data->d_size &&
        memcmp((const char *)data->d_buf + name_off, "GNU", 4) == 0 &&
        nhdr.n_descsz >= 2 && nhdr.n_descsz <= MAX_BUILD_ID &&
        desc_off + nhdr.n_descsz <= data->d_size) {
      memcpy(ef->build_id, (const char *)data->d_buf + desc_off,
             nhdr.n_descsz);
      ef->build_id_len = nhdr.n_descsz;
      return;
    }
    if (next <= off)
      break;
    off = next;
  }
}

static void load_sections(struct elf_file *ef) {
  size_t shnum;
  if (elf_getshdrnum(ef->elf, &shnum) != 0)
    return;
  if (elf_getshdrstrndx(ef->elf, &ef->shstrndx) == 0 && ef->shstrndx < shnum)
    ef->have_shstrndx = true;
  Elf_Scn *scn = NULL;
  while ((scn = elf_nextscn(ef->elf, scn)) != NULL) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) == NULL)
      continue;
    if (shdr.sh_type == SHT_DYNSYM) {
      load_symtab(ef, scn, &shdr, &ef->dynsym);
    } else if (shdr.sh_type == SHT_SYMTAB) {
      load_symtab(ef, scn, &shdr, &ef->symtab);
    } else if (shdr.sh_type == SHT_NOTE && ef->build_id_len == 0) {
      Elf_Data *data = section_data(ef, scn, &shdr);
      if (data != NULL)
        scan_notes(ef, data);
    }
  }
}

static void load_segments(struct elf_file *ef) {
  size_t phnum;
  if (elf_getphdrnum(ef->elf, &phnum) != 0)
    return;
  for (size_t i = 0; i < phnum; i++) {
    GElf_Phdr phdr;
    if (gelf_getphdr(ef->elf, (int)i, &phdr) == NULL)
      break;
    if (phdr.p_type == PT_LOAD && phdr.p_filesz > 0 &&
        ef->nloads < MAX_LOAD_SEGMENTS &&
        phdr.p_vaddr <= UINT64_MAX - phdr.p_filesz) {
      /* Only the part of the segment backed by the file. */
      uint64_t filesz = phdr.p_filesz;
      if (!in_file(ef, phdr.p_offset, 0))
        continue;
      if (filesz > ef->file_size - phdr.p_offset)
        filesz = ef->file_size - phdr.p_offset;
      if (filesz == 0)
        continue;
      ef->loads[ef->nloads++] = (struct load_segment){
          .vaddr = phdr.p_vaddr, .offset = phdr.p_offset, .filesz = filesz};
    } else if (phdr.p_type == PT_NOTE && ef->build_id_len == 0 &&
               phdr.p_filesz > 0 && in_file(ef, phdr.p_offset, phdr.p_filesz)) {
      /* Files without section headers still have their notes here. */
      Elf_Data *data = elf_getdata_rawchunk(ef->elf, (int64_t)phdr.p_offset,
                                            phdr.p_filesz, ELF_T_NHDR);
      if (data != NULL && data->d_buf != NULL)
        scan_notes(ef, data);
    }
  }
}

/* Read the headers, tables and segments of an elf_file whose elf, size
 * and names are set; closes it and returns NULL if it is not ELF. */
static struct elf_file *setup(struct elf_file *ef) {
  if (ef->path == NULL || ef->root == NULL || ef->elf == NULL ||
      elf_kind(ef->elf) != ELF_K_ELF || gelf_getclass(ef->elf) == ELFCLASSNONE) {
    elf_file_close(ef);
    return NULL;
  }
  GElf_Ehdr ehdr;
  if (gelf_getehdr(ef->elf, &ehdr) == NULL) {
    elf_file_close(ef);
    return NULL;
  }
  load_sections(ef);
  load_segments(ef);
  return ef;
}

static struct elf_file *open_internal(const char *path, const char *root,
                                      bool is_debug) {
  if (path == NULL)
    return NULL;
  if (elf_version(EV_CURRENT) == EV_NONE)
    return NULL;
  /* O_NONBLOCK: do not hang on a FIFO; no effect on a regular file. */
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    return NULL;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < EI_NIDENT) {
    close(fd);
    return NULL;
  }
  struct elf_file *ef = calloc(1, sizeof *ef);
  if (ef == NULL) {
    close(fd);
    return NULL;
  }
  ef->fd = fd;
  ef->file_size = (uint64_t)st.st_size;
  ef->is_debug = is_debug;
  ef->path = xstrdup(path);
  ef->root = xstrdup(root ? root : "");
  ef->elf = elf_begin(fd, ELF_C_READ, NULL);
  return setup(ef);
}

/* An ELF file held in memory (mem, of size bytes, malloc'd: the elf_file
 * owns it from now on, even when NULL is returned), opened as a debug
 * file: its symbols only. */
static struct elf_file *open_memory(void *mem, size_t size, const char *name) {
  if (elf_version(EV_CURRENT) == EV_NONE || size < EI_NIDENT) {
    free(mem);
    return NULL;
  }
  struct elf_file *ef = calloc(1, sizeof *ef);
  if (ef == NULL) {
    free(mem);
    return NULL;
  }
  ef->fd = -1;
  ef->mem = mem;
  ef->file_size = size;
  ef->is_debug = true;
  ef->path = xstrdup(name);
  ef->root = xstrdup("");
  ef->elf = elf_memory(mem, size);
  return setup(ef);
}

struct elf_file *elf_file_open(const char *path, const char *root) {
  return open_internal(path, root, false);
}

void elf_file_close(struct elf_file *ef) {
  if (ef == NULL)
    return;
  if (ef->debug != NULL)
    elf_file_close(ef->debug);
  if (ef->mini != NULL)
    elf_file_close(ef->mini);
  if (ef->elf != NULL)
    elf_end(ef->elf);
  if (ef->fd >= 0)
    close(ef->fd);
  free(ef->mem); /* after elf_end: libelf reads it until then */
  free(ef->debug_path);
  free(ef->path);
  free(ef->root);
  free(ef);
}

/* ---- sections --------------------------------------------------------- */

/* The section named `name` and its header, or NULL. */
static Elf_Scn *find_section(struct elf_file *ef, const char *name,
                             GElf_Shdr *shdr) {
  if (!ef->have_shstrndx)
    return NULL;
  Elf_Scn *scn = NULL;
  while ((scn = elf_nextscn(ef->elf, scn)) != NULL) {
    if (gelf_getshdr(scn, shdr) == NULL)
      continue;
    /* elf_strptr checks the offset against the string table. */
    const char *sname = elf_strptr(ef->elf, ef->shstrndx, shdr->sh_name);
    if (sname != NULL && strcmp(sname, name) == 0)
      return scn;
  }
  return NULL;
}

int elf_file_section(struct elf_file *ef, const char *name, uint64_t *addr,
                     uint64_t *size) {
  GElf_Shdr shdr;
  if (ef == NULL || name == NULL || find_section(ef, name, &shdr) == NULL)
    return -1;
  if (addr != NULL)
    *addr = shdr.sh_addr;
  if (size != NULL)
    *size = shdr.sh_size;
  return 0;
}

/* ---- separate debug file ---------------------------------------------- */

/* Whether `path` is the debug file of `ef`: an ELF file whose build id
 * (when both have one) matches, and with a symbol table. Kept open when
 * it is. */
static bool accept_debug(const char *path, bool by_build_id, void *ctx) {
  (void)by_build_id;
  struct elf_file *ef = ctx;
  struct elf_file *dbg = open_internal(path, ef->root, true);
  if (dbg == NULL)
    return false;
  if (ef->build_id_len > 0 && dbg->build_id_len > 0 &&
      (ef->build_id_len != dbg->build_id_len ||
       memcmp(ef->build_id, dbg->build_id, ef->build_id_len) != 0)) {
    elf_file_close(dbg);
    return false;
  }
  if (dbg->symtab.syms == NULL) {
    elf_file_close(dbg);
    return false;
  }
  ef->debug = dbg;
  return true;
}

/* The .gnu_debuglink of the file: its name (in libelf's data) and CRC. */
static const char *debug_link(struct elf_file *ef, uint32_t *crc) {
  GElf_Shdr shdr;
  GElf_Ehdr ehdr;
  const char *name;
  Elf_Scn *scn = find_section(ef, ".gnu_debuglink", &shdr);
  Elf_Data *data = scn != NULL ? section_data(ef, scn, &shdr) : NULL;
  if (data == NULL || gelf_getehdr(ef->elf, &ehdr) == NULL ||
      debug_paths_parse_link(data->d_buf, data->d_size, ehdr.e_ident[EI_DATA] == ELFDATA2MSB,
                             &name, crc) != 0)
    return NULL;
  return name;
}

/* Search by the shared policy (debug_paths.h), under the root: the path
 * the file was opened by carries the root as its prefix (or is a
 * /proc/PID/map_files link, searched as it is). */
static void find_debug(struct elf_file *ef) {
  char dir[MAX_PATH_LEN];
  size_t rootlen = strlen(ef->root);
  bool under = rootlen > 0 && strncmp(ef->path, ef->root, rootlen) == 0 &&
               ef->path[rootlen] == '/';
  if (snprintf(dir, sizeof dir, "%s/usr/lib/debug", ef->root) >= (int)sizeof dir)
    return;
  const char *dirs[1] = {dir};
  struct debug_search q = {
      .root = under ? ef->root : "",
      .path = under ? ef->path + rootlen : ef->path,
      .build_id = ef->build_id_len > 0 ? ef->build_id : NULL,
      .build_id_len = ef->build_id_len,
      .dirs = dirs,
      .ndirs = 1,
  };
  q.link = debug_link(ef, &q.link_crc);
  ef->debug_path = debug_paths_find(&q, accept_debug, ef);
  if (ef->debug_path == NULL && ef->debug != NULL) {
    elf_file_close(ef->debug); /* out of memory for the path */
    ef->debug = NULL;
  }
}

/* The debug file, searched for once. */
static struct elf_file *get_debug(struct elf_file *ef) {
  if (ef->is_debug)
    return NULL;
  if (!ef->debug_tried) {
    ef->debug_tried = true;
    find_debug(ef);
  }
  return ef->debug;
}

const char *elf_file_debug_path(struct elf_file *ef) {
  return ef ? ef->debug_path : NULL;
}

/* ---- MiniDebugInfo ---------------------------------------------------- */

/* The ELF file of .gnu_debugdata, decompressed (bounded: minidebug.h),
 * when it has a symbol table. */
static struct elf_file *read_mini(struct elf_file *ef) {
  GElf_Shdr shdr;
  Elf_Scn *scn = find_section(ef, ".gnu_debugdata", &shdr);
  Elf_Data *data = scn != NULL ? section_data(ef, scn, &shdr) : NULL;
  if (data == NULL || data->d_size > MINIDEBUG_IN_MAX)
    return NULL;
  size_t size;
  void *mem = minidebug_decompress(data->d_buf, data->d_size, MINIDEBUG_OUT_MAX, &size);
  if (mem == NULL)
    return NULL;
  struct elf_file *mini = open_memory(mem, size, ".gnu_debugdata");
  if (mini != NULL && mini->symtab.syms == NULL) {
    elf_file_close(mini);
    return NULL;
  }
  return mini;
}

/* The MiniDebugInfo of a file that has no .symtab of its own and no
 * debug file (either names more, DWARF's names included), read once. */
static struct elf_file *get_mini(struct elf_file *ef) {
  if (ef->is_debug || ef->symtab.syms != NULL || get_debug(ef) != NULL)
    return NULL;
  if (!ef->mini_tried) {
    ef->mini_tried = true;
    ef->mini = read_mini(ef);
  }
  return ef->mini;
}

bool elf_file_has_minidebug(struct elf_file *ef) {
  return ef != NULL && get_mini(ef) != NULL;
}

/* ---- symbols ---------------------------------------------------------- */

static int symtab_lookup(const struct symtab *t, const char *name,
                         uint64_t *value, uint64_t *size) {
  if (t->syms == NULL)
    return -1;
  for (size_t i = 1; i < t->count; i++) {
    GElf_Sym sym;
    if (gelf_getsym(t->syms, (int)i, &sym) == NULL)
      break;
    if (sym.st_shndx == SHN_UNDEF)
      continue;
    int type = GELF_ST_TYPE(sym.st_info);
    if (type == STT_SECTION || type == STT_FILE)
      continue;
    const char *sname = strtab_at(t->strs, t->strs_size, sym.st_name);
    if (sname == NULL || strcmp(sname, name) != 0)
      continue;
    if (value != NULL)
      *value = sym.st_value;
    if (size != NULL)
      *size = sym.st_size;
    return 0;
  }
  return -1;
}

int elf_file_symbol(struct elf_file *ef, const char *name, uint64_t *value,
                    uint64_t *size) {
  if (ef == NULL || name == NULL || name[0] == '\0')
    return -1;
  if (symtab_lookup(&ef->dynsym, name, value, size) == 0 ||
      symtab_lookup(&ef->symtab, name, value, size) == 0)
    return 0;
  struct elf_file *dbg = get_debug(ef);
  if (dbg != NULL && symtab_lookup(&dbg->symtab, name, value, size) == 0)
    return 0;
  struct elf_file *mini = get_mini(ef);
  if (mini != NULL && symtab_lookup(&mini->symtab, name, value, size) == 0)
    return 0;
  return -1;
}

static int symtab_each_function(const struct symtab *t, elf_symbol_cb cb,
                                void *ctx) {
  if (t->syms == NULL)
    return 0;
  for (size_t i = 1; i < t->count; i++) {
    GElf_Sym sym;
    if (gelf_getsym(t->syms, (int)i, &sym) == NULL)
      break;
    if (GELF_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_size == 0 ||
        sym.st_shndx == SHN_UNDEF)
      continue;
    const char *sname = strtab_at(t->strs, t->strs_size, sym.st_name);
    if (sname == NULL || sname[0] == '\0')
      continue;
    int rc = cb(sname, sym.st_value, sym.st_size, ctx);
    if (rc != 0)
      return rc;
  }
  return 0;
}

int elf_file_each_function(struct elf_file *ef, elf_symbol_cb cb, void *ctx) {
  if (ef == NULL || cb == NULL)
    return -1;
  int rc = symtab_each_function(&ef->dynsym, cb, ctx);
  if (rc == 0)
    rc = symtab_each_function(&ef->symtab, cb, ctx);
  struct elf_file *dbg = get_debug(ef);
  if (rc == 0 && dbg != NULL)
    rc = symtab_each_function(&dbg->symtab, cb, ctx);
  struct elf_file *mini = rc == 0 ? get_mini(ef) : NULL;
  if (mini != NULL)
    rc = symtab_each_function(&mini->symtab, cb, ctx);
  return rc;
}

/* ---- contents and load bias ------------------------------------------- */

int elf_file_read(struct elf_file *ef, uint64_t addr, void *buf, size_t len) {
  if (ef == NULL || (buf == NULL && len > 0))
    return -1;
  for (size_t i = 0; i < ef->nloads; i++) {
    const struct load_segment *s = &ef->loads[i];
    if (addr < s->vaddr || addr - s->vaddr > s->filesz ||
        len > s->filesz - (addr - s->vaddr))
      continue;
    uint64_t off = s->offset + (addr - s->vaddr);
    if (ef->fd < 0 || !in_file(ef, off, len) || off > (uint64_t)INT64_MAX)
      return -1;
    size_t done = 0;
    while (done < len) {
      ssize_t n = pread(ef->fd, (char *)buf + done, len - done,
                        (off_t)(off + done));
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return -1;
      done += (size_t)n;
    }
    return 0;
  }
  return -1;
}

/* See load_bias.c. */
int elf_file_load_bias(struct elf_file *ef, uint64_t map_start,
                       uint64_t map_offset, uint64_t *bias) {
  if (ef == NULL)
    return -1;
  long ps = sysconf(_SC_PAGESIZE);
  return load_bias(ef->loads, ef->nloads, ps > 0 ? (uint64_t)ps : 4096, map_start,
                   map_offset, bias);
}
