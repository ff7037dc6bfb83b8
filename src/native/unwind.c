/* Offline unwinding of native stacks with libunwind, over a snapshot.
 *
 * The address space is ours (unw_create_addr_space with our accessors):
 *
 *  - find_proc_info finds the mapped ELF file that holds the pc and hands
 *    its .eh_frame_hdr binary search table to dwarf_search_unwind_table
 *    (UNW_INFO_FORMAT_REMOTE_TABLE, run-time addresses);
 *  - access_mem serves the snapshot's stack copy, and for addresses in a
 *    file-backed mapping the file's contents (the unwind sections are read
 *    once per file and kept in memory, the rest is read with pread);
 *  - access_reg serves the snapshot's registers.
 *
 * Nothing here reads the live process: the thread has been resumed long
 * before we unwind. Files are opened through /proc/PID/root (or the
 * map_files link), once per (path, inode) for the unwinder's life, and
 * once for all the unwinders that share them (unwinder_new_sharing:
 * the processes of austinp -C map the same interpreter and libraries). */
#define _GNU_SOURCE
#include "unwind.h"

#include <errno.h>
#include <inttypes.h>
#include <libunwind.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "elf_symbols.h"
#include "eh_frame.h"
#include "func_syms.h"
#include "proc_maps.h"
#include "remote.h"
#include "vdso.h"

/* libunwind exports this (perf declares it the same way). */
extern int UNW_OBJ(dwarf_search_unwind_table)(unw_addr_space_t as, unw_word_t ip,
                                              unw_dyn_info_t *di,
                                              unw_proc_info_t *pi,
                                              int need_unwind_info, void *arg);
#define dwarf_search_unwind_table UNW_OBJ(dwarf_search_unwind_table)

/* Bounds on what we accept from files and from the target. */
#define SECTION_CACHE_MAX (64u << 20) /* unwind section kept in memory */
/* A return address outside every known mapping is either code mapped
 * since the last read of the maps (a module imported) or garbage from a
 * broken unwind. Read the maps again soon, but back off while doing so
 * finds nothing new: from 10 ms up to 1 s between reads. */
#define REFRESH_MIN_NS 10000000ull
#define REFRESH_MAX_NS 1000000000ull
/* A thread's own pc outside every known mapping is no garbage: code was
 * mapped since (an extension module imported). Refresh soon, not later. */
#define LEAF_REFRESH_MIN_NS 2000000ull
#define CACHE_SIZE 4096               /* libunwind's register-state cache */
#define SPLIT_PARTS_MAX 8             /* unnamed cold parts named per file */
/* A cold part lies in another section (.text.unlikely): an FDE that
 * follows its function's this closely is a neighbour, not a part. */
#define SPLIT_PART_MIN_GAP 4096
/* The vDSO's functions without a symbol get a name each: at most this
 * many (a few on the kernels seen), each "[vdso]+0x<offset>". */
#define VDSO_UNNAMED_MAX 64
#define VDSO_NAME_LEN 40

/* DWARF pointer encodings (.eh_frame_hdr). */
#define DW_EH_PE_omit 0xff
#define DW_EH_PE_absptr 0x00
#define DW_EH_PE_udata2 0x02
#define DW_EH_PE_udata4 0x03
#define DW_EH_PE_udata8 0x04
#define DW_EH_PE_sdata2 0x0a
#define DW_EH_PE_sdata4 0x0b
#define DW_EH_PE_sdata8 0x0c
#define DW_EH_PE_pcrel 0x10
#define DW_EH_PE_datarel 0x30

struct blob {
  uint64_t addr, size; /* link-time */
  uint8_t *data;
};

/* One mapped file, shared by all its mappings; or the vDSO image, read
 * from the process's memory (vdso set, ef NULL). */
struct ufile {
  char *path;      /* as the target names it */
  uint64_t inode;
  bool tried;      /* opening was attempted */
  struct elf_file *ef;
  struct vdso_image *vdso;
  /* .eh_frame_hdr search table (link-time addresses). */
  bool has_table;
  uint64_t hdr_addr, table_addr, fde_count;
  struct blob blobs[2]; /* .eh_frame_hdr, .eh_frame */
  /* Function symbols, sorted by address (marked: the classifier said
   * yes, once at load). */
  bool syms_loaded;
  struct func_syms syms;
  char *fde_names; /* vDSO: names of its unnamed functions, VDSO_NAME_LEN each */
};

/* The files opened under one root directory (as the processes see their
 * files: the same path and inode name the same file), shared by the
 * unwinders of the processes under that root. */
struct ufile_set {
  unsigned refs;
  dev_t root_dev;
  ino_t root_ino;
  struct ufile **v;
  size_t n, cap;
};

/* A file one unwinder uses. */
struct ufile_use {
  struct ufile *f;
  uint64_t reported_start; /* executable mapping last told to the caller */
};

struct umap {
  uint64_t start, end, offset;
  bool exec;
  struct ufile *file; /* NULL for anonymous and special mappings */
  size_t use;         /* with file: its entry in the unwinder's uses */
  bool bias_known, bias_ok;
  uint64_t bias;
};

