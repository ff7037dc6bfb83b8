/* Fuzz target: austinp-resolve's reader of Austin's text format
 * (text_format.c), over its own I/O and session (resolve_pass.c), with a
 * made-up resolver (fake_resolver.c).
 *
 * Either the input is malformed (status 65), or the output is Austin's
 * text again: one line for each line of the input, the same but for
 * the native frames of samples (each kept as it was, or made one frame
 * or more); each sample ending with its metric and holding no empty
 * frame, no carriage return that the input did not hold; and such that
 * resolving it again changes nothing (every native frame left in it is
 * one kept as it was). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resolve_pass.h"
#include "text_format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define T "fuzz_resolve_text"

static size_t count(const char *p, size_t n, char c) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++) k += p[i] == c;
  return k;
}

static size_t longest_line(const char *p, size_t n) {
  size_t longest = 0;
  for (const char *end = p + n; p < end;) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t len = (size_t)((nl != NULL ? nl : end) - p);
    if (len > longest) longest = len;
    p += len + 1;
  }
  return longest;
}

/* "P...;frame;...;frame METRIC": the metric digits, commas or minus
 * signs after the last space, and a frame between every two ';'. */
static void check_sample(const char *line, size_t len) {
  const char *sp = memrchr(line, ' ', len);
  resolve_require(T, sp != NULL && sp + 1 < line + len, "a sample without a metric");
  size_t mlen = (size_t)(line + len - (sp + 1));
  for (size_t i = 0; i < mlen; i++)
    resolve_require(T, sp[1 + i] != '\0' && strchr("0123456789,-", sp[1 + i]) != NULL,
                    "a metric that is not a number");
  resolve_require(T, memmem(line, (size_t)(sp - line), ";;", 2) == NULL && sp[-1] != ';',
                  "an empty frame in a sample");
}

struct span {
  const char *p;
  size_t len;
};

/* The ';' fields of a sample before its metric (P, T, then frames),
 * and the metric from the last space on. */
static size_t fields(const char *line, size_t len, struct span *v, struct span *metric) {
  const char *sp = memrchr(line, ' ', len);
  *metric = (struct span){sp, (size_t)(line + len - sp)};
  size_t n = 0;
  for (const char *p = line; p <= sp;) {
    const char *semi = memchr(p, ';', (size_t)(sp - p));
    const char *end = semi != NULL ? semi : sp;
    v[n++] = (struct span){p, (size_t)(end - p)};
    p = end + 1;
  }
  return n;
}

static int same(struct span a, struct span b) {
  return a.len == b.len && memcmp(a.p, b.p, a.len) == 0;
}

static int native(struct span f) {
  size_t k = strlen(SESSION_NATIVE);
  return f.len > k && memcmp(f.p, SESSION_NATIVE, k) == 0;
}

/* The frames of a that are native (or not: want_native), in order,
 * among those of b. */
static int subsequence(const struct span *a, size_t na, const struct span *b, size_t nb,
                       int want_native) {
  size_t j = 0;
  for (size_t i = 0; i < na; i++) {
    if (native(a[i]) != want_native) continue;
    while (j < nb && !same(a[i], b[j])) j++;
    if (j++ == nb) return 0;
  }
  return 1;
}

/* A sample out for a sample in: the same process, thread and metric;
 * every frame but a native one kept, in order; each native one kept as
 * it was or made one frame or more. */
static void check_sample_of(const char *in, size_t ilen, const char *out, size_t olen) {
  struct span *a = malloc((ilen + 1) * sizeof *a), *b = malloc((olen + 1) * sizeof *b);
  resolve_require(T, a != NULL && b != NULL, "no memory for the check");
  struct span ma, mb;
  size_t na = fields(in, ilen, a, &ma), nb = fields(out, olen, b, &mb);
  resolve_require(T, same(ma, mb), "a sample's metric changed");
  resolve_require(T, na >= 2 && nb >= na && same(a[0], b[0]) && same(a[1], b[1]),
                  "a sample's process or thread changed, or frames lost");
  resolve_require(T, subsequence(a + 2, na - 2, b + 2, nb - 2, 0), "a frame not native changed");
  resolve_require(T, subsequence(b + 2, nb - 2, a + 2, na - 2, 1), "a native frame made up");
  free(a);
  free(b);
}

static void check_output(const uint8_t *data, size_t size, const struct resolve_pass *p) {
  const char *in = (const char *)data, *in_end = in + size;
  resolve_require(T, count(in, size, '\n') == count(p->out, p->len, '\n'),
                  "not one line out for each line in");
  resolve_require(T, count(p->out, p->len, '\r') <= count(in, size, '\r'),
                  "a carriage return made up by the resolution");
  resolve_require(T, p->len == 0 || p->out[p->len - 1] == '\n', "a last line cut short");
  for (const char *line = p->out; line < p->out + p->len;) {
    const char *nl = memchr(line, '\n', (size_t)(p->out + p->len - line));
    const char *in_nl = memchr(in, '\n', (size_t)(in_end - in));
    size_t len = (size_t)(nl - line), in_len = (size_t)(in_nl - in);
    if (len > 0 && line[0] != '#') {
      resolve_require(T, line[0] == 'P', "a line neither a sample, a comment nor blank");
      check_sample(line, len);
      check_sample_of(in, in_len, line, len);
    } else {
      resolve_require(T, len == in_len && memcmp(line, in, len) == 0,
                      "a line other than a sample changed");
    }
    line = nl + 1;
    in = in_nl + 1;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct resolve_pass first;
  resolve_pass(T, text_detect, text_resolve, data, size, &first);
  /* For run-replay's check that the seeds resolve. */
  if (getenv("FUZZ_RESOLVE_PRINT") != NULL && first.kind == E_OK) {
    fwrite(first.out, 1, first.len, stdout);
    fflush(stdout);
  }
  if (first.kind == E_OK) {
    check_output(data, size, &first);
    struct resolve_pass again;
    resolve_pass(T, text_detect, text_resolve, (const uint8_t *)first.out, first.len, &again);
    /* Resolved frames may make a line longer than the reader takes. */
    if (longest_line(first.out, first.len) <= RIN_LINE_MAX) {
      resolve_require(T, again.kind == E_OK, "the output does not read as a profile");
      resolve_require(T, again.len == first.len && memcmp(again.out, first.out, first.len) == 0,
                      "resolving the output again changed it");
    }
    free(again.out);
  }
  free(first.out);
  return 0;
}
