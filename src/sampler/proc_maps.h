/* /proc/PID/maps: the target's mappings, parsed once per discovery. */
#ifndef PROC_MAPS_H
#define PROC_MAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct proc_map {
  uint64_t start, end, offset;
  uint64_t inode;
  char perms[5];  /* "r-xp" */
  char *path;     /* as the target sees it; NULL for anonymous mappings */
  bool vdso;      /* the kernel's "[vdso]" (path NULL: it is no file) */
};

struct proc_maps {
  struct proc_map *maps;
  size_t count;
};

/* Parse the maps of a process. 0 on success, -1 with errno set (ESRCH when
 * the process does not exist, EACCES/EPERM when we may not read them). */
int proc_maps_read(pid_t pid, struct proc_maps *out);

/* Parse maps text (one mapping per line). Malformed lines are skipped.
 * Used by proc_maps_read and by tests. */
int proc_maps_parse(const char *text, size_t len, struct proc_maps *out);

void proc_maps_free(struct proc_maps *m);

/* Path under which our process can open a file that the target names
 * `path` (through /proc/PID/root, so that targets in another mount
 * namespace or chroot are read from their own root). Writes into buf. */
const char *proc_path_in_root(pid_t pid, const char *path, char *buf, size_t size);

/* A path through which we can open the file behind a mapping, always
 * through the target's root: /proc/PID/root/<path in the target's root>
 * (maps paths of a target chrooted below us carry the chroot's prefix,
 * which is stripped), else /proc/PID/map_files/START-END; each checked to
 * be the mapped file by its inode. NULL if none is. */
const char *proc_map_open_path(pid_t pid, const struct proc_map *m, char *buf,
                               size_t size);

#endif