struct unwinder {
  pid_t pid;
  unwinder_classifier classify; /* marks symbols as they are loaded */
  char root[64];
  unw_addr_space_t as;
  struct umap *maps;
  size_t nmaps;
  struct ufile_set *files; /* shared */
  struct ufile_use *uses;
  size_t nuses, uses_cap;
  uint64_t last_refresh_ns;
  uint64_t refresh_gap_ns; /* backs off while refreshes change nothing */
  size_t last_map; /* lookup hint */
  /* The vDSO, read from this process once (its own: not shared). */
  struct ufile *vdso;
  bool vdso_tried;
};

/* What the accessors get as their argument. */
struct uctx {
  struct unwinder *u;
  const struct native_snapshot *s;
  struct user_regs_struct regs; /* a copy: writes go here */
  /* Why a walk stops, as the accessors saw it. */
  bool noinfo;          /* find_proc_info found no unwind entry... */
  uint64_t noinfo_ip;   /* ...last for this pc */
  bool past_stack;      /* a read beyond the end of the stack copy */
};

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- files ------------------------------------------------------------ */

static void file_free(struct ufile *f) {
  if (f == NULL) return;
  vdso_image_free(f->vdso);
  free(f->fde_names);
  for (size_t i = 0; i < 2; i++) free(f->blobs[i].data);
  func_syms_free(&f->syms);
  elf_file_close(f->ef);
  free(f->path);
  free(f);
}

static struct ufile_set *file_set_new(pid_t pid) {
  struct ufile_set *fs = calloc(1, sizeof *fs);
  if (fs == NULL) return NULL;
  fs->refs = 1;
  char root[64];
  struct stat st;
  snprintf(root, sizeof root, "/proc/%d/root", (int)pid);
  if (stat(root, &st) == 0) {
    fs->root_dev = st.st_dev;
    fs->root_ino = st.st_ino;
  }
  return fs;
}

static void file_set_put(struct ufile_set *fs) {
  if (fs == NULL || --fs->refs > 0) return;
  for (size_t i = 0; i < fs->n; i++) file_free(fs->v[i]);
  free(fs->v);
  free(fs);
}

/* The file (path, inode) of the set, created (not opened) on first
 * sight; NULL when out of memory. */
static struct ufile *file_set_get(struct ufile_set *fs, const char *path, uint64_t inode) {
  for (size_t i = 0; i < fs->n; i++) {
    struct ufile *f = fs->v[i];
    if (f->inode == inode && strcmp(f->path, path) == 0) return f;
  }
  if (fs->n == fs->cap) {
    size_t cap = fs->cap ? 2 * fs->cap : 16;
    struct ufile **p = realloc(fs->v, cap * sizeof *p);
    if (p == NULL) return NULL;
    fs->v = p;
    fs->cap = cap;
  }
  struct ufile *f = calloc(1, sizeof *f);
  if (f == NULL) return NULL;
  f->path = strdup(path);
  if (f->path == NULL) {
    free(f);
    return NULL;
  }
  f->inode = inode;
  fs->v[fs->n++] = f;
  return f;
}

/* Room for one more use in u->uses: 0, or -1 when out of memory. */
static int uses_reserve(struct unwinder *u) {
  if (u->nuses < u->uses_cap) return 0;
  size_t cap = u->uses_cap ? 2 * u->uses_cap : 16;
  struct ufile_use *p = realloc(u->uses, cap * sizeof *p);
  if (p == NULL) return -1;
  u->uses = p;
  u->uses_cap = cap;
  return 0;
}

/* The unwinder's use of file (path, inode): its index in u->uses, -1
 * when out of memory. */
static ssize_t file_get(struct unwinder *u, const char *path, uint64_t inode) {
  for (size_t i = 0; i < u->nuses; i++) {
    struct ufile *f = u->uses[i].f;
    if (f->inode == inode && strcmp(f->path, path) == 0) return (ssize_t)i;
  }
  if (uses_reserve(u) != 0) return -1;
  struct ufile *f = file_set_get(u->files, path, inode);
  if (f == NULL) return -1;
  u->uses[u->nuses] = (struct ufile_use){f, 0};
  return (ssize_t)u->nuses++;
}

/* The contents of a file or of the vDSO image. */
static bool file_readable(const struct ufile *f) { return f->ef != NULL || f->vdso != NULL; }

static int file_section(struct ufile *f, const char *name, uint64_t *addr, uint64_t *size) {
  if (f->vdso != NULL) return vdso_image_section(f->vdso, name, addr, size);
  return elf_file_section(f->ef, name, addr, size);
}

static int file_read(struct ufile *f, uint64_t addr, void *buf, size_t len) {
  if (f->vdso != NULL) return vdso_image_read_at(f->vdso, addr, buf, len);
  return elf_file_read(f->ef, addr, buf, len);
}

/* Keep a section's contents in memory (link-time address and size). */
static void cache_section(struct ufile *f, const char *name, struct blob *b) {
  uint64_t addr, size;
  if (file_section(f, name, &addr, &size) != 0 || size == 0 ||
      size > SECTION_CACHE_MAX)
    return;
  uint8_t *data = malloc(size);
  if (data == NULL) return;
  if (file_read(f, addr, data, size) != 0) {
    free(data);
    return;
  }
  b->addr = addr;
  b->size = size;
  b->data = data;
}

