/* The naming policy for native addresses, shared by austinp's sampler,
 * its where mode and austinp-resolve: one table of the function symbols
 * of a mapped file, and the rules that decide which name, if any, an
 * address gets from it.
 *
 *  - An address is named only when it lies inside a symbol, in
 *    [value, value + size): never after the nearest symbol below it (in a
 *    binary stripped to .dynsym that symbol is another function).
 *  - The pieces a compiler makes of a function (GCC's `.cold`, `.part.N`,
 *    `.isra.N`, `.constprop.N`, `.lto_priv.N`, `.localalias`) are named
 *    after the function, as DWARF names them.
 *  - Among aliases of one address, the function's own name.
 *
 * Names come from .dynsym, .symtab and the separate debug file's .symtab
 * (elf_symbols.c); DWARF names, when there is DWARF, are the resolver's
 * and take precedence there. A function that no symbol names is
 * identified by its module and its start (func_syms_identity). */
#ifndef FUNC_SYMS_H
#define FUNC_SYMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct elf_file;

struct func_sym {
  uint64_t addr, size; /* link-time */
  const char *name;    /* the elf_file's, or the table's own copy */
  uint32_t seq;        /* order of discovery, for a stable sort */
  bool marked;         /* free for the user (austinp: the evaluation loop) */
};

struct func_syms {
  struct func_sym *v; /* sorted by address once func_syms_sort ran */
  size_t n, cap;
  uint32_t seq;
  char **owned;       /* names the table made (pieces renamed) */
  size_t nowned, owned_cap;
};

/* Most function symbols kept per file. */
#define FUNC_SYMS_MAX (4u << 20)

void func_syms_init(struct func_syms *t);
void func_syms_free(struct func_syms *t);

/* Add a function symbol (name as the symbol table has it; a piece's
 * suffix is dropped here). 0, or -1 when full or out of memory. */
int func_syms_add(struct func_syms *t, const char *name, uint64_t addr, uint64_t size);

/* An elf_symbol_cb (elf_symbols.h) that adds to the table ctx. */
int func_syms_collect(const char *name, uint64_t value, uint64_t size, void *ctx);

/* Every sized function symbol of ef (and of its debug file), then sorted.
 * The names stay the elf_file's: the table must not outlive it. */
void func_syms_load(struct func_syms *t, struct elf_file *ef);

/* Sort by address and keep one entry per address (aliases: the best
 * name, the largest size). Call after adding. */
void func_syms_sort(struct func_syms *t);

/* The symbol that holds the link-time address addr, or NULL. */
const struct func_sym *func_syms_at(const struct func_syms *t, uint64_t addr);

/* Length of name without the suffixes of compiler-made pieces
 * ("f.constprop.0.isra.0" and "f.cold" give the length of "f"). */
size_t func_syms_base_len(const char *name);

/* The identity of a function no symbol names: "<module>+0x<start>", the
 * basename of the mapped file and the link-time start of the function
 * (from the unwind tables), or "<module>+??" when the start is unknown.
 * Characters that separate fields in Austin's format (';', ':', space)
 * and control characters in the module's name become '_'. buf holds
 * FUNC_SYMS_IDENTITY_MAX bytes; returns buf. */
#define FUNC_SYMS_IDENTITY_MAX 288
const char *func_syms_identity(const char *path, bool has_start, uint64_t start, char *buf);

#endif
