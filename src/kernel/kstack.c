/* Parser of /proc/PID/task/TID/stack text. See kstack.h. */
#include <stdbool.h>
#include <string.h>

#include "kstack.h"

static bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Where the symbol of a frame line starts, or NULL when the line is not
 * "[<hex>] symbol...". */
static const char *symbol_start(const char *p, const char *end) {
  if (end - p < 5 || p[0] != '[' || p[1] != '<') return NULL;
  p += 2;
  const char *digits = p;
  while (p < end && is_hex(*p)) p++;
  if (p == digits || end - p < 2 || p[0] != '>' || p[1] != ']') return NULL;
  p += 2;
  while (p < end && (*p == ' ' || *p == '\t')) p++;
  return p < end ? p : NULL;
}

/* The name ends at the offset ("+0x..") or at the module suffix. */
static const char *symbol_end(const char *p, const char *end) {
  while (p < end && *p != '+' && *p != ' ' && *p != '\t') p++;
  return p;
}

static char safe_char(char c) {
  return (c == ';' || c == ':' || (unsigned char)c < 0x20 || c == 0x7f) ? '_' : c;
}

/* Copy [s, e) into the pool as frame out->n; false when out of room. */
static bool add_frame(struct kstack *out, size_t *used, const char *s, const char *e) {
  size_t len = (size_t)(e - s);
  if (out->n == KSTACK_MAX_FRAMES || len + 1 > KSTACK_POOL - *used) return false;
  char *dst = out->pool + *used;
  for (size_t i = 0; i < len; i++) dst[i] = safe_char(s[i]);
  dst[len] = '\0';
  out->names[out->n++] = dst;
  *used += len + 1;
  return true;
}

size_t kstack_parse(const char *text, size_t len, struct kstack *out) {
  out->n = 0;
  size_t used = 0;
  const char *p = text, *end = text + len;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (nl == NULL) break; /* cut short: see kstack.h */
    const char *s = symbol_start(p, nl);
    if (s != NULL) {
      const char *e = symbol_end(s, nl);
      if (e > s && !add_frame(out, &used, s, e)) break;
    }
    p = nl + 1;
  }
  return out->n;
}

bool kstack_in_ptrace_stop(const struct kstack *k) {
  static const char name[] = "ptrace_stop";
  for (size_t i = 0; i < k->n; i++) {
    const char *f = k->names[i];
    if (strncmp(f, name, sizeof name - 1) == 0 &&
        (f[sizeof name - 1] == '\0' || f[sizeof name - 1] == '.'))
      return true;
  }
  return false;
}