static bool blob_read(const struct blob *b, uint64_t addr, void *buf,
                      size_t len) {
  if (b->data == NULL || addr < b->addr || addr - b->addr > b->size ||
      len > b->size - (addr - b->addr))
    return false;
  memcpy(buf, b->data + (addr - b->addr), len);
  return true;
}

/* Read an encoded pointer of .eh_frame_hdr at link-time address *addr
 * (contents at *p, end of the section at end). */
static bool read_encoded(uint8_t enc, const uint8_t **p, const uint8_t *end,
                         uint64_t *addr, uint64_t hdr_addr, uint64_t *out) {
  if (enc == DW_EH_PE_omit) return false;
  uint64_t field = *addr, v = 0;
  size_t n;
  switch (enc & 0x0f) {
  case DW_EH_PE_absptr: case DW_EH_PE_udata8: case DW_EH_PE_sdata8: n = 8; break;
  case DW_EH_PE_udata4: case DW_EH_PE_sdata4: n = 4; break;
  case DW_EH_PE_udata2: case DW_EH_PE_sdata2: n = 2; break;
  default: return false;
  }
  if ((size_t)(end - *p) < n) return false;
  switch (enc & 0x0f) {
  case DW_EH_PE_udata2: { uint16_t x; memcpy(&x, *p, 2); v = x; break; }
  case DW_EH_PE_sdata2: { int16_t x; memcpy(&x, *p, 2); v = (uint64_t)(int64_t)x; break; }
  case DW_EH_PE_udata4: { uint32_t x; memcpy(&x, *p, 4); v = x; break; }
  case DW_EH_PE_sdata4: { int32_t x; memcpy(&x, *p, 4); v = (uint64_t)(int64_t)x; break; }
  default: memcpy(&v, *p, 8); break;
  }
  switch (enc & 0x70) {
  case 0: break;
  case DW_EH_PE_pcrel: v += field; break;
  case DW_EH_PE_datarel: v += hdr_addr; break;
  default: return false;
  }
  *p += n;
  *addr += n;
  *out = v;
  return true;
}

/* Parse .eh_frame_hdr: we need the binary search table (datarel sdata4
 * pairs), which libunwind then reads through access_mem. */
static void parse_eh_frame_hdr(struct ufile *f) {
  const struct blob *h = &f->blobs[0];
  if (h->data == NULL || h->size < 4 || h->data[0] != 1) return;
  uint8_t ptr_enc = h->data[1], count_enc = h->data[2], table_enc = h->data[3];
  const uint8_t *p = h->data + 4, *end = h->data + h->size;
  uint64_t at = h->addr + 4, v;
  if (!read_encoded(ptr_enc, &p, end, &at, h->addr, &v)) return;
  uint64_t count;
  if (!read_encoded(count_enc, &p, end, &at, h->addr, &count)) return;
  if (table_enc != (DW_EH_PE_datarel | DW_EH_PE_sdata4)) return;
  if (count == 0 || count > (uint64_t)(end - p) / 8) return;
  f->hdr_addr = h->addr;
  f->table_addr = at;
  f->fde_count = count;
  f->has_table = true;
}

/* Open the file behind a mapping, once; false if it cannot be used. */
static bool file_open(struct unwinder *u, struct ufile *f,
                      const struct proc_map *m) {
  if (f->tried) return f->ef != NULL;
  f->tried = true;
  char buf[4200];
  const char *p = proc_map_open_path(u->pid, m, buf, sizeof buf);
  if (p == NULL) return false;
  f->ef = elf_file_open(p, u->root);
  if (f->ef == NULL) return false;
  cache_section(f, ".eh_frame_hdr", &f->blobs[0]);
  cache_section(f, ".eh_frame", &f->blobs[1]);
  parse_eh_frame_hdr(f);
  return true;
}

/* The vDSO of this process (m is its mapping), read from its memory the
 * first time it is seen; its use index, -1 when it cannot be read. Its
 * contents are the same for every process of one kernel, but each
 * unwinder reads its own target's (never trusting another's). */
static ssize_t vdso_use(struct unwinder *u, const struct proc_map *m) {
  if (!u->vdso_tried) {
    u->vdso_tried = true;
    struct remote *r = remote_open_pid(u->pid);
    struct vdso_image *img = r != NULL ? vdso_image_read(r, m->start, m->end) : NULL;
    if (r != NULL) remote_close(r);
    struct ufile *f = img != NULL ? calloc(1, sizeof *f) : NULL;
    if (f == NULL || (f->path = strdup(VDSO_MAPPING)) == NULL) {
      free(f);
      vdso_image_free(img);
      return -1;
    }
    f->tried = true;
    f->vdso = img;
    cache_section(f, ".eh_frame_hdr", &f->blobs[0]);
    cache_section(f, ".eh_frame", &f->blobs[1]);
    parse_eh_frame_hdr(f);
    u->vdso = f;
  }
  if (u->vdso == NULL) return -1;
  for (size_t i = 0; i < u->nuses; i++)
    if (u->uses[i].f == u->vdso) return (ssize_t)i;
  if (uses_reserve(u) != 0) return -1;
  u->uses[u->nuses] = (struct ufile_use){u->vdso, 0};
  return (ssize_t)u->nuses++;
}

static bool is_vdso(const struct proc_map *m) {
  return m->vdso && m->inode == 0 && m->perms[2] == 'x';
}

/* ---- maps ------------------------------------------------------------- */

