#define _GNU_SOURCE
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr_cache.h"
#include "bfd_config.h"
#include "debug_find.h"
#include "debuginfod_find.h"
#include "elf_exec.h"
#include "elf_symbols.h"
#include "func_syms.h"
#include "resolver.h"

/* libiberty's demangle.h is not installed with bfd.h: these are its
 * flags for "with parameters" and "ANSI qualifiers", what addr2line -C
 * passes to bfd_demangle. */
#define DMGL_PARAMS (1 << 0)
#define DMGL_ANSI (1 << 1)

#define FILES_MAX RESOLVER_FILES_MAX
#define DEBUG_DIRS_MAX 8
/* Deepest chain of inlined functions kept for one address. */
#define INLINE_MAX 64
/* The cache bounds: far more addresses than a profile names. */
#define CACHE_ENTRIES (1u << 17)
#define CACHE_BYTES (64u << 20)

struct resolver_file {
  char *path;       /* as the profile names it */
  char *debug_path; /* the file that holds the DWARF, or NULL */
  uint32_t id;
  enum resolver_file_state state;
  struct elf_exec exec;
  bfd *abfd;        /* the file itself */
  bfd *dbg;         /* the bfd queried: the debug file, or abfd */
  /* Names where DWARF gives none: the sized function symbols of the
   * file and its debug files, read on first need (func_syms.h). */
  bool syms_loaded;
  struct func_syms syms;
  struct elf_file *ef, *ef_debug;
};

struct resolver {
  char *root;       /* "" for this machine's root, else without trailing '/' */
  char *dirs[DEBUG_DIRS_MAX];
  size_t ndirs;
  struct resolver_file **files;
  size_t nfiles;
  struct resolver_file **by_path; /* open addressing, 2 * FILES_MAX slots */
  struct addr_cache *cache;
  uint64_t lookups, misses;
  bool dbgd_tried;  /* the debuginfod client was made, or not (no servers) */
  struct dbgd *dbgd;
};

/* libbfd reports problems of the files it reads (odd DWARF, unknown
 * sections) on stderr; they are not ours to show: frames it cannot
 * resolve are kept as they were and counted in our summary. */
static void quiet_bfd(const char *fmt, va_list ap) {
  (void)fmt;
  (void)ap;
}

static int bfd_ready(void) {
  static int ready = -1;
  if (ready < 0) {
    ready = bfd_init() == BFD_INIT_MAGIC;
    bfd_set_error_handler(quiet_bfd);
  }
  return ready;
}

int resolver_add_debug_dir(struct resolver *r, const char *dir) {
  if (r->ndirs >= DEBUG_DIRS_MAX) return -1;
  char *d = strdup(dir);
  if (d == NULL) return -1;
  size_t n = strlen(d);
  while (n > 1 && d[n - 1] == '/') d[--n] = '\0';
  r->dirs[r->ndirs++] = d;
  return 0;
}

struct resolver *resolver_new(const char *root) {
  if (!bfd_ready()) return NULL;
  struct resolver *r = calloc(1, sizeof *r);
  if (r == NULL) return NULL;
  r->root = strdup(root != NULL ? root : "");
  r->files = calloc(FILES_MAX, sizeof *r->files);
  r->by_path = calloc(2 * FILES_MAX, sizeof *r->by_path);
  r->cache = addr_cache_new(CACHE_ENTRIES, CACHE_BYTES);
  if (r->root == NULL || r->files == NULL || r->by_path == NULL || r->cache == NULL) {
    resolver_free(r);
    return NULL;
  }
  size_t n = strlen(r->root);
  while (n > 0 && r->root[n - 1] == '/') r->root[--n] = '\0';
  char dir[4200];
  snprintf(dir, sizeof dir, "%s/usr/lib/debug", r->root);
  if (resolver_add_debug_dir(r, dir) != 0) {
    resolver_free(r);
    return NULL;
  }
  return r;
}

