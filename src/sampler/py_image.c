#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "py_image.h"

/* ---- parsing ------------------------------------------------------------ */

#define HEADER_LEN (8 + 4 + 4 + 8 + 8 + 4 + 4)
#define RANGE_HEAD_LEN (8 + 4)

static uint64_t get_u64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

static uint32_t get_u32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

int py_image_parse(const uint8_t *buf, size_t len, struct py_image *out) {
  memset(out, 0, sizeof *out);
  if (len < HEADER_LEN || memcmp(buf, PY_IMAGE_MAGIC, 8) != 0) return -1;
  out->major = (int)get_u32(buf + 8);
  out->minor = (int)get_u32(buf + 12);
  out->runtime_addr = get_u64(buf + 16);
  out->code_type_addr = get_u64(buf + 24);
  out->tid_offset = (int32_t)get_u32(buf + 32);
  uint32_t n = get_u32(buf + 36);
  /* The count is a hint: no more ranges than the bytes left could hold. */
  size_t room = (len - HEADER_LEN) / RANGE_HEAD_LEN;
  if (n > PY_IMAGE_MAX_RANGES) n = PY_IMAGE_MAX_RANGES;
  if (n > room) n = (uint32_t)room;
  out->ranges = calloc(n ? n : 1, sizeof *out->ranges);
  if (out->ranges == NULL) return -1;

  size_t pos = HEADER_LEN;
  for (uint32_t i = 0; i < n && len - pos >= RANGE_HEAD_LEN; i++) {
    uint64_t addr = get_u64(buf + pos);
    size_t rlen = get_u32(buf + pos + 8);
    pos += RANGE_HEAD_LEN;
    bool cut = rlen > len - pos;
    if (cut) rlen = len - pos;
    out->ranges[out->nranges++] = (struct remote_range){addr, rlen, buf + pos};
    pos += rlen;
    if (cut) break;
  }
  return 0;
}

void py_image_free(struct py_image *im) {
  free(im->ranges);
  im->ranges = NULL;
  im->nranges = 0;
}

/* ---- recording ---------------------------------------------------------- */

/* A capture is one walk: anything near this size means a runaway. */
#define RECORD_BYTES_MAX (256u << 20)

struct record {
  uint64_t addr;
  size_t len;
  uint8_t *bytes;
};

struct recorder {
  struct remote base;
  struct remote *inner;
  struct record *recs;
  size_t n, cap, bytes;
};

static void keep(struct recorder *rc, uint64_t addr, const void *buf, size_t len) {
  if (len == 0 || rc->bytes + len > RECORD_BYTES_MAX) return;
  if (rc->n == rc->cap) {
    size_t cap = rc->cap ? 2 * rc->cap : 256;
    struct record *grown = realloc(rc->recs, cap * sizeof *grown);
    if (grown == NULL) return;
    rc->recs = grown;
    rc->cap = cap;
  }
  uint8_t *copy = malloc(len);
  if (copy == NULL) return;
  memcpy(copy, buf, len);
  rc->recs[rc->n++] = (struct record){addr, len, copy};
  rc->bytes += len;
}

static int rec_read(struct remote *r, uint64_t addr, void *buf, size_t len) {
  struct recorder *rc = (struct recorder *)r;
  int rv = remote_read(rc->inner, addr, buf, len);
  if (rv == 0) keep(rc, addr, buf, len);
  return rv;
}

static int rec_readv(struct remote *r, const struct remote_iov *iov, size_t n) {
  struct recorder *rc = (struct recorder *)r;
  int got = remote_readv(rc->inner, iov, n);
  for (int i = 0; i < got; i++) keep(rc, iov[i].addr, iov[i].buf, iov[i].len);
  return got;
}

static void rec_close(struct remote *r) {
  struct recorder *rc = (struct recorder *)r;
  for (size_t i = 0; i < rc->n; i++) free(rc->recs[i].bytes);
  free(rc->recs);
  free(rc);
}

static const struct remote_ops recorder_ops = {rec_read, rec_readv, rec_close};

struct remote *remote_open_recorder(struct remote *inner) {
  struct recorder *rc = calloc(1, sizeof *rc);
  if (rc == NULL) return NULL;
  rc->base.ops = &recorder_ops;
  rc->base.pid = inner->pid;
  rc->inner = inner;
  return &rc->base;
}

/* ---- writing ------------------------------------------------------------ */

static int by_addr(const void *a, const void *b) {
  const struct record *x = a, *y = b;
  return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* The union of the recorded ranges: sorted, disjoint, not touching. */
static size_t merge_spans(const struct record *recs, size_t n, struct record *spans) {
  struct record *sorted = malloc((n ? n : 1) * sizeof *sorted);
  if (sorted == NULL) return 0;
  memcpy(sorted, recs, n * sizeof *sorted);
  qsort(sorted, n, sizeof *sorted, by_addr);
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t lo = sorted[i].addr, hi = lo + sorted[i].len;
    if (m > 0 && lo <= spans[m - 1].addr + spans[m - 1].len) {
      uint64_t end = spans[m - 1].addr + spans[m - 1].len;
      if (hi > end) spans[m - 1].len = hi - spans[m - 1].addr;
    } else {
      spans[m++] = (struct record){lo, hi - lo, NULL};
    }
  }
  free(sorted);
  return m;
}

static struct record *span_of(struct record *spans, size_t m, uint64_t addr) {
  size_t lo = 0, hi = m;
  while (hi - lo > 1) {
    size_t mid = (lo + hi) / 2;
    if (spans[mid].addr <= addr) lo = mid;
    else hi = mid;
  }
  return &spans[lo];
}

static int put(FILE *out, const void *p, size_t n) { return fwrite(p, 1, n, out) == n ? 0 : -1; }

int py_image_write(struct remote *recorder, FILE *out, int major, int minor,
                   uint64_t runtime_addr, uint64_t code_type_addr,
                   int32_t tid_offset) {
  struct recorder *rc = (struct recorder *)recorder;
  struct record *spans = malloc((rc->n ? rc->n : 1) * sizeof *spans);
  if (spans == NULL) return -1;
  size_t m = merge_spans(rc->recs, rc->n, spans);
  int rv = 0;
  for (size_t i = 0; i < m && rv == 0; i++)
    if ((spans[i].bytes = calloc(1, spans[i].len)) == NULL) rv = -1;
  /* In reading order, so that a later read of the same bytes wins. */
  for (size_t i = 0; i < rc->n && rv == 0; i++) {
    struct record *s = span_of(spans, m, rc->recs[i].addr);
    memcpy(s->bytes + (rc->recs[i].addr - s->addr), rc->recs[i].bytes, rc->recs[i].len);
  }
  uint32_t u32[2] = {(uint32_t)major, (uint32_t)minor};
  uint64_t u64[2] = {runtime_addr, code_type_addr};
  uint32_t tail[2] = {(uint32_t)tid_offset, (uint32_t)m};
  if (rv == 0)
    rv = put(out, PY_IMAGE_MAGIC, 8) | put(out, u32, sizeof u32) | put(out, u64, sizeof u64) |
         put(out, tail, sizeof tail);
  for (size_t i = 0; i < m && rv == 0; i++) {
    uint32_t len = (uint32_t)spans[i].len;
    rv = put(out, &spans[i].addr, 8) | put(out, &len, 4) | put(out, spans[i].bytes, len);
  }
  for (size_t i = 0; i < m; i++) free(spans[i].bytes);
  free(spans);
  return rv == 0 && fflush(out) == 0 ? 0 : -1;
}
