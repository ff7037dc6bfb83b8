/* One search policy for separate debug files (see debug_paths.h). */
#define _GNU_SOURCE
#include "debug_paths.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATH_MAX_LEN 4096

static uint32_t crc_table[256];

static void crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    crc_table[i] = c;
  }
}

int debug_paths_crc32(const char *path, uint32_t *out) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, crc_init);
  /* O_NONBLOCK: never hang on a FIFO planted where a debug file may be. */
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return -1;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return -1;
  }
  static unsigned char buf[1 << 16];
  uint32_t crc = 0xFFFFFFFFu;
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      close(fd);
      return -1;
    }
    if (n == 0) break;
    for (ssize_t i = 0; i < n; i++) crc = crc_table[(crc ^ buf[i]) & 0xFF] ^ (crc >> 8);
  }
  close(fd);
  *out = crc ^ 0xFFFFFFFFu;
  return 0;
}

int debug_paths_parse_link(const void *data, size_t size, bool big_endian, const char **name,
                           uint32_t *crc) {
  const char *buf = data;
  const char *nul = memchr(buf, '\0', size);
  if (nul == NULL || nul == buf) return -1;
  size_t crc_off = ((size_t)(nul - buf) + 1 + 3) & ~(size_t)3;
  if (crc_off + 4 > size) return -1;
  const unsigned char *c = (const unsigned char *)buf + crc_off;
  *crc = big_endian ? (uint32_t)c[0] << 24 | (uint32_t)c[1] << 16 | (uint32_t)c[2] << 8 | c[3]
                    : (uint32_t)c[3] << 24 | (uint32_t)c[2] << 16 | (uint32_t)c[1] << 8 | c[0];
  *name = buf;
  return 0;
}

static bool readable(const char *p) { return access(p, R_OK) == 0; }

static char *try_build_id(const struct debug_search *q, debug_accept_fn accept, void *ctx) {
  if (q->build_id == NULL || q->build_id_len < 2 || q->build_id_len > DEBUG_PATHS_BUILD_ID_MAX)
    return NULL;
  char hex[2 * DEBUG_PATHS_BUILD_ID_MAX + 1];
  for (size_t i = 0; i < q->build_id_len; i++) snprintf(hex + 2 * i, 3, "%02x", q->build_id[i]);
  char cand[PATH_MAX_LEN];
  for (size_t d = 0; d < q->ndirs; d++) {
    int n = snprintf(cand, sizeof cand, "%s/.build-id/%.2s/%s.debug", q->dirs[d], hex, hex + 2);
    if (n <= 0 || (size_t)n >= sizeof cand || !readable(cand)) continue;
    if (accept(cand, true, ctx)) return strdup(cand);
  }
  return NULL;
}

static char *try_link(const struct debug_search *q, debug_accept_fn accept, void *ctx) {
  const char *link = q->link;
  /* A plain file name only: the file is untrusted. */
  if (link == NULL || *link == '\0' || strchr(link, '/') != NULL || strcmp(link, ".") == 0 ||
      strcmp(link, "..") == 0)
    return NULL;
  const char *slash = strrchr(q->path, '/');
  int dlen = slash != NULL ? (int)(slash - q->path) : 0;
  char self[PATH_MAX_LEN], cand[PATH_MAX_LEN];
  snprintf(self, sizeof self, "%s%s", q->root, q->path);
  for (size_t k = 0; k < 2 + q->ndirs; k++) {
    int n;
    if (k == 0) n = snprintf(cand, sizeof cand, "%s%.*s/%s", q->root, dlen, q->path, link);
    else if (k == 1)
      n = snprintf(cand, sizeof cand, "%s%.*s/.debug/%s", q->root, dlen, q->path, link);
    else n = snprintf(cand, sizeof cand, "%s%.*s/%s", q->dirs[k - 2], dlen, q->path, link);
    if (n <= 0 || (size_t)n >= sizeof cand || strcmp(cand, self) == 0 || !readable(cand))
      continue;
    uint32_t crc;
    if (debug_paths_crc32(cand, &crc) != 0 || crc != q->link_crc) continue;
    if (accept(cand, false, ctx)) return strdup(cand);
  }
  return NULL;
}

char *debug_paths_find(const struct debug_search *q, debug_accept_fn accept, void *ctx) {
  char *found = try_build_id(q, accept, ctx);
  return found != NULL ? found : try_link(q, accept, ctx);
}