static void file_free(struct resolver_file *f) {
  if (f == NULL) return;
  func_syms_free(&f->syms);
  elf_file_close(f->ef_debug);
  elf_file_close(f->ef);
  if (f->dbg != NULL && f->dbg != f->abfd) bfd_close(f->dbg);
  if (f->abfd != NULL) bfd_close(f->abfd);
  free(f->debug_path);
  free(f->path);
  free(f);
}

void resolver_free(struct resolver *r) {
  if (r == NULL) return;
  for (size_t i = 0; i < r->nfiles; i++) file_free(r->files[i]);
  for (size_t i = 0; i < r->ndirs; i++) free(r->dirs[i]);
  free(r->files);
  free(r->by_path);
  addr_cache_free(r->cache);
  dbgd_free(r->dbgd);
  free(r->root);
  free(r);
}

/* ---- opening files ------------------------------------------------------ */

/* The executable segments, read from the file's own program headers. */
static int read_exec(const char *real, struct elf_exec *x) {
  int fd = open(real, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  int rc = elf_exec_read(fd, x);
  close(fd);
  return rc;
}

/* The debug file of a file whose debug info was not found on this
 * machine, from the debuginfod servers of DEBUGINFOD_URLS, by build-id
 * (debuginfod_find.h); NULL when there is none or no server. */
static bfd *from_debuginfod(struct resolver *r, bfd *abfd, char **found) {
  const struct bfd_build_id *id = abfd->build_id;
  if (id == NULL || id->size == 0) return NULL;
  if (!r->dbgd_tried) {
    r->dbgd_tried = true;
    r->dbgd = dbgd_new();
  }
  char *path = dbgd_find_debuginfo(r->dbgd, id->data, id->size);
  bfd *b = path != NULL ? debug_open_matching(abfd, path) : NULL;
  if (b == NULL) {
    free(path);
    return NULL;
  }
  *found = path;
  return b;
}

static void file_open(struct resolver *r, struct resolver_file *f) {
  char real[4200];
  f->state = RESOLVER_FILE_MISSING;
  if (snprintf(real, sizeof real, "%s%s", r->root, f->path) >= (int)sizeof real) return;
  if (read_exec(real, &f->exec) != 0) return;
  f->abfd = debug_open_object(real);
  if (f->abfd == NULL) return;
  if (debug_has_dwarf(f->abfd)) {
    f->dbg = f->abfd;
    f->debug_path = strdup(real);
  } else {
    f->dbg = debug_find(f->abfd, r->root, f->path, (const char *const *)r->dirs, r->ndirs,
                        &f->debug_path);
  }
  if (f->dbg == NULL) f->dbg = from_debuginfod(r, f->abfd, &f->debug_path);
  f->state = f->dbg != NULL ? RESOLVER_FILE_DEBUG : RESOLVER_FILE_NO_DEBUG;
  /* Without DWARF, the file itself still has its line-less sections. */
  if (f->dbg == NULL) f->dbg = f->abfd;
}

/* The sized function symbols of f: of the file and the debug file that
 * elf_symbols.c finds for it (build-id, .gnu_debuglink), and of the debug
 * file found here (which the extra debug directories may have given). */
static void load_symbols(struct resolver *r, struct resolver_file *f) {
  char real[4200];
  f->syms_loaded = true;
  func_syms_init(&f->syms);
  if (snprintf(real, sizeof real, "%s%s", r->root, f->path) >= (int)sizeof real) return;
  f->ef = elf_file_open(real, r->root);
  if (f->ef == NULL) return;
  elf_file_each_function(f->ef, func_syms_collect, &f->syms);
  const char *elf_debug = elf_file_debug_path(f->ef);
  if (f->debug_path != NULL && strcmp(f->debug_path, real) != 0 &&
      (elf_debug == NULL || strcmp(elf_debug, f->debug_path) != 0) &&
      (f->ef_debug = elf_file_open(f->debug_path, NULL)) != NULL)
    elf_file_each_function(f->ef_debug, func_syms_collect, &f->syms);
  func_syms_sort(&f->syms);
}

/* The symbol that holds vaddr, by the shared policy (func_syms.h). */
static const char *symbol_at(struct resolver *r, struct resolver_file *f, uint64_t vaddr) {
  if (!f->syms_loaded) load_symbols(r, f);
  const struct func_sym *sy = func_syms_at(&f->syms, vaddr);
  return sy != NULL ? sy->name : NULL;
}

static size_t path_hash(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return (size_t)h;
}

struct resolver_file *resolver_file(struct resolver *r, const char *path) {
  size_t mask = 2 * FILES_MAX - 1, i = path_hash(path) & mask;
  for (; r->by_path[i] != NULL; i = (i + 1) & mask)
    if (strcmp(r->by_path[i]->path, path) == 0) return r->by_path[i];
  if (r->nfiles >= FILES_MAX) return NULL;
  struct resolver_file *f = calloc(1, sizeof *f);
  if (f == NULL || (f->path = strdup(path)) == NULL) {
    free(f);
    return NULL;
  }
  f->id = (uint32_t)r->nfiles;
  r->files[r->nfiles++] = f;
  r->by_path[i] = f;
  file_open(r, f);
  return f;
}

enum resolver_file_state resolver_file_state(const struct resolver_file *f) {
  return f->state;
}

const char *resolver_file_path(const struct resolver_file *f) { return f->path; }

bool resolver_file_minidebug(const struct resolver_file *f) {
  return f->syms_loaded && elf_file_has_minidebug(f->ef);
}

const char *resolver_file_debug_path(const struct resolver_file *f) {
  return f->state == RESOLVER_FILE_DEBUG ? f->debug_path : NULL;
}

/* ---- looking up --------------------------------------------------------- */

/* The first allocated section holding vaddr, in section order (what
 * addr2line picks). */
static asection *section_of(bfd *b, uint64_t vaddr) {
  for (asection *s = b->sections; s != NULL; s = s->next) {
    if ((bfd_section_flags(s) & SEC_ALLOC) == 0) continue;
    uint64_t vma = bfd_section_vma(s);
    if (vaddr >= vma && vaddr - vma < bfd_section_size(s)) return s;
  }
  return NULL;
}

struct found {
  struct resolver_frame frames[INLINE_MAX]; /* innermost first, as libbfd gives */
  char *demangled[INLINE_MAX];
  uint32_t n;
};

static void found_add(struct found *fd, bfd *b, const char *file, const char *function,
                      unsigned line) {
  if (fd->n >= INLINE_MAX) return;
  char *d = function != NULL && *function ? bfd_demangle(b, function, DMGL_PARAMS | DMGL_ANSI)
                                          : NULL;
  struct resolver_frame *fr = &fd->frames[fd->n];
  fr->function = d != NULL ? d : (function != NULL && *function ? function : NULL);
  /* A file without a line (a symbol table's STT_FILE) is not kept. */
  fr->file = line != 0 && file != NULL && *file ? file : NULL;
  fr->line = fr->file != NULL ? line : 0;
  fd->demangled[fd->n] = d;
  fd->n++;
}

static void found_rename_outermost(struct found *fd, bfd *b, const char *function) {
  if (fd->n == 0) return;
  uint32_t last = fd->n - 1;
  free(fd->demangled[last]);
  char *d = bfd_demangle(b, function, DMGL_PARAMS | DMGL_ANSI);
  fd->frames[last].function = d != NULL ? d : function;
  fd->demangled[last] = d;
}

/* Everything known of vaddr: from DWARF, the innermost function, then
 * each function it was inlined into; where DWARF names no function, the
 * symbol that holds vaddr. libbfd is given an empty symbol table: with
 * the file's own it names an address DWARF does not cover after the
 * nearest symbol below it, however far past that symbol's end
 * (addr2line's way, wrong for every static function of a stripped
 * binary); with none (NULL) it does not read the DWARF of some debug
 * files at all (Debian's libc6-dbg: no lines). */
static void lookup(struct resolver *r, struct resolver_file *f, uint64_t vaddr,
                   struct found *fd) {
  fd->n = 0;
  asection *s = section_of(f->dbg, vaddr);
  const char *file = NULL, *function = NULL;
  unsigned line = 0;
  static asymbol *no_symbols[1] = {NULL};
  if (s != NULL && bfd_find_nearest_line(f->dbg, s, no_symbols, vaddr - bfd_section_vma(s), &file,
                                         &function, &line)) {
    if (function == NULL || *function == '\0') function = symbol_at(r, f, vaddr);
    found_add(fd, f->dbg, file, function, line);
    while (fd->n < INLINE_MAX && bfd_find_inliner_info(f->dbg, &file, &function, &line))
      found_add(fd, f->dbg, file, function, line);
    /* The outermost frame is the function that holds vaddr: a symbol
     * that holds it names it as the linker knows it (C++: the mangled
     * name, so its parameters), where DWARF may give only the short name
     * of a static function. */
    const char *holder = symbol_at(r, f, vaddr);
    if (holder != NULL) found_rename_outermost(fd, f->dbg, holder);
  } else if ((function = symbol_at(r, f, vaddr)) != NULL) {
    found_add(fd, f->dbg, NULL, function, 0);
  }
  /* Nothing at all known: not a frame. */
  if (fd->n == 1 && fd->frames[0].function == NULL && fd->frames[0].file == NULL) fd->n = 0;
}

static void found_free(struct found *fd) {
  for (uint32_t i = 0; i < fd->n; i++) free(fd->demangled[i]);
}

int resolver_file_vaddr(struct resolver_file *f, uint64_t map_lo, uint64_t pc,
                        uint64_t *vaddr) {
  if (f == NULL || f->state == RESOLVER_FILE_MISSING || pc < map_lo) return -1;
  *vaddr = pc - elf_exec_bias(&f->exec, map_lo, pc);
  return 0;
}

int resolver_file_frames(struct resolver *r, struct resolver_file *f, uint64_t map_lo,
                         uint64_t pc, bool is_return_address, resolver_frame_cb cb,
                         void *arg) {
  uint64_t vaddr;
  if (resolver_file_vaddr(f, map_lo, pc, &vaddr) != 0) return -1;
  if (is_return_address) vaddr--;
  r->lookups++;
  const struct addr_cached *e = addr_cache_get(r->cache, f->id, vaddr);
  struct found fd;
  fd.n = 0;
  if (e == NULL) {
    r->misses++;
    lookup(r, f, vaddr, &fd);
    e = addr_cache_put(r->cache, f->id, vaddr, fd.frames, fd.n);
  }
  /* Outermost first: the reverse of libbfd's order. */
  const struct resolver_frame *frames = e != NULL ? e->frames : fd.frames;
  int n = e != NULL ? (int)e->nframes : (int)fd.n;
  for (int i = n - 1; i >= 0; i--) cb(arg, &frames[i]);
  found_free(&fd);
  return n;
}

int resolver_frames(struct resolver *r, const char *path, uint64_t map_lo, uint64_t pc,
                    bool is_return_address, resolver_frame_cb cb, void *arg) {
  struct resolver_file *f = resolver_file(r, path);
  if (f == NULL) return -1;
  return resolver_file_frames(r, f, map_lo, pc, is_return_address, cb, arg);
}

void resolver_stats(const struct resolver *r, struct resolver_stats *out) {
  dbgd_stats(r->dbgd, &out->debuginfod_asked, &out->debuginfod_found,
             &out->debuginfod_gave_up);
  out->lookups = r->lookups;
  out->misses = r->misses;
  out->flushes = addr_cache_flushes(r->cache);
  out->files = r->nfiles;
}
