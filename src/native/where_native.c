/* austinp's where mode: capture all, detach, then think. */
#define _GNU_SOURCE
#include "where_native.h"

#include <errno.h>
#include <malloc.h>
#include <sys/mman.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture.h"
#include "clock.h"
#include "native_run.h"
#include "errors.h"
#include "proc_stat.h"
#include "resolver.h"
#include "target.h"

/* A thread that is not in a system call stops at once; one that is in an
 * uninterruptible wait may take long: where mode waits more than the
 * sampler, since it stops each thread once. */
#define WHERE_STOP_TIMEOUT_US 200000
#define WHERE_MAX_THREADS 4096
#define WHERE_MAX_NATIVE 512
#define WHERE_MAX_WOVEN (WHERE_MAX_NATIVE + SAMPLE_MAX_FRAMES)

#define C_RESET "\033[0m"
#define C_BOLD "\033[1m"
#define C_DIM "\033[2m"
#define C_GREEN "\033[32m"
#define C_YELLOW "\033[33m"
#define C_MAGENTA "\033[35m"
#define C_CYAN "\033[36m"
#define C_RED "\033[31m"

struct wthread {
  struct capture cap;
  struct sample *py; /* NULL for a thread unknown to the interpreter */
  int64_t iid;
};

/* One process of the tree, its threads captured. */
struct wproc {
  struct native_session *s;
  struct wthread *threads;
  size_t nthreads;
};

struct where {
  const struct options *o;
  FILE *out;
  bool color;
  struct native_run run;
  struct wproc procs[PROC_SET_MAX];
  size_t nprocs;
  struct wproc *cur;        /* the process being shown */
  struct resolver *local, *in_root; /* paths as we see them; under /proc/PID/root */
  char root[64];
  uint64_t pcs[WHERE_MAX_NATIVE];
  struct native_frame native[WHERE_MAX_NATIVE];
  struct woven_frame woven[WHERE_MAX_WOVEN];
};

static const char *c(const struct where *wh, const char *code) { return wh->color ? code : ""; }

/* ---- capture ------------------------------------------------------------ */

static const struct py_thread_ref *find_ref(const struct py_thread_ref *refs, int n, pid_t tid) {
  for (int i = 0; i < n; i++)
    if ((pid_t)refs[i].tid == tid) return &refs[i];
  return NULL;
}

/* Every thread of one process, one after the other: stopped only while
 * captured. (A child between fork and exec lists its parent's threads:
 * only those of its own are found among the tids.) */
static void capture_process(struct where *wh, struct wproc *wp) {
  static struct py_thread_ref refs[WHERE_MAX_THREADS];
  static pid_t tids[WHERE_MAX_THREADS];
  struct native_session *s = wp->s;
  int nrefs = py_walk_list_threads(&s->p->w, refs, WHERE_MAX_THREADS);
  if (nrefs < 0) nrefs = 0;
  size_t n = ptrace_set_process_threads(wh->run.ps, s->p->pid, tids, WHERE_MAX_THREADS);
  wp->threads = calloc(n ? n : 1, sizeof *wp->threads);
  if (wp->threads == NULL) return;
  for (size_t i = 0; i < n; i++) {
    struct wthread *th = &wp->threads[wp->nthreads];
    const struct py_thread_ref *ref = find_ref(refs, nrefs, tids[i]);
    if (ref != NULL && (th->py = malloc(sizeof *th->py)) == NULL) ref = NULL;
    th->iid = ref ? ref->iid : -1;
    /* A thread that does not stop still shows its Python frames, read
     * as austin reads them. */
    capture_thread(&s->cap, tids[i], ref, th->py, WHERE_STOP_TIMEOUT_US, true, &th->cap);
    wp->nthreads++;
  }
}

/* With -C, the descendants first (found and traced now), then every
 * process, the target first. */
static void capture_all(struct where *wh) {
  native_run_refresh(&wh->run, clock_us());
  for (size_t i = 0; i < wh->run.n; i++) {
    struct wproc *wp = &wh->procs[wh->nprocs++];
    wp->s = wh->run.s[i];
    capture_process(wh, wp);
  }
}

