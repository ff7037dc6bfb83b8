#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "rio.h"

#ifndef RIN_BLOCK
#define RIN_BLOCK (1u << 20)
#endif
#ifndef ROUT_BUF
#define ROUT_BUF (1u << 20)
#endif

int rin_open(struct rin *in, const char *path) {
  memset(in, 0, sizeof *in);
  if (path == NULL || strcmp(path, "-") == 0) {
    in->fd = 0;
    in->name = "standard input";
  } else {
    in->fd = open(path, O_RDONLY | O_CLOEXEC);
    in->name = path;
    if (in->fd < 0) return -1;
  }
  in->cap = 2 * RIN_BLOCK;
  in->buf = malloc(in->cap);
  if (in->buf == NULL) {
    if (in->fd > 0) close(in->fd);
    errno = ENOMEM;
    return -1;
  }
  return 0;
}

void rin_close(struct rin *in) {
  if (in->fd > 0) close(in->fd);
  free(in->buf);
  in->buf = NULL;
}

/* Read one more block, moving what is left to the front and growing the
 * buffer (up to the line bound) when it is full. 0 on data, -1 at the
 * end or on an error, -2 when a line would exceed the bound. */
static int fill(struct rin *in) {
  if (in->eof) return -1;
  if (in->start > 0) {
    memmove(in->buf, in->buf + in->start, in->end - in->start);
    in->end -= in->start;
    in->start = 0;
  }
  if (in->cap - in->end < RIN_BLOCK / 2) {
    if (in->cap >= RIN_LINE_MAX + RIN_BLOCK) return -2;
    size_t cap = 2 * in->cap;
    if (cap > RIN_LINE_MAX + RIN_BLOCK) cap = RIN_LINE_MAX + RIN_BLOCK;
    char *b = realloc(in->buf, cap);
    if (b == NULL) return -2;
    in->buf = b;
    in->cap = cap;
  }
  ssize_t n;
  /* One byte spare, for the NUL that rin_line puts after a last line. */
  do n = read(in->fd, in->buf + in->end, in->cap - in->end - 1);
  while (n < 0 && errno == EINTR);
  if (n <= 0) {
    in->eof = true;
    if (n < 0) in->error = errno;
    return -1;
  }
  in->end += (size_t)n;
  return 0;
}

size_t rin_peek(struct rin *in, size_t n, const char **p) {
  while (in->end - in->start < n && fill(in) == 0) {
  }
  *p = in->buf + in->start;
  return in->end - in->start < n ? in->end - in->start : n;
}

enum rin_status rin_until(struct rin *in, char delim, char **text, size_t *len, bool *found) {
  size_t scanned = 0;
  for (;;) {
    char *b = in->buf + in->start;
    size_t avail = in->end - in->start;
    char *d = memchr(b + scanned, delim, avail - scanned);
    if (d != NULL || (in->eof && avail > 0)) {
      size_t n = d != NULL ? (size_t)(d - b) : avail;
      if (n > RIN_LINE_MAX) return RIN_TOO_LONG;
      *text = b;
      *len = n;
      *found = d != NULL;
      b[n] = '\0'; /* the delimiter or the spare byte that fill() leaves */
      in->start += n + (d != NULL);
      in->offset += n + (d != NULL);
      return RIN_LINE;
    }
    if (in->eof) return in->error ? RIN_ERROR : RIN_END;
    scanned = avail;
    if (scanned > RIN_LINE_MAX) return RIN_TOO_LONG;
    int rc = fill(in);
    if (rc == -2) return RIN_TOO_LONG;
    if (rc == -1 && in->error) return RIN_ERROR;
  }
}

enum rin_status rin_line(struct rin *in, char **line, size_t *len, bool *newline) {
  enum rin_status st = rin_until(in, '\n', line, len, newline);
  if (st == RIN_LINE) in->lineno++;
  return st;
}

int rout_open(struct rout *out, const char *path) {
  memset(out, 0, sizeof *out);
  out->fd = 1;
  if (path != NULL && strcmp(path, "-") != 0) {
    out->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (out->fd < 0) return -1;
  }
  out->cap = ROUT_BUF;
  out->buf = malloc(out->cap);
  if (out->buf == NULL) {
    errno = ENOMEM;
    return -1;
  }
  return 0;
}

void rout_flush(struct rout *out) {
  size_t done = 0;
  while (out->error == 0 && done < out->len) {
    ssize_t n = write(out->fd, out->buf + done, out->len - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      out->error = n < 0 ? errno : EIO;
      break;
    }
    done += (size_t)n;
  }
  /* After an error, output is dropped: the caller checks out->error. */
  out->len = 0;
}

int rout_close(struct rout *out) {
  rout_flush(out);
  if (out->fd > 1 && close(out->fd) != 0 && out->error == 0) out->error = errno;
  free(out->buf);
  out->buf = NULL;
  return out->error ? -1 : 0;
}

void rout_uint(struct rout *out, uint64_t v) {
  char tmp[24];
  int i = sizeof tmp;
  do tmp[--i] = (char)('0' + v % 10);
  while ((v /= 10) != 0);
  rout_write(out, tmp + i, sizeof tmp - i);
}
