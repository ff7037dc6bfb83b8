#include <stdlib.h>
#include <string.h>

#include "py_strings.h"

/* PyASCIIObject.state bit-field, the same in every GIL build we support:
 * interned:2, kind:3, compact:1, ascii:1. */
#define STATE_KIND(s) (((s) >> 2) & 7)
#define STATE_COMPACT(s) (((s) >> 5) & 1)
#define STATE_ASCII(s) (((s) >> 6) & 1)

static size_t utf8_put(uint32_t c, char *out) {
  /* Not a character UTF-8 may hold: a lone surrogate (a str may have one,
   * e.g. a file name decoded with surrogateescape) or a value beyond
   * Unicode (a torn read). Encoded as such they would make the output
   * invalid UTF-8 (and the latter, once replaced, was written overlong). */
  if ((c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff) c = 0xfffd;
  if (c < 0x80) {
    out[0] = (char)c;
    return 1;
  }
  if (c < 0x800) {
    out[0] = (char)(0xc0 | (c >> 6));
    out[1] = (char)(0x80 | (c & 0x3f));
    return 2;
  }
  if (c < 0x10000) {
    out[0] = (char)(0xe0 | (c >> 12));
    out[1] = (char)(0x80 | ((c >> 6) & 0x3f));
    out[2] = (char)(0x80 | (c & 0x3f));
    return 3;
  }
  out[0] = (char)(0xf0 | (c >> 18));
  out[1] = (char)(0x80 | ((c >> 12) & 0x3f));
  out[2] = (char)(0x80 | ((c >> 6) & 0x3f));
  out[3] = (char)(0x80 | (c & 0x3f));
  return 4;
}

char *py_str_read(struct remote *r, const struct py_layout *l, uint64_t addr) {
  uint8_t head[128];
  size_t head_len = (size_t)l->unicode_ascii_size;
  if (head_len == 0 || head_len > sizeof head) return NULL;
  if (remote_read(r, addr, head, head_len) != 0) return NULL;

  int64_t length;
  uint32_t state;
  memcpy(&length, head + l->unicode_length, sizeof length);
  memcpy(&state, head + l->unicode_state, sizeof state);
  if (length < 0 || length > PY_STR_MAX || !STATE_COMPACT(state)) return NULL;

  unsigned kind = STATE_KIND(state);
  if (kind != 1 && kind != 2 && kind != 4) return NULL;
  uint64_t data = addr + (STATE_ASCII(state) ? l->unicode_ascii_size
                                             : l->unicode_compact_size);

  size_t nbytes = (size_t)length * kind;
  uint8_t *raw = malloc(nbytes + 1);
  char *out = malloc((size_t)length * 4 + 1);
  if (raw == NULL || out == NULL || remote_read(r, data, raw, nbytes) != 0) {
    free(raw);
    free(out);
    return NULL;
  }
  size_t n = 0;
  for (int64_t i = 0; i < length; i++) {
    uint32_t c;
    if (kind == 1) c = raw[i];
    else if (kind == 2) c = (uint32_t)raw[2 * i] | (uint32_t)raw[2 * i + 1] << 8;
    else memcpy(&c, raw + 4 * i, 4);
    /* A NUL would cut our output short, and a newline or other control
     * character (a name is any string the target chose) would split or
     * forge its lines. */
    if (c < 0x20 || c == 0x7f) c = 0xfffd;
    n += utf8_put(c, out + n);
  }
  out[n] = '\0';
  free(raw);
  /* Room was made for four bytes a character; names are mostly ASCII, and
   * the code cache keeps two per code object. */
  char *fitted = realloc(out, n + 1);
  return fitted != NULL ? fitted : out;
}

uint8_t *py_bytes_read(struct remote *r, const struct py_layout *l,
                       uint64_t addr, size_t *len) {
  int64_t size;
  if (remote_read(r, addr + l->bytes_size, &size, sizeof size) != 0)
    return NULL;
  if (size < 0 || size > PY_BYTES_MAX) return NULL;
  uint8_t *buf = malloc(size ? size : 1);
  if (buf == NULL) return NULL;
  if (remote_read(r, addr + l->bytes_data, buf, size) != 0) {
    free(buf);
    return NULL;
  }
  *len = (size_t)size;
  return buf;
}
