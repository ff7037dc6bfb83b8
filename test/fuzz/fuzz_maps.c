/* Fuzz target: the /proc/PID/maps parser (proc_maps_parse). Every mapping
 * it keeps must be a non-empty range with a NUL-ended permission string
 * and, if named, an absolute path. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proc_maps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "fuzz_maps: %s\n", what);
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct proc_maps maps;
  if (proc_maps_parse((const char *)data, size, &maps) != 0) return 0;
  for (size_t i = 0; i < maps.count; i++) {
    const struct proc_map *m = &maps.maps[i];
    require(m->start < m->end, "an empty or reversed mapping");
    require(memchr(m->perms, '\0', sizeof m->perms) != NULL, "permissions not NUL-ended");
    require(m->path == NULL || m->path[0] == '/', "a mapped path that is not absolute");
  }
  proc_maps_free(&maps);
  return 0;
}