/* ---- resolution --------------------------------------------------------- */

/* The resolver that can open a file the target names by path: the file
 * under the target's root (a container's), or as we see it (a target
 * chrooted below us shows paths of our root in its maps). */
static struct resolver *resolver_for(struct where *wh, const char *path) {
  char buf[4200];
  struct stat st;
  snprintf(buf, sizeof buf, "%s%s", wh->root, path);
  if (wh->in_root != NULL && stat(buf, &st) == 0) return wh->in_root;
  return wh->local;
}

struct frame_print {
  struct where *wh;
  const char *binary; /* shown when the source file is not known */
  const char *name;   /* the sampler's name, for a frame DWARF does not name */
  unsigned count;
};

static void print_resolved(void *arg, const struct resolver_frame *f) {
  struct frame_print *fp = arg;
  struct where *wh = fp->wh;
  fprintf(wh->out, "      %sC%s  %s%s%s", c(wh, C_GREEN), c(wh, C_RESET), c(wh, C_BOLD),
          f->function ? f->function : fp->name ? fp->name : "??", c(wh, C_RESET));
  if (f->file != NULL)
    fprintf(wh->out, "  %s(%s:%u)%s", c(wh, C_DIM), f->file, f->line, c(wh, C_RESET));
  else
    fprintf(wh->out, "  %s(%s)%s", c(wh, C_DIM), fp->binary, c(wh, C_RESET));
  if (fp->count++ > 0) fprintf(wh->out, "  %s[inlined]%s", c(wh, C_YELLOW), c(wh, C_RESET));
  fputc('\n', wh->out);
}

/* One native frame: its function and source line through the resolver,
 * one line per inlined function; else its name (the symbol that holds
 * it, or its module and function start: func_syms.h) and the file. */
static void print_native(struct where *wh, const struct native_frame *f, bool leaf) {
  const char *path = NULL;
  uint64_t start = 0;
  /* A special mapping ("[vdso]", read from the target's memory) is no
   * file the resolver could open: its symbol is all there is. */
  if (unwinder_mapping(wh->cur->s->u, f->pc, &path, &start, NULL, NULL) == 0 && path != NULL &&
      path[0] != '[') {
    struct resolver *r = resolver_for(wh, path);
    struct frame_print fp = {wh, path, f->name, 0};
    if (r != NULL && resolver_frames(r, path, start, f->pc, !leaf, print_resolved, &fp) > 0)
      return;
  }
  fprintf(wh->out, "      %sC%s  ", c(wh, C_GREEN), c(wh, C_RESET));
  if (f->name != NULL)
    fprintf(wh->out, "%s%s%s+0x%" PRIx64, c(wh, C_BOLD), f->name, c(wh, C_RESET), f->offset);
  else
    fprintf(wh->out, "0x%" PRIx64, f->pc);
  fprintf(wh->out, "  %s(%s)%s\n", c(wh, C_DIM), path ? path : "?", c(wh, C_RESET));
}

static void print_python(struct where *wh, const struct sample_frame *f) {
  fprintf(wh->out, "      %sPy%s %s%s%s  %s(%s:%d)%s\n", c(wh, C_CYAN), c(wh, C_RESET),
          c(wh, C_BOLD), f->name, c(wh, C_RESET), c(wh, C_DIM), f->filename, f->line,
          c(wh, C_RESET));
}

static void print_kernel(struct where *wh, const struct capture *cap) {
  if (!cap->kstack_ok) return;
  for (size_t i = cap->kstack.n; i-- > 0;)
    fprintf(wh->out, "      %sK%s  %s%s%s\n", c(wh, C_MAGENTA), c(wh, C_RESET), c(wh, C_MAGENTA),
            cap->kstack.names[i], c(wh, C_RESET));
}

/* libbfd reads the DWARF of each file it resolves into memory it
 * allocates (tens of MiB for an interpreter built with -g) and builds its
 * tables there: on a virtual machine the first touch of each 4 KiB page
 * costs more than the reading itself. Serve those allocations from one
 * heap region that the kernel may back with 2 MiB pages (MADV_HUGEPAGE:
 * transparent huge pages in their default "madvise" mode): measured here,
 * 18,000 page faults become 3,000 and where mode takes half the time. */