static void maps_clear(struct unwinder *u) {
  free(u->maps);
  u->maps = NULL;
  u->nmaps = 0;
  u->last_map = 0;
}

/* (Re)read the target's maps. Files already known are kept. */
static int maps_refresh(struct unwinder *u) {
  u->last_refresh_ns = now_ns();
  struct proc_maps pm;
  if (proc_maps_read(u->pid, &pm) != 0) return -1;
  struct umap *maps = calloc(pm.count ? pm.count : 1, sizeof *maps);
  if (maps == NULL) {
    proc_maps_free(&pm);
    return -1;
  }
  size_t n = 0;
  for (size_t i = 0; i < pm.count; i++) {
    const struct proc_map *m = &pm.maps[i];
    struct umap *um = &maps[n++];
    um->start = m->start;
    um->end = m->end;
    um->offset = m->offset;
    um->exec = m->perms[2] == 'x';
    ssize_t use;
    if (is_vdso(m)) {
      if ((use = vdso_use(u, m)) >= 0) {
        um->use = (size_t)use;
        um->file = u->vdso;
        um->bias = vdso_image_bias(u->vdso->vdso, um->start);
        um->bias_ok = um->bias_known = true;
      }
    } else if (m->path != NULL && m->inode != 0 &&
               (use = file_get(u, m->path, m->inode)) >= 0) {
      um->use = (size_t)use;
      um->file = u->uses[use].f;
      /* Open eagerly the files with code: unwind tables and bias are
       * needed for them anyway, and the bias needs the open file. */
      if (um->file != NULL && um->exec) file_open(u, um->file, m);
    }
  }
  /* The bias of every mapping of an open file. Files whose only mappings
   * are not executable are opened when first needed (not here: their
   * proc_map is gone by then), so open them now when cheap to do. */
  for (size_t i = 0; i < n; i++) {
    struct umap *um = &maps[i];
    if (um->file == NULL || um->file->vdso != NULL) continue;
    if (!um->file->tried) file_open(u, um->file, &pm.maps[i]);
    if (um->file->ef != NULL) {
      um->bias_ok =
          elf_file_load_bias(um->file->ef, um->start, um->offset, &um->bias) == 0;
    }
    um->bias_known = true;
  }
  /* Did anything change? The register-state cache is keyed by pc. */
  bool changed = n != u->nmaps;
  for (size_t i = 0; !changed && i < n; i++)
    changed = maps[i].start != u->maps[i].start || maps[i].end != u->maps[i].end ||
              maps[i].file != u->maps[i].file || maps[i].bias != u->maps[i].bias;
  proc_maps_free(&pm);
  maps_clear(u);
  u->maps = maps;
  u->nmaps = n;
  if (changed && u->as != NULL) unw_flush_cache(u->as, 0, 0);
  if (changed) u->refresh_gap_ns = REFRESH_MIN_NS;
  else if (u->refresh_gap_ns < REFRESH_MAX_NS) u->refresh_gap_ns *= 2;
  return 0;
}

static struct umap *map_find(struct unwinder *u, uint64_t addr) {
  if (u->nmaps == 0) return NULL;
  if (u->last_map < u->nmaps) {
    struct umap *m = &u->maps[u->last_map];
    if (addr >= m->start && addr < m->end) return m;
  }
  size_t lo = 0, hi = u->nmaps;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (u->maps[mid].end <= addr) lo = mid + 1;
    else hi = mid;
  }
  if (lo < u->nmaps && addr >= u->maps[lo].start) {
    u->last_map = lo;
    return &u->maps[lo];
  }
  return NULL;
}

/* The mapping of a pc, refreshing the maps (rate-bounded) when it falls
 * outside every known mapping. */
static struct umap *map_find_pc(struct unwinder *u, uint64_t pc) {
  struct umap *m = map_find(u, pc);
  if (m != NULL || pc < 4096) return m;
  if (now_ns() - u->last_refresh_ns < u->refresh_gap_ns) return NULL;
  if (maps_refresh(u) != 0) return NULL;
  return map_find(u, pc);
}

/* A usable file mapping with a known bias. */
static bool map_usable(const struct umap *m) {
  return m != NULL && m->file != NULL && file_readable(m->file) && m->bias_ok;
}

/* ---- accessors -------------------------------------------------------- */

static int acc_find_proc_info(unw_addr_space_t as, unw_word_t ip,
                              unw_proc_info_t *pi, int need_unwind_info,
                              void *arg) {
  struct uctx *c = arg;
  struct umap *m = map_find_pc(c->u, ip);
  if (!map_usable(m) || !m->exec || !m->file->has_table) {
    c->noinfo = true;
    c->noinfo_ip = ip;
    return -UNW_ENOINFO;
  }
  struct ufile *f = m->file;
  unw_dyn_info_t di;
  memset(&di, 0, sizeof di);
  di.format = UNW_INFO_FORMAT_REMOTE_TABLE;
  di.start_ip = m->start;
  di.end_ip = m->end;
  di.u.rti.name_ptr = 0;
  di.u.rti.segbase = f->hdr_addr + m->bias;
  di.u.rti.table_data = f->table_addr + m->bias;
  /* In words: each entry is two 32-bit values. */
  di.u.rti.table_len = f->fde_count * 8 / sizeof(unw_word_t);
  int rc = dwarf_search_unwind_table(as, ip, &di, pi, need_unwind_info, arg);
  if (rc == -UNW_ENOINFO) {
    c->noinfo = true;
    c->noinfo_ip = ip;
  }
  return rc;
}

