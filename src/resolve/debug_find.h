/* Finding a file's separate debug file with libbfd, by the search policy
 * the sampler uses too (src/sampler/debug_paths.h: build-id, then
 * .gnu_debuglink with its CRC), accepting an object file with DWARF.
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

/* The bfd of candidate when it is the debug file of abfd: an object
 * file with DWARF and abfd's build-id (a file a debuginfod server sent);
 * else NULL. */
bfd *debug_open_matching(bfd *abfd, const char *candidate);

/* Whether abfd holds DWARF of its own. */
int debug_has_dwarf(bfd *abfd);

/* Open path as an object file with libbfd (NULL if it is not one). */
bfd *debug_open_object(const char *path);

#endif
