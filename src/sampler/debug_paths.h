/* Where a file's separate debug file may be: one search policy, used by
 * the sampler's symbol reader (elf_symbols.c, libelf) and the resolver
 * (src/resolve/debug_find.c, libbfd), in the order GDB and addr2line use:
 *
 *   1. by build-id: DIR/.build-id/xx/yyyy.debug, for each global debug
 *      directory DIR (ROOT/usr/lib/debug first);
 *   2. by .gnu_debuglink NAME, the candidate's CRC-32 matching the link's:
 *      ROOT/DIRNAME/NAME (beside the file), ROOT/DIRNAME/.debug/NAME, then
 *      DIR/DIRNAME/NAME for each global debug directory DIR.
 *
 * DIRNAME is the directory of the file as the profiled process names it
 * (its path under ROOT). What makes a candidate the debug file beyond its
 * place and CRC (a matching build-id, a symbol table, DWARF) is the
 * caller's test: each reader needs different contents. */
#ifndef DEBUG_PATHS_H
#define DEBUG_PATHS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DEBUG_PATHS_BUILD_ID_MAX 64

struct debug_search {
  const char *root;            /* "" for this machine's root, else no trailing '/' */
  const char *path;            /* the file's path under root */
  const unsigned char *build_id; /* NULL when the file has none */
  size_t build_id_len;
  const char *link;            /* .gnu_debuglink's file name; NULL when none */
  uint32_t link_crc;
  const char *const *dirs;     /* global debug directories, paths of this machine */
  size_t ndirs;
};

/* Whether the candidate, a readable file (whose CRC matched for a
 * candidate of the link), is the debug file. */
typedef bool (*debug_accept_fn)(const char *candidate, bool by_build_id, void *ctx);

/* The first accepted candidate (malloc'd), or NULL. A link name that is
 * not a plain file name is ignored (the file is untrusted), and so is a
 * candidate that is the file itself. */
char *debug_paths_find(const struct debug_search *q, debug_accept_fn accept, void *ctx);

/* The CRC-32 (IEEE 802.3, as zlib's) of a whole file, what
 * .gnu_debuglink records. 0, or -1 when the file cannot be read. */
int debug_paths_crc32(const char *path, uint32_t *crc);

/* The file name and CRC of a .gnu_debuglink section's contents (the name,
 * NUL, padding to 4 bytes, the CRC in the file's byte order: big_endian).
 * 0, or -1 when malformed. *name points into data. */
int debug_paths_parse_link(const void *data, size_t size, bool big_endian, const char **name,
                           uint32_t *crc);

#endif