static void acc_put_unwind_info(unw_addr_space_t as, unw_proc_info_t *pi,
                                void *arg) {
  /* find_proc_info allocates nothing of ours: libunwind owns what
   * dwarf_search_unwind_table put in pi. */
  (void)as;
  (void)pi;
  (void)arg;
}

static int acc_get_dyn_info_list_addr(unw_addr_space_t as, unw_word_t *addr,
                                      void *arg) {
  (void)as;
  (void)addr;
  (void)arg;
  return -UNW_ENOINFO;
}

static int acc_access_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *val,
                          int write, void *arg) {
  (void)as;
  struct uctx *c = arg;
  if (write) return -UNW_EINVAL;
  /* libunwind's frame-chain fallback does not always check our errors:
   * a failed read gives 0, never whatever was on its stack. */
  *val = 0;
  const struct native_snapshot *s = c->s;
  const size_t n = sizeof *val;
  /* The stack copy. */
  if (s->stack != NULL && addr >= s->stack_addr) {
    uint64_t off = addr - s->stack_addr;
    if (off < s->stack_len) {
      if (n > s->stack_len - off) return -UNW_EINVAL;
      memcpy(val, s->stack + off, n);
      return 0;
    }
  }
  /* A file-backed mapping: the file's contents. */
  struct umap *m = map_find(c->u, addr);
  if (!map_usable(m)) {
    /* Above the copy: the frame's caller is in the part not copied. */
    if (s->stack != NULL && addr >= s->stack_addr + s->stack_len &&
        addr - (s->stack_addr + s->stack_len) < (64u << 20))
      c->past_stack = true;
    return -UNW_EINVAL;
  }
  struct ufile *f = m->file;
  uint64_t link = addr - m->bias;
  for (size_t i = 0; i < 2; i++)
    if (blob_read(&f->blobs[i], link, val, n)) return 0;
  if (file_read(f, link, val, n) != 0) return -UNW_EINVAL;
  return 0;
}

static int acc_access_reg(unw_addr_space_t as, unw_regnum_t reg,
                          unw_word_t *val, int write, void *arg) {
  (void)as;
  struct uctx *c = arg;
  unsigned long long *r;
  switch (reg) {
  case UNW_X86_64_RAX: r = &c->regs.rax; break;
  case UNW_X86_64_RDX: r = &c->regs.rdx; break;
  case UNW_X86_64_RCX: r = &c->regs.rcx; break;
  case UNW_X86_64_RBX: r = &c->regs.rbx; break;
  case UNW_X86_64_RSI: r = &c->regs.rsi; break;
  case UNW_X86_64_RDI: r = &c->regs.rdi; break;
  case UNW_X86_64_RBP: r = &c->regs.rbp; break;
  case UNW_X86_64_RSP: r = &c->regs.rsp; break;
  case UNW_X86_64_R8: r = &c->regs.r8; break;
  case UNW_X86_64_R9: r = &c->regs.r9; break;
  case UNW_X86_64_R10: r = &c->regs.r10; break;
  case UNW_X86_64_R11: r = &c->regs.r11; break;
  case UNW_X86_64_R12: r = &c->regs.r12; break;
  case UNW_X86_64_R13: r = &c->regs.r13; break;
  case UNW_X86_64_R14: r = &c->regs.r14; break;
  case UNW_X86_64_R15: r = &c->regs.r15; break;
  case UNW_X86_64_RIP: r = &c->regs.rip; break;
  default:
    if (!write) *val = 0;
    return -UNW_EBADREG;
  }
  if (write) *r = *val;
  else *val = *r;
  return 0;
}

static int acc_access_fpreg(unw_addr_space_t as, unw_regnum_t reg,
                            unw_fpreg_t *val, int write, void *arg) {
  (void)as;
  (void)reg;
  (void)val;
  (void)write;
  (void)arg;
  return -UNW_EBADREG;
}

static int acc_resume(unw_addr_space_t as, unw_cursor_t *cu, void *arg) {
  (void)as;
  (void)cu;
  (void)arg;
  return -UNW_EINVAL;
}

static int acc_get_proc_name(unw_addr_space_t as, unw_word_t addr, char *buf,
                             size_t len, unw_word_t *offp, void *arg) {
  (void)as;
  (void)addr;
  (void)buf;
  (void)len;
  (void)offp;
  (void)arg;
  return -UNW_ENOINFO;
}

static unw_accessors_t accessors = {
    .find_proc_info = acc_find_proc_info,
    .put_unwind_info = acc_put_unwind_info,
    .get_dyn_info_list_addr = acc_get_dyn_info_list_addr,
    .access_mem = acc_access_mem,
    .access_reg = acc_access_reg,
    .access_fpreg = acc_access_fpreg,
    .resume = acc_resume,
    .get_proc_name = acc_get_proc_name,
};

/* ---- public ----------------------------------------------------------- */

struct unwinder *unwinder_new(pid_t pid) { return unwinder_new_sharing(pid, NULL); }

