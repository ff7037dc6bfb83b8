/* A resolver (resolver.h) without libbfd, for the fuzz targets of
 * austinp-resolve's readers: no file is opened, and what an address
 * resolves to is made up from the file's path and the address, the same
 * way every time. Each outcome that the real resolver can give is
 * given for some: a file missing or without debug information, nothing
 * known, a function without a line, a chain of inlined frames, and
 * names that hold the separators of the text format (';', ':', spaces,
 * line breaks).
 *
 * Whether an address is resolved at all depends on the address alone,
 * not on whether it is a return address: a frame kept as it was is then
 * kept again when the output is read back (the targets check that
 * resolving a resolved profile changes nothing). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resolver.h"

struct resolver_file {
  char *path;
  enum resolver_file_state state;
};

struct resolver {
  struct resolver_file **files;
  size_t nfiles;
  /* The strings of the last frames given (valid until the next call). */
  char names[3][64], sources[3][64];
};

static uint64_t mix(uint64_t h) {
  h = (h ^ h >> 33) * 0xff51afd7ed558ccdull;
  return h ^ h >> 33;
}

static uint64_t path_hash(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

struct resolver *resolver_new(const char *root) {
  (void)root;
  return calloc(1, sizeof(struct resolver));
}

void resolver_free(struct resolver *r) {
  if (r == NULL) return;
  for (size_t i = 0; i < r->nfiles; i++) {
    free(r->files[i]->path);
    free(r->files[i]);
  }
  free(r->files);
  free(r);
}

int resolver_add_debug_dir(struct resolver *r, const char *dir) {
  (void)r;
  (void)dir;
  return 0;
}

struct resolver_file *resolver_file(struct resolver *r, const char *path) {
  for (size_t i = 0; i < r->nfiles; i++)
    if (strcmp(r->files[i]->path, path) == 0) return r->files[i];
  if (r->nfiles >= RESOLVER_FILES_MAX) return NULL;
  struct resolver_file **fs = realloc(r->files, (r->nfiles + 1) * sizeof *fs);
  if (fs == NULL) return NULL;
  r->files = fs;
  struct resolver_file *f = calloc(1, sizeof *f);
  if (f == NULL || (f->path = strdup(path)) == NULL) {
    free(f);
    return NULL;
  }
  static const enum resolver_file_state states[4] = {
      RESOLVER_FILE_MISSING, RESOLVER_FILE_NO_DEBUG, RESOLVER_FILE_DEBUG, RESOLVER_FILE_DEBUG};
  f->state = states[mix(path_hash(path)) % 4];
  r->files[r->nfiles++] = f;
  return f;
}

enum resolver_file_state resolver_file_state(const struct resolver_file *f) { return f->state; }
bool resolver_file_minidebug(const struct resolver_file *f) { return f->state == RESOLVER_FILE_NO_DEBUG && f->path[0] == '/'; }
const char *resolver_file_path(const struct resolver_file *f) { return f->path; }
const char *resolver_file_debug_path(const struct resolver_file *f) {
  return f->state == RESOLVER_FILE_DEBUG ? f->path : NULL;
}

/* Frame i of n for vaddr: names that a text reader must not split on. */
static struct resolver_frame made_up(struct resolver *r, int i, uint64_t vaddr, bool lines) {
  static const char *const shapes[3] = {"ns::outer<int; 4>", "inl %" PRIx64, "f\n%" PRIx64 "\r"};
  snprintf(r->names[i], sizeof r->names[i], shapes[i], vaddr);
  snprintf(r->sources[i], sizeof r->sources[i], "/src/a b;%d.c", i);
  struct resolver_frame f = {r->names[i], NULL, 0};
  if (lines && (vaddr >> i & 1) == 0) {
    f.file = r->sources[i];
    f.line = 1 + (unsigned)(vaddr % 9973);
  }
  /* A function unknown, with or without a line; nothing known at all
   * only within a chain (a lone frame of nothing is no frame). */
  if ((int)(vaddr >> 4 & 3) == i) f.function = NULL;
  if (f.function == NULL && f.file == NULL && i < 2) f.function = r->names[i];
  return f;
}

int resolver_file_frames(struct resolver *r, struct resolver_file *f, uint64_t map_lo,
                         uint64_t pc, bool is_return_address, resolver_frame_cb cb,
                         void *arg) {
  if (f->state == RESOLVER_FILE_MISSING || pc < map_lo) return -1;
  uint64_t h = mix(pc);
  int n = (int)(h % 4); /* 0: nothing known of pc */
  uint64_t vaddr = pc - map_lo - is_return_address;
  for (int i = 0; i < n; i++) {
    struct resolver_frame fr = made_up(r, i, vaddr, f->state == RESOLVER_FILE_DEBUG);
    cb(arg, &fr);
  }
  return n;
}