#define HUGE_HEAP_BYTES (96u << 20)
static void heap_prefer_huge_pages(void) {
  mallopt(M_MMAP_THRESHOLD, 256 << 20); /* large buffers from the heap too */
  mallopt(M_TRIM_THRESHOLD, 512 << 20); /* and the heap kept, once grown */
  mallopt(M_TOP_PAD, 16 << 20);
  char *p = malloc(HUGE_HEAP_BYTES);
  if (p == NULL) return;
  uintptr_t lo = ((uintptr_t)p + (2u << 20) - 1) & ~(uintptr_t)((2u << 20) - 1);
  uintptr_t hi = ((uintptr_t)p + HUGE_HEAP_BYTES) & ~(uintptr_t)((2u << 20) - 1);
  if (hi > lo) madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
  free(p);
}

/* ---- output ------------------------------------------------------------- */

static void print_thread_head(struct where *wh, const struct wthread *th) {
  char comm[64] = "";
  ssize_t n = proc_task_read(wh->cur->s->p->pid, th->cap.tid, "comm", comm, sizeof comm);
  if (n > 0 && comm[n - 1] == '\n') comm[n - 1] = '\0';
  const struct capture *cap = &th->cap;
  const char *state = !cap->stopped ? "not stopped (no native frames)"
                      : cap->in_wait ? "idle"
                                     : "running";
  fprintf(wh->out, "\n  %sThread %d%s  %s\"%s\"%s  %s%s%s", c(wh, C_BOLD), (int)cap->tid,
          c(wh, C_RESET), c(wh, C_DIM), comm, c(wh, C_RESET),
          c(wh, !cap->stopped ? C_RED : cap->in_wait ? C_YELLOW : C_GREEN), state,
          c(wh, C_RESET));
  if (th->py != NULL) fprintf(wh->out, "  %sinterpreter %" PRId64 "%s", c(wh, C_DIM), th->iid, c(wh, C_RESET));
  fputc('\n', wh->out);
}

static void print_woven(struct where *wh, int nw) {
  for (int i = 0; i < nw; i++) {
    const struct woven_frame *f = &wh->woven[i];
    if (f->kind == WOVEN_PYTHON) print_python(wh, f->py);
    else print_native(wh, f->native, f->native == &wh->native[0]);
  }
}

/* A native stack that stops short of its root, with the Python frames:
 * those of the runs it did not reach, where it stopped, and what it
 * reached, woven when the runs allow (as the sampler writes it). */
static void print_stopped(struct where *wh, const struct sample *s, int n, enum unwind_stop why) {
  int outer = 0;
  int nw = weave_partial(wh->native, n, s->frames, (int)s->nframes, wh->woven, WHERE_MAX_WOVEN,
                         &outer);
  if (nw < 0) outer = (int)s->nframes;
  for (int i = 0; i < outer; i++) print_python(wh, &s->frames[i]);
  fprintf(wh->out, "      %s(native unwinding stopped here: %s)%s\n", c(wh, C_RED),
          unwind_stop_name(why), c(wh, C_RESET));
  if (nw >= 0) print_woven(wh, nw);
  else
    for (int i = n - 1; i >= 0; i--) print_native(wh, &wh->native[i], i == 0);
}

/* Root first, as a traceback reads: the woven stack when the Python
 * frames fit the native ones, else both, apart. */