struct unwinder *unwinder_new_sharing(pid_t pid, const struct unwinder *other) {
  struct unwinder *u = calloc(1, sizeof *u);
  if (u == NULL) return NULL;
  u->pid = pid;
  u->refresh_gap_ns = REFRESH_MIN_NS;
  snprintf(u->root, sizeof u->root, "/proc/%d/root", (int)pid);
  u->files = file_set_new(pid);
  if (u->files == NULL) {
    free(u);
    return NULL;
  }
  /* Under the same root, the same path and inode are the same file. */
  if (other != NULL && other->files->root_dev == u->files->root_dev &&
      other->files->root_ino == u->files->root_ino) {
    file_set_put(u->files);
    u->files = other->files;
    u->files->refs++;
  }
  if (maps_refresh(u) != 0) {
    unwinder_free(u);
    return NULL;
  }
  u->as = unw_create_addr_space(&accessors, 0);
  if (u->as == NULL) {
    unwinder_free(u);
    return NULL;
  }
  /* The register-state cache, keyed by pc, saves find_proc_info and the
   * CFI interpretation for every frame seen before. (Debian's libunwind
   * is built with signal blocking and without per-thread caches: every
   * lookup takes the cache lock with two rt_sigprocmask calls, the main
   * cost of a warm unwind.) */
  unw_set_caching_policy(u->as, UNW_CACHE_GLOBAL);
  unw_set_cache_size(u->as, CACHE_SIZE, 0);
  return u;
}

void unwinder_free(struct unwinder *u) {
  if (u == NULL) return;
  if (u->as != NULL) unw_destroy_addr_space(u->as);
  maps_clear(u);
  free(u->uses);
  file_set_put(u->files);
  file_free(u->vdso);
  free(u);
}

const char *unwind_stop_name(enum unwind_stop why) {
  static const char *const names[UNWIND_STOP_KINDS] = {
      [UNWIND_COMPLETE] = "complete",     [UNWIND_NO_INFO] = "no-unwind-info",
      [UNWIND_STACK_END] = "stack-end",   [UNWIND_BAD_ADDRESS] = "bad-return-address",
      [UNWIND_TOO_DEEP] = "too-deep",     [UNWIND_NO_STACK] = "no-stack",
      [UNWIND_ERROR] = "unwind-error",
  };
  return (unsigned)why < UNWIND_STOP_KINDS ? names[why] : "unwind-error";
}

/* Why a walk that ended short at pc stopped, from what the accessors saw.
 * A pc without unwind information anywhere in the walk is the reason even
 * when libunwind went on past it (its frame-pointer guess), since what
 * follows it is a guess. */
static enum unwind_stop stop_reason(const struct uctx *c) {
  if (c->noinfo) return UNWIND_NO_INFO;
  if (c->past_stack) return UNWIND_STACK_END;
  return UNWIND_ERROR;
}

/* Unwind from the registers regs over the snapshot s. */
static int unwind_from(struct unwinder *u, const struct native_snapshot *s,
                       const struct user_regs_struct *regs, uint64_t *pcs, int max,
                       enum unwind_stop *why) {
  int n = 0;
  struct uctx c = {.u = u, .s = s, .regs = *regs};
  unw_cursor_t cur;
  if (unw_init_remote(&cur, u->as, &c) < 0) {
    pcs[n++] = regs->rip;
    *why = stop_reason(&c);
    return n;
  }
  for (;;) {
    unw_word_t ip;
    if (unw_get_reg(&cur, UNW_REG_IP, &ip) < 0) {
      *why = stop_reason(&c);
      break;
    }
    pcs[n++] = ip;
    if (n >= max) {
      *why = UNWIND_TOO_DEEP;
      break;
    }
    int r = unw_step(&cur);
    if (r == 0) {
      /* The outermost frame (CFI marks the return address undefined):
       * only believable when that frame is code of a mapped file, and
       * when its CFI said so: libunwind also ends a walk when, finding no
       * CFI, it finds no frame pointer either (rbp 0). */
      struct umap *m = map_find(u, ip);
      bool guessed = c.noinfo && (c.noinfo_ip == ip || c.noinfo_ip + 1 == ip);
      *why = m != NULL && m->exec && m->file != NULL && !guessed ? UNWIND_COMPLETE
                                                                 : stop_reason(&c);
      break;
    }
    if (r < 0) {
      *why = stop_reason(&c);
      break;
    }
  }
  return n;
}

/* The link-time start of the FDE of m's file that covers pc: a function
 * start, named or not. */
static bool fde_start(const struct umap *m, uint64_t pc, uint64_t *start) {
  if (!map_usable(m) || !m->file->has_table) return false;
  struct ufile *f = m->file;
  const struct eh_section hdr = {f->blobs[0].data, f->blobs[0].addr, f->blobs[0].size};
  const struct eh_section eh = {f->blobs[1].data, f->blobs[1].addr, f->blobs[1].size};
  uint64_t link = pc - m->bias, fde, end;
  return eh_frame_hdr_find(&hdr, f->table_addr, f->fde_count, link, &fde) == 0 &&
         eh_frame_fde_range(&eh, fde, start, &end) == 0 && link >= *start && link < end;
}

/* Does any FDE of its file cover pc? */
static bool has_fde(struct unwinder *u, uint64_t pc) {
  uint64_t start;
  return fde_start(map_find(u, pc), pc, &start);
}

