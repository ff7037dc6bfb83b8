#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "debug_find.h"
#include "debug_paths.h"

bfd *debug_open_object(const char *path) {
  bfd *b = bfd_openr(path, NULL);
  if (b == NULL) return NULL;
  /* Compressed debug sections (.zdebug, SHF_COMPRESSED) read as plain. */
  b->flags |= BFD_DECOMPRESS;
  char **matching = NULL;
  if (!bfd_check_format_matches(b, bfd_object, &matching)) {
    free(matching);
    bfd_close(b);
    return NULL;
  }
  return b;
}

int debug_has_dwarf(bfd *abfd) {
  asection *s = bfd_get_section_by_name(abfd, ".debug_info");
  return s != NULL && s->size > 0 && (bfd_section_flags(s) & SEC_HAS_CONTENTS) != 0;
}

struct accept_ctx {
  bfd *abfd;
  bfd *found;
};

/* A candidate (found by the shared policy, debug_paths.h, its CRC checked
 * when it came by the link) is the debug file when it is an object file
 * with DWARF, of the same build-id when it came by build-id. */
static bool accept_dwarf(const char *candidate, bool by_build_id, void *arg) {
  struct accept_ctx *c = arg;
  bfd *b = debug_open_object(candidate);
  if (b == NULL) return false;
  const struct bfd_build_id *want = c->abfd->build_id, *id = b->build_id;
  bool same = !by_build_id || (want != NULL && id != NULL && id->size == want->size &&
                               memcmp(id->data, want->data, want->size) == 0);
  if (!same || !debug_has_dwarf(b)) {
    bfd_close(b);
    return false;
  }
  c->found = b;
  return true;
}

bfd *debug_find(bfd *abfd, const char *root, const char *path, const char *const *dirs,
                size_t ndirs, char **found) {
  unsigned long crc = 0;
  char *link = bfd_get_debug_link_info(abfd, &crc);
  const struct bfd_build_id *id = abfd->build_id;
  struct debug_search q = {
      .root = root,
      .path = path,
      .build_id = id != NULL ? id->data : NULL,
      .build_id_len = id != NULL ? id->size : 0,
      .link = link,
      .link_crc = (uint32_t)crc,
      .dirs = dirs,
      .ndirs = ndirs,
  };
  struct accept_ctx c = {abfd, NULL};
  *found = debug_paths_find(&q, accept_dwarf, &c);
  free(link);
  if (*found == NULL && c.found != NULL) {
    bfd_close(c.found);
    c.found = NULL;
  }
  return c.found;
}

bfd *debug_open_matching(bfd *abfd, const char *candidate) {
  struct accept_ctx c = {abfd, NULL};
  return accept_dwarf(candidate, true, &c) ? c.found : NULL;
}
