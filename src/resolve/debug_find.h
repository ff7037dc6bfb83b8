/* Finding a file's separate debug file, the way GDB and addr2line do:
 *   1. by build-id: DIR/.build-id/xx/yyyy.debug, for each global debug
 *      directory DIR (ROOT/usr/lib/debug first);
 *   2. by .gnu_debuglink: beside the file, in its .debug/ directory, and
 *      under each global debug directory followed by the file's directory;
 *      the candidate's CRC must match the link's.
 * Paths of the profiled machine are looked up under root. */
#ifndef DEBUG_FIND_H
#define DEBUG_FIND_H

#include <stddef.h>

#include "bfd_config.h"

/* The bfd (checked as an object file, with DWARF) of the debug file of
 * abfd, whose path on the profiled machine is path; NULL if none. dirs:
 * global debug directories, already under root. The path of the file
 * found is in *found (malloc'd). */
bfd *debug_find(bfd *abfd, const char *root, const char *path, const char *const *dirs,
                size_t ndirs, char **found);

/* Whether abfd holds DWARF of its own. */
int debug_has_dwarf(bfd *abfd);

/* Open path as an object file with libbfd (NULL if it is not one). */
bfd *debug_open_object(const char *path);

#endif