/* The interrupted instruction lies where no unwind information reaches: an
 * assembly stub that made no frame. The one that matters is the C
 * library's clone3 (clone before glibc 2.34), which ends its FDE before
 * the system call (for the new thread's sake), so that a thread caught
 * starting another one could not be unwound. Such a stub has pushed nothing: its return address is on
 * top of the stack. Believed only if it points into mapped code. */
static bool frameless_leaf(struct unwinder *u, const struct native_snapshot *s,
                           struct user_regs_struct *caller) {
  uint64_t sp = s->regs.rsp, ret;
  if (has_fde(u, s->regs.rip) || sp < s->stack_addr || sp - s->stack_addr + 8 > s->stack_len)
    return false;
  memcpy(&ret, s->stack + (sp - s->stack_addr), 8);
  struct umap *m = map_find(u, ret);
  if (m == NULL || !m->exec || m->file == NULL) return false;
  *caller = s->regs;
  caller->rip = ret;
  caller->rsp = sp + 8;
  return true;
}

int unwinder_unwind_why(struct unwinder *u, const struct native_snapshot *s,
                        uint64_t *pcs, int max, enum unwind_stop *why) {
  enum unwind_stop stop = UNWIND_NO_STACK;
  if (why != NULL) *why = stop;
  if (u == NULL || s == NULL || pcs == NULL || max <= 0) return 0;
  if (map_find(u, s->regs.rip) == NULL && s->regs.rip >= 4096 &&
      now_ns() - u->last_refresh_ns >= LEAF_REFRESH_MIN_NS)
    maps_refresh(u);
  int n = unwind_from(u, s, &s->regs, pcs, max, &stop);
  /* From a leaf without unwind information libunwind stops, or guesses
   * on from the frame pointer, which such a stub did not set: one frame
   * more that goes nowhere (glibc 2.31's clone), or an end that passes for
   * the outermost frame (clone3's in glibc 2.36 and 2.41). The
   * stub's return address, when believable, is taken when the walk from it
   * reaches the outermost frame, or when libunwind went no further than
   * the leaf. */
  struct user_regs_struct caller;
  if (max > 1 && frameless_leaf(u, s, &caller)) {
    enum unwind_stop from_caller;
    int m = 1 + unwind_from(u, s, &caller, pcs + 1, max - 1, &from_caller);
    if (from_caller == UNWIND_COMPLETE || n == 1) {
      n = m;
      stop = from_caller;
    } else {
      n = unwind_from(u, s, &s->regs, pcs, max, &stop); /* the guess again */
    }
  }
  if (why != NULL) *why = stop;
  return n;
}

int unwinder_unwind(struct unwinder *u, const struct native_snapshot *s,
                    uint64_t *pcs, int max, bool *complete) {
  enum unwind_stop why;
  int n = unwinder_unwind_why(u, s, pcs, max, &why);
  if (complete != NULL) *complete = why == UNWIND_COMPLETE;
  return n;
}

void unwinder_new_mappings(struct unwinder *u, unwinder_mapping_cb cb, void *arg) {
  if (u == NULL) return;
  for (size_t i = 0; i < u->nmaps; i++) {
    struct umap *m = &u->maps[i];
    if (!m->exec || m->file == NULL || u->uses[m->use].reported_start == m->start) continue;
    u->uses[m->use].reported_start = m->start;
    cb(arg, m->start, m->end, m->file->path);
  }
}

int unwinder_mapping(struct unwinder *u, uint64_t pc, const char **path,
                     uint64_t *start, uint64_t *end, uint64_t *bias) {
  if (u == NULL) return -1;
  struct umap *m = map_find_pc(u, pc);
  if (m == NULL || m->file == NULL) return -1;
  /* The executable mapping of that file. */
  struct umap *x = m->exec ? m : NULL;
  for (size_t i = 0; x == NULL && i < u->nmaps; i++)
    if (u->maps[i].file == m->file && u->maps[i].exec) x = &u->maps[i];
  if (x == NULL) x = m;
  if (path != NULL) *path = m->file->path;
  if (start != NULL) *start = x->start;
  if (end != NULL) *end = x->end;
  if (bias != NULL) *bias = m->bias;
  return m->bias_ok ? 0 : -1;
}

/* The unnamed cold part of a marked function, if the file has one: the
 * FDE right after the function's own in .eh_frame, far from it, that no
 * symbol covers (see eh_frame.h). Named after its function (as the
 * symbol tables' "<function>.cold" is, func_syms.h) and marked. */
static bool find_split_part(struct ufile *f, const struct func_sym *sy, struct func_sym *part) {
  const struct eh_section hdr = {f->blobs[0].data, f->blobs[0].addr, f->blobs[0].size};
  const struct eh_section eh = {f->blobs[1].data, f->blobs[1].addr, f->blobs[1].size};
  uint64_t fde, next, start, end;
  if (!f->has_table || eh.data == NULL ||
      eh_frame_hdr_find(&hdr, f->table_addr, f->fde_count, sy->addr, &fde) != 0 ||
      eh_frame_fde_range(&eh, fde, &start, &end) != 0 || start != sy->addr ||
      eh_frame_next_fde(&eh, fde, &next) != 0 ||
      eh_frame_fde_range(&eh, next, &start, &end) != 0)
    return false;
  if (start + SPLIT_PART_MIN_GAP > sy->addr && start < sy->addr + sy->size + SPLIT_PART_MIN_GAP)
    return false;
  if (func_syms_at(&f->syms, start) != NULL || func_syms_at(&f->syms, end - 1) != NULL)
    return false;
  *part = (struct func_sym){.addr = start, .size = end - start, .name = sy->name};
  return true;
}

