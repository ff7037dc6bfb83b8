#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "debug_find.h"

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

/* The bfd of candidate if it is an object with DWARF that check accepts. */
static bfd *try_candidate(const char *candidate, int (*check)(bfd *, const void *),
                          const void *want, char **found) {
  if (access(candidate, R_OK) != 0) return NULL;
  bfd *b = debug_open_object(candidate);
  if (b == NULL) return NULL;
  if (!debug_has_dwarf(b) || !check(b, want)) {
    bfd_close(b);
    return NULL;
  }
  *found = strdup(candidate);
  return b;
}

static int same_build_id(bfd *b, const void *want) {
  const struct bfd_build_id *w = want, *id = b->build_id;
  return id != NULL && id->size == w->size && memcmp(id->data, w->data, w->size) == 0;
}

/* The CRC-32 that .gnu_debuglink records: of the whole debug file. */
static int file_crc(const char *path, unsigned long *crc) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  static unsigned char buf[1 << 16];
  unsigned long c = 0;
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) c = bfd_calc_gnu_debuglink_crc32(c, buf, n);
  close(fd);
  if (n < 0) return -1;
  *crc = c;
  return 0;
}

static int same_crc(bfd *b, const void *want) {
  unsigned long crc;
  return file_crc(bfd_get_filename(b), &crc) == 0 && crc == *(const unsigned long *)want;
}

static bfd *by_build_id(bfd *abfd, const char *const *dirs, size_t ndirs, char **found) {
  const struct bfd_build_id *id = abfd->build_id;
  if (id == NULL || id->size < 2 || id->size > 64) return NULL;
  char hex[2 * 64 + 1];
  for (bfd_size_type i = 0; i < id->size; i++) sprintf(hex + 2 * i, "%02x", id->data[i]);
  char candidate[4096];
  for (size_t d = 0; d < ndirs; d++) {
    int n = snprintf(candidate, sizeof candidate, "%s/.build-id/%.2s/%s.debug", dirs[d], hex,
                     hex + 2);
    if (n <= 0 || (size_t)n >= sizeof candidate) continue;
    bfd *b = try_candidate(candidate, same_build_id, id, found);
    if (b != NULL) return b;
  }
  return NULL;
}

static bfd *by_debuglink(bfd *abfd, const char *root, const char *path,
                         const char *const *dirs, size_t ndirs, char **found) {
  unsigned long crc = 0;
  char *link = bfd_get_debug_link_info(abfd, &crc);
  if (link == NULL) return NULL;
  bfd *b = NULL;
  /* The directory of the file on the profiled machine. */
  const char *slash = strrchr(path, '/');
  int dlen = slash ? (int)(slash - path) : 0;
  char candidate[4096];
  for (size_t k = 0; b == NULL && k < 2 + ndirs; k++) {
    int n;
    if (k == 0) n = snprintf(candidate, sizeof candidate, "%s%.*s/%s", root, dlen, path, link);
    else if (k == 1)
      n = snprintf(candidate, sizeof candidate, "%s%.*s/.debug/%s", root, dlen, path, link);
    else n = snprintf(candidate, sizeof candidate, "%s%.*s/%s", dirs[k - 2], dlen, path, link);
    if (n <= 0 || (size_t)n >= sizeof candidate) continue;
    b = try_candidate(candidate, same_crc, &crc, found);
  }
  free(link);
  return b;
}

bfd *debug_find(bfd *abfd, const char *root, const char *path, const char *const *dirs,
                size_t ndirs, char **found) {
  *found = NULL;
  bfd *b = by_build_id(abfd, dirs, ndirs, found);
  return b != NULL ? b : by_debuglink(abfd, root, path, dirs, ndirs, found);
}
