/* The walker: interpreters -> threads -> frames, one sample per thread.
 *
 * Reads only through the remote, with every chain bounded: a cycle, a bad
 * pointer or an absurd value ends the thread's sample as invalid. */
#ifndef PY_WALK_H
#define PY_WALK_H

#include <stdbool.h>

#include "py_code.h"
#include "py_discover.h"
#include "remote.h"
#include "sample.h"
#include "thread_ids.h"

#define PY_WALK_MAX_INTERPRETERS 256
#define PY_WALK_MAX_THREADS 8192
/* Extra reads of a thread whose chain changed while it was read. */
#define PY_WALK_RETRIES 2

/* -h: frames of one chain whose pages are learned, and the page size. */
#define PY_WALK_HEAP_SEEN 256
#define PY_WALK_HEAP_PAGE 4096u

/* A Python frame found on the chain, before its code object is read. */
struct py_frame_ref {
  uint64_t code;
  int64_t offset;          /* byte offset of the current instruction */
  bool entry;              /* first frame of an evaluation-loop run */
};

struct py_walker {
  struct remote *r;
  const struct py_runtime *rt;
  struct py_code_cache codes;
  struct thread_ids tids;
  bool want_idle;          /* read each thread's scheduler state */
  bool want_gc;            /* read whether each interpreter's GC collects */
  bool want_gil;           /* read who holds each interpreter's GIL (-m, -f) */
  /* Scratch space for one thread: the frames of its chain and the heads
   * of their code objects, read in batches. */
  struct py_frame_ref *refs;
  uint8_t *heads;
  size_t head_len;
  /* 3.11+: a copy of the used part of the thread's current data-stack
   * chunk, where its frames live, taken with one read. */
  uint8_t *chunk;
  uint64_t chunk_lo, chunk_hi;
  /* -h, for frame objects (3.8-3.10), which lie among the heap's other
   * objects: the pages where the frames of the last chains lay are
   * copied in one batched read before each chain, into `chunk` (at most
   * heap_max bytes), so that a chain costs one system call and is read at
   * one instant. The pages are learned from the chains read. */
  size_t heap_max;
  struct py_heap_run {
    uint64_t lo, hi;   /* page-aligned */
    size_t off;        /* where its copy starts in chunk */
  } runs[REMOTE_IOV_MAX];
  size_t nruns;        /* runs to copy (learned) */
  size_t ncopied;      /* runs copied for the chain being read */
  uint64_t seen[PY_WALK_HEAP_SEEN]; /* frames of the chain being read */
  size_t nseen;
  unsigned learned;    /* chains learned from, to forget old pages */
};

/* Largest data-stack chunk copied in one read; frames beyond are read one
 * by one. */
#define PY_WALK_CHUNK_MAX (256u << 10)

/* Called for every thread; a non-zero return stops the walk. The sample
 * is the caller's scratch space: the callback may add to it (metrics). */
typedef int (*py_sample_cb)(struct sample *s, void *ctx);

/* 0 on success, -1 when out of memory. */
int py_walker_init(struct py_walker *w, struct remote *r,
                   const struct py_runtime *rt);
void py_walker_free(struct py_walker *w);

/* Allow frame-object snapshots of up to `bytes` (-h; 0 turns them off).
 * Without effect from 3.11, whose frames are copied from the data stack
 * anyway. 0 on success, -1 when out of memory. */
int py_walker_set_heap(struct py_walker *w, size_t bytes);

/* True when the runtime has at least one interpreter with a thread. */
bool py_walker_ready(struct py_walker *w);

/* Sample every thread of every interpreter into `s` (scratch space the
 * caller owns; it is large) and call cb for each. Returns the number of
 * threads sampled, or -1 when the runtime itself cannot be read (the
 * process is gone or its memory is not what we expect). */
int py_walk_all(struct py_walker *w, struct sample *s, py_sample_cb cb,
                void *ctx);

/* A thread of the target as the interpreter knows it. */
struct py_thread_ref {
  uint64_t tstate;  /* address of its PyThreadState */
  int64_t iid;      /* interpreter id */
  uint64_t tid;     /* Linux thread id */
};

/* List the started threads of every interpreter (no frames read).
 * Returns how many (at most max), or -1 when the runtime is unreadable. */
int py_walk_list_threads(struct py_walker *w, struct py_thread_ref *out, int max);

/* Sample one thread (its Python frames, root first, with entry marks)
 * into s. 0 on success, -1 when its state cannot be read. The caller
 * sweeps the code cache (py_code_cache_sweep) once s has been used. */
int py_walk_thread(struct py_walker *w, const struct py_thread_ref *t,
                   struct sample *s);

#endif
