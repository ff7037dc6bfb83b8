/* Fuzz target: the interpreter reader over a hostile memory image.
 *
 * The input is an image file (py_image.h), as capture-image records from a
 * real process; the fuzzer mutates it (thread states, frames, code
 * objects, strings, line tables, _Py_DebugOffsets, the header). The reader
 * runs as both samplers use it: austin's walk of every thread, then
 * austinp's list of threads and walk of each. Every sample must end with
 * frames or the invalid marker, hold readable names, and make exactly one
 * line of text output; anything else aborts, which the fuzzer reports.
 * Hangs and unbounded allocations are caught by the fuzzer's -timeout and
 * -rss_limit_mb / -malloc_limit_mb. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit.h"
#include "py_image.h"
#include "py_walk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define THREADS_LISTED 64

struct check {
  struct emitter *e;
  unsigned samples;
};

static void require(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "fuzz_reader: %s\n", what);
    abort();
  }
}

/* No byte of a name may end or split an output line. */
static int printable(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f) return 0;
  return 1;
}

static void check_sample(const struct sample *s) {
  require(s->nframes <= SAMPLE_MAX_FRAMES, "more frames than a sample holds");
  require(!s->truncated || s->invalid, "a truncated sample not marked invalid");
  for (unsigned i = 0; i < s->nframes; i++) {
    const struct sample_frame *f = &s->frames[i];
    require(f->kind == FRAME_PYTHON, "a Python walk made a non-Python frame");
    require(f->filename != NULL && f->name != NULL, "a frame without names");
    require(printable(f->filename) && printable(f->name), "a control character in a name");
  }
}

static int on_sample(struct sample *s, void *ctx) {
  struct check *c = ctx;
  check_sample(s);
  emit_sample(c->e, s);
  c->samples++;
  return 0;
}

/* The layout as the samplers choose it: from the image's own
 * _Py_DebugOffsets (3.13+) or from the tables. */
static int layout_of(struct remote *r, const struct py_image *im, struct py_runtime *rt) {
  memset(rt, 0, sizeof *rt);
  rt->major = im->major;
  rt->minor = im->minor;
  rt->runtime_addr = im->runtime_addr;
  rt->code_type_addr = im->code_type_addr;
  if (py_debug_offsets_map_for(im->major, im->minor) != NULL)
    return py_layout_from_debug_offsets(r, im->runtime_addr, im->major, im->minor,
                                        &rt->layout, NULL);
  const struct py_layout *l = py_layout_for(im->major, im->minor);
  if (l == NULL || im->minor >= 13) return -1;
  rt->layout = *l;
  return 0;
}

/* austinp's way: list the threads, then walk each. */
static void walk_listed(struct py_walker *w, struct sample *s, struct check *c) {
  struct py_thread_ref refs[THREADS_LISTED];
  int n = py_walk_list_threads(w, refs, THREADS_LISTED);
  require(n <= THREADS_LISTED, "more threads listed than asked for");
  for (int i = 0; i < n; i++) {
    if (py_walk_thread(w, &refs[i], s) == 0) on_sample(s, c);
    py_code_cache_sweep(&w->codes);
  }
}

/* Walk the image both ways; returns the number of samples emitted. */
static unsigned run(struct remote *r, const struct py_image *im, FILE *out) {
  struct py_runtime rt;
  struct check c = {NULL, 0};
  if (layout_of(r, im, &rt) != 0) return 0;
  struct py_walker w;
  static struct sample s;
  struct emitter e;
  if (py_walker_init(&w, r, &rt) == 0 && emit_open(&e, EMIT_FORMAT_TEXT, out,
                                                   EMIT_METRIC_TIME, false) == 0) {
    /* No live process: the tid's place in struct pthread comes from the
     * image (its own, if plausible). */
    w.tids.tid_offset = im->tid_offset >= 0 && im->tid_offset < 4096 ? im->tid_offset : 0;
    w.want_gc = true;
    w.want_gil = true;
    c.e = &e;
    py_walk_all(&w, &s, on_sample, &c);
    walk_listed(&w, &s, &c);
    fflush(out);
    emit_close(&e);
  }
  py_walker_free(&w);
  return c.samples;
}

/* Lines of output: one per sample, each ended by its newline. */
static unsigned lines(const char *text, size_t len) {
  unsigned n = 0;
  for (size_t i = 0; i < len; i++) n += text[i] == '\n';
  return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct py_image im;
  if (py_image_parse(data, size, &im) != 0) return 0;
  struct remote *r = remote_open_image(im.ranges, im.nranges);
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  require(r != NULL && out != NULL, "out of memory");
  unsigned samples = run(r, &im, out);
  fclose(out);
  require(lines(text, len) == samples, "a sample did not make exactly one line");
  /* For the seed check of run-replay: what the image reads as. */
  if (getenv("FUZZ_READER_PRINT") != NULL) fwrite(text, 1, len, stdout);
  free(text);
  remote_close(r);
  py_image_free(&im);
  return 0;
}