/* Marked functions split by the compiler keep their cold parts marked
 * too, even where the symbol tables do not name them (stripped builds). */
static void add_split_parts(struct ufile *f) {
  struct func_sym parts[SPLIT_PARTS_MAX];
  size_t n = 0;
  for (size_t i = 0; i < f->syms.n && n < SPLIT_PARTS_MAX; i++)
    if (f->syms.v[i].marked && find_split_part(f, &f->syms.v[i], &parts[n])) n++;
  size_t before = f->syms.n;
  for (size_t i = 0; i < n; i++) func_syms_add(&f->syms, parts[i].name, parts[i].addr, parts[i].size);
  if (f->syms.n == before) return;
  for (size_t i = before; i < f->syms.n; i++) f->syms.v[i].marked = true;
  func_syms_sort(&f->syms);
}

/* The vDSO's functions that no symbol names: the static helpers that its
 * exported functions call (the clock read, where time.monotonic() loops
 * are caught). Each FDE starts a function: one not covered by a symbol is
 * named after its offset in the image, "[vdso]+0x7a0", the same in every
 * sample, so that its samples add up under one name. */
static void add_vdso_unnamed(struct ufile *f) {
  const struct eh_section hdr = {f->blobs[0].data, f->blobs[0].addr, f->blobs[0].size};
  const struct eh_section eh = {f->blobs[1].data, f->blobs[1].addr, f->blobs[1].size};
  if (!f->has_table || eh.data == NULL || f->fde_count > VDSO_UNNAMED_MAX ||
      (f->fde_names = calloc(f->fde_count, VDSO_NAME_LEN)) == NULL)
    return;
  /* parse_eh_frame_hdr checked that the table lies in the section. */
  const uint8_t *t = hdr.data + (f->table_addr - hdr.addr);
  size_t before = f->syms.n;
  for (uint64_t i = 0; i < f->fde_count; i++) {
    int32_t rel;
    memcpy(&rel, t + 8 * i + 4, 4);
    uint64_t start, end;
    if (eh_frame_fde_range(&eh, hdr.addr + (uint64_t)(int64_t)rel, &start, &end) != 0 ||
        func_syms_at(&f->syms, start) != NULL || func_syms_at(&f->syms, end - 1) != NULL)
      continue;
    char *name = f->fde_names + i * VDSO_NAME_LEN;
    snprintf(name, VDSO_NAME_LEN, "%s+0x%" PRIx64, VDSO_MAPPING,
             vdso_image_offset(f->vdso, start));
    func_syms_add(&f->syms, name, start, end - start);
  }
  if (f->syms.n != before) func_syms_sort(&f->syms);
}

static void load_symbols(struct ufile *f, unwinder_classifier classify) {
  f->syms_loaded = true;
  if (f->vdso != NULL) {
    vdso_image_each_function(f->vdso, func_syms_collect, &f->syms);
    func_syms_sort(&f->syms);
    add_vdso_unnamed(f);
  } else if (f->ef != NULL) {
    func_syms_load(&f->syms, f->ef);
  } else {
    return;
  }
  for (size_t i = 0; classify != NULL && i < f->syms.n; i++)
    f->syms.v[i].marked = classify(f->syms.v[i].name);
  if (classify != NULL && f->syms.n > 0) add_split_parts(f);
}

int unwinder_symbol_marked(struct unwinder *u, uint64_t pc, const char **name,
                           uint64_t *offset, bool *marked) {
  if (u == NULL) return -1;
  struct umap *m = map_find_pc(u, pc);
  if (!map_usable(m)) return -1;
  struct ufile *f = m->file;
  if (!f->syms_loaded) load_symbols(f, u->classify);
  if (f->syms.n == 0) return -1;
  uint64_t link = pc - m->bias;
  const struct func_sym *sy = func_syms_at(&f->syms, link);
  if (sy == NULL) return -1;
  if (name != NULL) *name = sy->name;
  if (offset != NULL) *offset = link - sy->addr;
  if (marked != NULL) *marked = sy->marked;
  return 0;
}

int unwinder_symbol(struct unwinder *u, uint64_t pc, const char **name,
                    uint64_t *offset) {
  return unwinder_symbol_marked(u, pc, name, offset, NULL);
}

void unwinder_set_classifier(struct unwinder *u, unwinder_classifier classify) {
  if (u != NULL) u->classify = classify;
}

int unwinder_function_start(struct unwinder *u, uint64_t pc, uint64_t *start) {
  if (u == NULL) return -1;
  return fde_start(map_find_pc(u, pc), pc, start) ? 0 : -1;
}

int unwinder_link_address(struct unwinder *u, uint64_t pc, uint64_t *link) {
  if (u == NULL) return -1;
  struct umap *m = map_find_pc(u, pc);
  if (!map_usable(m)) return -1;
  *link = pc - m->bias;
  return 0;
}
