/* One naming policy for native addresses (see func_syms.h). */
#include "func_syms.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elf_symbols.h"

void func_syms_init(struct func_syms *t) { memset(t, 0, sizeof *t); }

void func_syms_free(struct func_syms *t) {
  for (size_t i = 0; i < t->nowned; i++) free(t->owned[i]);
  free(t->owned);
  free(t->v);
  memset(t, 0, sizeof *t);
}

/* The suffixes GCC gives the pieces it makes of a function. */
static const char *const piece_words[] = {"cold", "part", "isra", "constprop", "lto_priv",
                                          "localalias", "clone", NULL};

/* s (just after a '.') starts with a piece word followed by '.' or the
 * end: its length, else 0. */
static size_t piece_word(const char *s) {
  for (int i = 0; piece_words[i] != NULL; i++) {
    size_t n = strlen(piece_words[i]);
    if (strncmp(s, piece_words[i], n) == 0 && (s[n] == '.' || s[n] == '\0')) return n;
  }
  return 0;
}

/* Does s (at a '.') consist only of piece suffixes: (".word" (".digits")*)+ ? */
static bool all_pieces(const char *s) {
  if (*s == '\0') return false;
  while (*s == '.') {
    size_t n = piece_word(s + 1);
    if (n == 0) return false;
    s += 1 + n;
    while (s[0] == '.' && s[1] >= '0' && s[1] <= '9') {
      s++;
      while (*s >= '0' && *s <= '9') s++;
    }
  }
  return *s == '\0';
}

size_t func_syms_base_len(const char *name) {
  size_t len = strlen(name);
  for (const char *p = strchr(name, '.'); p != NULL; p = strchr(p + 1, '.'))
    if (p > name && all_pieces(p)) return (size_t)(p - name);
  return len;
}

static const char *own_name(struct func_syms *t, const char *name, size_t len) {
  if (t->nowned == t->owned_cap) {
    size_t cap = t->owned_cap ? 2 * t->owned_cap : 16;
    char **p = realloc(t->owned, cap * sizeof *p);
    if (p == NULL) return NULL;
    t->owned = p;
    t->owned_cap = cap;
  }
  char *s = strndup(name, len);
  if (s != NULL) t->owned[t->nowned++] = s;
  return s;
}

int func_syms_add(struct func_syms *t, const char *name, uint64_t addr, uint64_t size) {
  if (t->n >= FUNC_SYMS_MAX || name == NULL || size == 0) return -1;
  if (t->n == t->cap) {
    size_t cap = t->cap ? 2 * t->cap : 256;
    struct func_sym *p = realloc(t->v, cap * sizeof *p);
    if (p == NULL) return -1;
    t->v = p;
    t->cap = cap;
  }
  size_t base = func_syms_base_len(name);
  if (base != strlen(name) && (name = own_name(t, name, base)) == NULL) return -1;
  t->v[t->n++] = (struct func_sym){.addr = addr, .size = size, .name = name, .seq = t->seq++};
  return 0;
}

int func_syms_collect(const char *name, uint64_t value, uint64_t size, void *ctx) {
  /* Stop only when the table is full (or memory is out). */
  return func_syms_add(ctx, name, value, size) == 0 || size == 0 ? 0 : 1;
}

void func_syms_load(struct func_syms *t, struct elf_file *ef) {
  if (ef == NULL) return;
  elf_file_each_function(ef, func_syms_collect, t);
  func_syms_sort(t);
}

static int sym_cmp(const void *a, const void *b) {
  const struct func_sym *x = a, *y = b;
  if (x->addr != y->addr) return x->addr < y->addr ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* How good a name is among aliases of one address (higher is better):
 * internal aliases (__GI_*, *_alias_N, versioned) last; then the longer
 * name, which for the C library is the function's own (__libc_pause, not
 * its weak alias pause; __libc_start_main_impl, not __libc_start_main). */
static int name_rank(const char *n) {
  if (strncmp(n, "__GI_", 5) == 0 || strstr(n, "_alias_") != NULL || strchr(n, '@') != NULL)
    return 0;
  size_t len = strlen(n);
  return 1 + (int)(len > 1000 ? 1000 : len);
}

void func_syms_sort(struct func_syms *t) {
  if (t->n == 0) return;
  qsort(t->v, t->n, sizeof *t->v, sym_cmp);
  size_t out = 0;
  for (size_t i = 0; i < t->n; i++) {
    if (out > 0 && t->v[out - 1].addr == t->v[i].addr) {
      /* Aliases: keep the best name (the first seen among equals) and the
       * largest size. */
      struct func_sym *k = &t->v[out - 1];
      uint64_t size = k->size > t->v[i].size ? k->size : t->v[i].size;
      bool marked = k->marked || t->v[i].marked;
      if (name_rank(t->v[i].name) > name_rank(k->name)) *k = t->v[i];
      k->size = size;
      k->marked = marked;
      continue;
    }
    t->v[out++] = t->v[i];
  }
  t->n = out;
}

const struct func_sym *func_syms_at(const struct func_syms *t, uint64_t addr) {
  size_t lo = 0, hi = t->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (t->v[mid].addr <= addr) lo = mid + 1;
    else hi = mid;
  }
  /* Nested symbols are rare; look back a few entries for one that holds
   * addr. */
  for (size_t k = 0; k < 8 && lo > 0; k++, lo--) {
    const struct func_sym *sy = &t->v[lo - 1];
    if (addr - sy->addr < sy->size) return sy;
  }
  return NULL;
}

const char *func_syms_identity(const char *path, bool has_start, uint64_t start, char *buf) {
  const char *base = path != NULL ? strrchr(path, '/') : NULL;
  base = base != NULL ? base + 1 : path != NULL && *path ? path : "??";
  /* The module name, at most 255 bytes of it. */
  size_t n = strnlen(base, 255), at = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)base[i];
    buf[at++] = ch == ';' || ch == ':' || ch == ' ' || ch < 0x20 || ch == 0x7f ? '_' : (char)ch;
  }
  if (has_start)
    snprintf(buf + at, FUNC_SYMS_IDENTITY_MAX - at, "+0x%" PRIx64, start);
  else
    snprintf(buf + at, FUNC_SYMS_IDENTITY_MAX - at, "+??");
  return buf;
}
