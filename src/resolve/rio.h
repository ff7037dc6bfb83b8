/* Buffered input and output for austinp-resolve, shared by the readers
 * and writers of each profile format (text and MOJO).
 *
 * The input is read in large blocks; a line (or a run of bytes) is handed
 * out as a pointer into the buffer, valid until the next read. Memory is
 * bounded: one buffer, at most RIN_LINE_MAX bytes plus a block. */
#ifndef RIO_H
#define RIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The bounds here and in rio.c are far smaller in the fuzz builds
 * (test/fuzz), so that small inputs reach every refill and the bound. */
#ifndef RIN_LINE_MAX
#define RIN_LINE_MAX (16u << 20)
#endif

struct rin {
  int fd;
  const char *name;  /* for messages: the file name, or "standard input" */
  char *buf;
  size_t cap, start, end;
  bool eof;
  int error;         /* errno of a failed read, 0 otherwise */
  uint64_t offset;   /* input offset of buf[start] */
  uint64_t lineno;   /* number of the last line handed out (1-based) */
};

/* Open path for reading ("-" or NULL: standard input). -1 with errno. */
int rin_open(struct rin *in, const char *path);
void rin_close(struct rin *in);

/* At least n bytes (fewer at the end of the input) at *p, not consumed.
 * Returns how many are available, n at most. */
size_t rin_peek(struct rin *in, size_t n, const char **p);

enum rin_status { RIN_LINE, RIN_END, RIN_ERROR, RIN_TOO_LONG };

/* The next line, without its '\n'; *newline tells whether it had one
 * (false only for a last line cut short). */
enum rin_status rin_line(struct rin *in, char **line, size_t *len, bool *newline);

/* The same for any delimiter (MOJO's strings end with NUL), without
 * counting lines: the bytes before the next delim, consumed with it, and
 * NUL-terminated in the buffer; *found is false only at the end of the
 * input. At most RIN_LINE_MAX bytes. */
enum rin_status rin_until(struct rin *in, char delim, char **text, size_t *len, bool *found);

/* Consume n bytes that rin_peek has shown. */
static inline void rin_skip(struct rin *in, size_t n) {
  in->start += n;
  in->offset += n;
}

struct rout {
  int fd;
  char *buf;
  size_t len, cap;
  int error;         /* errno of a failed write, 0 otherwise */
};

/* Open path for writing (NULL or "-": standard output). -1 with errno. */
int rout_open(struct rout *out, const char *path);
/* Flush and close; -1 with out->error set when anything failed. */
int rout_close(struct rout *out);
void rout_flush(struct rout *out);

static inline void rout_write(struct rout *out, const void *p, size_t n) {
  if (out->cap - out->len < n) {
    rout_flush(out);
    if (n > out->cap) {
      /* Larger than the buffer: straight through. */
      const char *q = p;
      size_t done = 0;
      while (out->error == 0 && done < n) {
        size_t chunk = n - done < out->cap ? n - done : out->cap;
        memcpy(out->buf, q + done, chunk);
        out->len = chunk;
        rout_flush(out);
        done += chunk;
      }
      return;
    }
  }
  memcpy(out->buf + out->len, p, n);
  out->len += n;
}

static inline void rout_putc(struct rout *out, char c) {
  if (out->len == out->cap) rout_flush(out);
  out->buf[out->len++] = c;
}

/* An unsigned number in decimal. */
void rout_uint(struct rout *out, uint64_t v);

#endif
