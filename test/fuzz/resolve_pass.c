#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "resolve_pass.h"

void resolve_require(const char *target, int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "%s: %s\n", target, what);
    abort();
  }
}

/* The input and the output files, in memory, made once: the reader opens
 * them by name (/proc/self/fd/N), as it opens a file given to it. */
static int in_fd = -1, out_fd = -1;
static char in_path[64], out_path[64];
static FILE *devnull;

static void setup(const char *target) {
  if (in_fd >= 0) return;
  error_progname = "austinp-resolve";
  in_fd = memfd_create("fuzz-in", MFD_CLOEXEC);
  out_fd = memfd_create("fuzz-out", MFD_CLOEXEC);
  devnull = fopen("/dev/null", "w");
  resolve_require(target, in_fd >= 0 && out_fd >= 0 && devnull != NULL, "no memfd or /dev/null");
  snprintf(in_path, sizeof in_path, "/proc/self/fd/%d", in_fd);
  snprintf(out_path, sizeof out_path, "/proc/self/fd/%d", out_fd);
}

static void put_input(const char *target, const uint8_t *data, size_t size) {
  resolve_require(target, ftruncate(in_fd, 0) == 0, "cannot empty the input");
  size_t done = 0;
  while (done < size) {
    ssize_t n = pwrite(in_fd, data + done, size - done, (off_t)done);
    resolve_require(target, n > 0, "cannot write the input");
    done += (size_t)n;
  }
}

static void get_output(const char *target, struct resolve_pass *p) {
  struct stat st;
  resolve_require(target, fstat(out_fd, &st) == 0, "cannot stat the output");
  p->len = (size_t)st.st_size;
  p->out = malloc(p->len + 1);
  resolve_require(target, p->out != NULL, "no memory for the output");
  size_t done = 0;
  while (done < p->len) {
    ssize_t n = pread(out_fd, p->out + done, p->len - done, (off_t)done);
    resolve_require(target, n > 0, "cannot read the output back");
    done += (size_t)n;
  }
  p->out[p->len] = '\0';
}

void resolve_pass(const char *target, resolve_detect detect, resolve_reader reader,
                  const uint8_t *data, size_t size, struct resolve_pass *p) {
  setup(target);
  put_input(target, data, size);
  struct rin in;
  struct rout out;
  resolve_require(target, rin_open(&in, in_path) == 0, "cannot open the input");
  resolve_require(target, rout_open(&out, out_path) == 0, "cannot open the output");
  struct resolver *r = resolver_new(NULL);
  resolve_require(target, r != NULL, "no resolver");
  struct session s;
  session_init(&s, r);
  /* As austinp-resolve.c's detect(): the readers start after it. */
  const char *head;
  size_t n = rin_peek(&in, 16, &head);
  p->kind = detect(head, n) ? reader(&in, &out, &s) : E_MALFORMED_INPUT;
  resolve_require(target, rout_close(&out) == 0, "cannot write the output");
  resolve_require(target, p->kind == E_OK || p->kind == E_MALFORMED_INPUT,
                  "an error other than malformed input");
  resolve_require(target, p->kind == E_OK || error_status(p->kind) == 65,
                  "malformed input without status 65");
  resolve_require(target, s.frames == s.lines + s.names + s.kept,
                  "native frames miscounted in the summary");
  if (p->kind == E_OK) session_summary(&s, devnull, target);
  session_free(&s);
  resolver_free(r);
  rin_close(&in);
  get_output(target, p);
}