static void print_thread(struct where *wh, const struct wthread *th) {
  print_thread_head(wh, th);
  enum unwind_stop why;
  int n = capture_native_stack_why(wh->cur->s->u, &th->cap, wh->pcs, wh->native,
                                   WHERE_MAX_NATIVE, &why);
  bool complete = why == UNWIND_COMPLETE && n > 0;
  const struct sample *s = th->py != NULL && th->cap.py_rc == 0 ? th->py : NULL;
  if (!complete && th->cap.stopped && s != NULL && !s->invalid && (n > 0 || s->nframes > 0)) {
    print_stopped(wh, s, n, why);
    print_kernel(wh, &th->cap);
    return;
  }
  int nw = s != NULL && !s->invalid && n > 0
               ? weave(wh->native, n, s->frames, (int)s->nframes, wh->woven, WHERE_MAX_WOVEN)
               : -1;
  if (nw >= 0) {
    for (int i = 0; i < nw; i++) {
      const struct woven_frame *f = &wh->woven[i];
      if (f->kind == WOVEN_PYTHON) print_python(wh, f->py);
      else print_native(wh, f->native, f->native == &wh->native[0]);
    }
  } else {
    for (int i = n - 1; i >= 0; i--) print_native(wh, &wh->native[i], i == 0);
    if (s != NULL && s->nframes > 0) {
      if (n > 0)
        fprintf(wh->out, "      %s(the Python frames below could not be woven in)%s\n",
                c(wh, C_RED), c(wh, C_RESET));
      for (unsigned i = 0; i < s->nframes; i++) print_python(wh, &s->frames[i]);
    }
  }
  if (!complete && n > 0)
    fprintf(wh->out, "      %s(the native stack could not be unwound to its end: %s)%s\n",
            c(wh, C_RED), unwind_stop_name(why), c(wh, C_RESET));
  if (s != NULL && s->invalid)
    fprintf(wh->out, "      %s:INVALID: (the Python stack could not be read to its end)%s\n",
            c(wh, C_RED), c(wh, C_RESET));
  print_kernel(wh, &th->cap);
}

/* ---- teardown ----------------------------------------------------------- */

static void free_threads(struct wproc *wp) {
  for (size_t i = 0; i < wp->nthreads; i++) {
    capture_free(&wp->threads[i].cap);
    free(wp->threads[i].py);
  }
  free(wp->threads);
}

/* One process: its head line (with -C, marked parent or child, as austin
 * marks them), then its threads. */
static void print_process(struct where *wh, struct wproc *wp) {
  const struct py_runtime *rt = &wp->s->p->rt;
  wh->cur = wp;
  if (wp != &wh->procs[0]) fputc('\n', wh->out);
  fprintf(wh->out, "%sProcess %d%s", c(wh, C_BOLD), (int)rt->pid, c(wh, C_RESET));
  if (wh->o->children) fprintf(wh->out, " (%s)", wp->s->p->child ? "child" : "parent");
  fprintf(wh->out, "  Python %s  %s%s%s\n", rt->version, c(wh, C_DIM), rt->path, c(wh, C_RESET));
  /* No sweep of the code cache until the end: every thread's frames name
   * its strings. */
  for (size_t i = 0; i < wp->nthreads; i++) print_thread(wh, &wp->threads[i]);
}

int where_native(const struct options *o) {
  static struct where wh;
  char why[512] = "";
  wh.o = o;
  wh.out = stdout;
  wh.color = isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL;
  enum error_kind kind = native_run_start(&wh.run, o, why, sizeof why);
  if (kind != E_OK) return error_report(kind, "%s", why);
  capture_all(&wh);
  /* The target first: running and untraced before we resolve anything. */
  native_run_detach(&wh.run);

  heap_prefer_huge_pages();
  /* The files of the processes shown: under the target's root, or under
   * its first Python descendant's when the target is a launcher. */
  pid_t rooted = wh.run.children_only && wh.nprocs > 0 ? wh.procs[0].s->p->pid : wh.run.t.pid;
  snprintf(wh.root, sizeof wh.root, "/proc/%d/root", (int)rooted);
  wh.local = resolver_new(NULL);
  wh.in_root = resolver_new(wh.root);
  for (size_t i = 0; i < wh.nprocs; i++) print_process(&wh, &wh.procs[i]);
  int status = 0;
  if (fflush(wh.out) != 0 && errno != EPIPE)
    status = error_report(E_OUTPUT, "cannot write the output: %s", strerror(errno));
  for (size_t i = 0; i < wh.nprocs; i++) free_threads(&wh.procs[i]);
  resolver_free(wh.local);
  resolver_free(wh.in_root);
  native_run_end(&wh.run, false);
  return status;
}
