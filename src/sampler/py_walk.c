#include <stdlib.h>
#include <string.h>

#include "py_gil.h"
#include "py_walk.h"

int py_walker_init(struct py_walker *w, struct remote *r,
                   const struct py_runtime *rt) {
  memset(w, 0, sizeof *w);
  w->r = r;
  w->rt = rt;
  py_code_cache_init(&w->codes);
  thread_ids_init(&w->tids, rt->pid);
  w->head_len = py_code_head_length(&rt->layout);
  w->refs = calloc(SAMPLE_MAX_FRAMES, sizeof *w->refs);
  w->heads = calloc(REMOTE_IOV_MAX, w->head_len);
  if (rt->layout.tstate_datastack_top >= 0) w->chunk = malloc(PY_WALK_CHUNK_MAX);
  return w->refs != NULL && w->heads != NULL &&
                 (w->chunk != NULL || rt->layout.tstate_datastack_top < 0)
             ? 0
             : -1;
}

void py_walker_free(struct py_walker *w) {
  py_code_cache_free(&w->codes);
  free(w->refs);
  free(w->heads);
  free(w->chunk);
  w->refs = NULL;
  w->heads = NULL;
  w->chunk = NULL;
}

int py_walker_set_heap(struct py_walker *w, size_t bytes) {
  if (w->rt->layout.tstate_datastack_chunk >= 0) return 0;
  free(w->chunk);
  w->chunk = NULL;
  w->heap_max = 0;
  w->nruns = w->ncopied = w->nseen = 0;
  if (bytes == 0) return 0;
  /* Pages never copied into stay unbacked: the cost is what is used. */
  if ((w->chunk = malloc(bytes)) == NULL) return -1;
  w->heap_max = bytes;
  return 0;
}

static uint64_t u64_at(const uint8_t *buf, int32_t off) {
  uint64_t v;
  memcpy(&v, buf + off, sizeof v);
  return v;
}

static int32_t max_offset(const int32_t *offs, size_t n) {
  int32_t m = 0;
  for (size_t i = 0; i < n; i++)
    if (offs[i] > m) m = offs[i];
  return m;
}

static uint64_t first_interpreter(struct py_walker *w) {
  uint64_t interp = 0;
  remote_read_u64(w->r,
                  w->rt->runtime_addr + w->rt->layout.runtime_interpreters_head,
                  &interp);
  return interp;
}

bool py_walker_ready(struct py_walker *w) {
  uint64_t interp = first_interpreter(w), head = 0;
  if (interp == 0) return false;
  remote_read_u64(w->r, interp + w->rt->layout.interp_threads_head, &head);
  return head != 0;
}

/* Byte offset of the current instruction in the code's bytecode. */
static int64_t instruction_offset(const struct py_layout *l, const uint8_t *fr,
                                  uint64_t code) {
  if (l->frames == FRAMES_OBJECT_LNOTAB || l->frames == FRAMES_OBJECT_LINETABLE) {
    int32_t lasti;
    memcpy(&lasti, fr + l->frame_instr, sizeof lasti);
    return l->frames == FRAMES_OBJECT_LINETABLE ? (int64_t)lasti * 2 : lasti;
  }
  uint64_t instr = u64_at(fr, l->frame_instr);
  return (int64_t)(instr - (code + (uint64_t)l->code_adaptive));
}

/* Is this frame one the interpreter runs Python code in? Shim frames that
 * mark C-stack entries (3.12+) and sentinels are not. */
static bool is_python_frame(const struct py_layout *l, const uint8_t *fr) {
  if (l->frame_owner < 0) return true;
  uint8_t owner = fr[l->frame_owner];
  if (l->frames == FRAMES_INTERP_311) return true;
  return owner < 3;
}

/* Can this frame be the last of a thread's chain? 3.11 marks the first
 * frame of each evaluation-loop entry (a resumed generator's too, but a
 * thread never starts in one); 3.12+ pushes a shim frame with owner 3 or
 * more there, and 3.15 also ends every chain on a sentinel base frame. */
static bool is_chain_bottom(const struct py_layout *l, const uint8_t *fr) {
  switch (l->frames) {
  case FRAMES_INTERP_311:
    return fr[l->frame_is_entry] != 0 && fr[l->frame_owner] == 0;
  case FRAMES_INTERP_312:
  case FRAMES_INTERP_313:
    return fr[l->frame_owner] >= 3;
  default:
    return true;
  }
}

/* Before 3.11 a frame says whether it is executing: every frame of a live
 * chain below the innermost is. One that is not (a generator that yielded,
 * a frame that returned) means the chain changed under us. */
static bool is_executing(const struct py_layout *l, const uint8_t *fr) {
  if (l->frame_state < 0) return true;
  int8_t state = (int8_t)fr[l->frame_state];
  return l->frames == FRAMES_OBJECT_LINETABLE ? state == 0 : state != 0;
}

/* The part of a frame we read: up to the last field we need. */
static size_t frame_head_length(const struct py_layout *l) {
  int32_t offs[] = {l->frame_previous, l->frame_code, l->frame_instr,
                    l->frame_owner, l->frame_is_entry, l->frame_state};
  return (size_t)max_offset(offs, sizeof offs / sizeof *offs) + 8;
}

/* -h: copy the learned pages of frame objects in one batched read; the
 * runs read completely, from the first, are served by read_frame. */
static void heap_snapshot(struct py_walker *w) {
  w->nseen = 0;
  w->ncopied = 0;
  if (w->nruns == 0) return;
  struct remote_iov iov[REMOTE_IOV_MAX];
  for (size_t i = 0; i < w->nruns; i++)
    iov[i] = (struct remote_iov){w->runs[i].lo, w->chunk + w->runs[i].off,
                                 w->runs[i].hi - w->runs[i].lo};
  int got = remote_readv(w->r, iov, w->nruns);
  w->ncopied = got > 0 ? (size_t)got : 0;
}

/* The copy of [addr, addr + len) when a copied run holds all of it. */
static const uint8_t *heap_find(const struct py_walker *w, uint64_t addr, size_t len) {
  for (size_t i = 0; i < w->ncopied; i++) {
    const struct py_heap_run *r = &w->runs[i];
    if (addr >= r->lo && addr < r->hi && len <= r->hi - addr)
      return w->chunk + r->off + (addr - r->lo);
  }
  return NULL;
}

static int cmp_run(const void *a, const void *b) {
  uint64_t x = ((const struct py_heap_run *)a)->lo, y = ((const struct py_heap_run *)b)->lo;
  return (x > y) - (x < y);
}

/* Sort runs and merge those that touch; lay their copies out in order.
 * Returns the bytes they span, or 0 when they do not fit the heap. */
static size_t runs_normalise(struct py_heap_run *runs, size_t *n, size_t max_bytes) {
  qsort(runs, *n, sizeof *runs, cmp_run);
  size_t m = 0, bytes = 0;
  for (size_t i = 0; i < *n; i++) {
    if (m > 0 && runs[i].lo <= runs[m - 1].hi) {
      if (runs[i].hi > runs[m - 1].hi) runs[m - 1].hi = runs[i].hi;
    } else {
      runs[m++] = runs[i];
    }
  }
  *n = m;
  if (m > REMOTE_IOV_MAX) return 0;
  for (size_t i = 0; i < m; i++) {
    runs[i].off = bytes;
    bytes += runs[i].hi - runs[i].lo;
  }
  return bytes <= max_bytes ? bytes : 0;
}

/* -h: after a chain read whole, copy next time the pages of its frames
 * together with those learned before, or only its own when both do not
 * fit (and, now and then, to forget pages that no longer hold frames). */
static void heap_learn(struct py_walker *w, size_t frame_len) {
  if (w->heap_max == 0 || w->nseen == 0) return;
  struct py_heap_run mine[PY_WALK_HEAP_SEEN], both[PY_WALK_HEAP_SEEN + REMOTE_IOV_MAX];
  size_t nmine = w->nseen;
  for (size_t i = 0; i < nmine; i++) {
    uint64_t a = w->seen[i];
    mine[i] = (struct py_heap_run){a & ~(uint64_t)(PY_WALK_HEAP_PAGE - 1),
                                   (a + frame_len + PY_WALK_HEAP_PAGE - 1) &
                                       ~(uint64_t)(PY_WALK_HEAP_PAGE - 1),
                                   0};
  }
  bool fresh = ++w->learned % 256 == 0;
  size_t nboth = 0;
  for (size_t i = 0; i < nmine; i++) both[nboth++] = mine[i];
  for (size_t i = 0; i < w->nruns && !fresh; i++) both[nboth++] = w->runs[i];
  if (runs_normalise(both, &nboth, w->heap_max) > 0) {
    memcpy(w->runs, both, nboth * sizeof *both);
    w->nruns = nboth;
  } else if (runs_normalise(mine, &nmine, w->heap_max) > 0) {
    memcpy(w->runs, mine, nmine * sizeof *mine);
    w->nruns = nmine;
  } else {
    w->nruns = 0; /* too scattered to copy */
  }
}

/* From a thread state, the address of the innermost frame and (3.11+) a
 * copy of the used part of the current data-stack chunk, where most
 * frames live, so that they cost no further read. The frame pointer of
 * 3.11 and 3.12 sits in a C-stack structure (cframe): it is fetched in
 * the same batched read as the chunk. Returns the frame address (0 if
 * none or unreadable). */
static uint64_t thread_snapshot(struct py_walker *w, const uint8_t *tstate) {
  const struct py_layout *l = &w->rt->layout;
  uint64_t frame = u64_at(tstate, l->tstate_frame);
  bool via_cframe = l->frames == FRAMES_INTERP_311 || l->frames == FRAMES_INTERP_312;
  struct remote_iov iov[2];
  size_t n = 0;
  w->chunk_lo = w->chunk_hi = 0;

  uint64_t cframe = frame, current = 0;
  if (via_cframe) {
    frame = 0;
    if (cframe == 0) return 0;
    iov[n++] = (struct remote_iov){cframe + l->cframe_current_frame, &current,
                                   sizeof current};
  }
  uint64_t lo = 0, hi = 0;
  if (w->chunk != NULL && l->tstate_datastack_chunk >= 0) {
    lo = u64_at(tstate, l->tstate_datastack_chunk);
    hi = u64_at(tstate, l->tstate_datastack_top);
    if (lo != 0 && hi > lo && hi - lo <= PY_WALK_CHUNK_MAX)
      iov[n++] = (struct remote_iov){lo, w->chunk, hi - lo};
  }
  if (n == 0) {
    heap_snapshot(w); /* frame objects: the -h copy, if any */
    return frame;
  }
  int got = remote_readv(w->r, iov, n);
  if (via_cframe) {
    if (got < 1) return 0;
    frame = current;
  }
  if (got == (int)n && iov[n - 1].buf == w->chunk) {
    w->chunk_lo = lo;
    w->chunk_hi = hi;
  }
  return frame;
}

/* Read a frame's head: from the chunk copy when it lies there. */
static int read_frame(struct py_walker *w, uint64_t frame, uint8_t *buf, size_t len) {
  if (frame >= w->chunk_lo && frame < w->chunk_hi && len <= w->chunk_hi - frame) {
    memcpy(buf, w->chunk + (frame - w->chunk_lo), len);
    return 0;
  }
  const uint8_t *copy = w->ncopied ? heap_find(w, frame, len) : NULL;
  if (copy != NULL) {
    memcpy(buf, copy, len);
    return 0;
  }
  return remote_read(w->r, frame, buf, len);
}

/* Follow one thread's frame chain, recording its Python frames (leaf
 * first) in w->refs; returns how many. */
static unsigned chain_frames(struct py_walker *w, uint64_t frame, struct sample *s) {
  const struct py_layout *l = &w->rt->layout;
  size_t len = frame_head_length(l);
  uint8_t fr[512];
  if (len > sizeof fr) {
    s->invalid = true;
    return 0;
  }

  unsigned visited = 0, n = 0;
  bool terminated = false; /* the chain ended on an entry/sentinel frame */
  while (frame != 0) {
    if (++visited > 4 * SAMPLE_MAX_FRAMES || n == SAMPLE_MAX_FRAMES) {
      s->truncated = s->invalid = true;
      return n;
    }
    if (read_frame(w, frame, fr, len) != 0) {
      s->invalid = true;
      return n;
    }
    if (w->heap_max && w->nseen < PY_WALK_HEAP_SEEN) w->seen[w->nseen++] = frame;
    uint64_t previous = u64_at(fr, l->frame_previous);
    uint64_t code_addr = u64_at(fr, l->frame_code);
    /* 3.14+ tags the executable reference in its low bits. */
    if (l->frames == FRAMES_INTERP_313) code_addr &= ~(uint64_t)3;
    terminated = is_chain_bottom(l, fr);
    /* The innermost frame may be entering or leaving: only the frames
     * below it must be executing. But one that is not executing and has no
     * caller is a generator that yielded (its link is cleared then). */
    if (!is_executing(l, fr) && (visited > 1 || previous == 0)) {
      s->invalid = true;
      return n;
    }
    if (is_python_frame(l, fr) && code_addr != 0) {
      /* Before 3.11 each Python call is its own run of the evaluation
       * loop; 3.11 flags the first frame of a run. */
      bool entry = l->frames < FRAMES_INTERP_311 ||
                   (l->frames == FRAMES_INTERP_311 && fr[l->frame_is_entry]);
      w->refs[n++] = (struct py_frame_ref){
          code_addr, instruction_offset(l, fr, code_addr), entry};
    } else if (n > 0 && l->frames >= FRAMES_INTERP_312) {
      /* 3.12+: a shim frame sits below the first frame of each run. */
      w->refs[n - 1].entry = true;
    }
    if (previous == frame) {
      s->invalid = true;
      return n;
    }
    frame = previous;
  }
  /* From 3.11 every chain ends on the frame that entered the evaluation
   * loop: a chain that stops anywhere else was cut while we read it (a
   * generator that yielded, a frame that returned). */
  if (l->frames >= FRAMES_INTERP_311 && visited > 0 && !terminated)
    s->invalid = true;
  return n;
}

/* Turn recorded frames into sample frames: the heads of their code
 * objects are read in batches (one system call each), names and line
 * tables come from the cache. */
static void resolve_frames(struct py_walker *w, unsigned n, struct sample *s) {
  const struct py_layout *l = &w->rt->layout;
  for (unsigned base = 0; base < n; base += REMOTE_IOV_MAX) {
    unsigned batch = n - base < REMOTE_IOV_MAX ? n - base : REMOTE_IOV_MAX;
    struct remote_iov iov[REMOTE_IOV_MAX];
    for (unsigned i = 0; i < batch; i++)
      iov[i] = (struct remote_iov){w->refs[base + i].code,
                                   w->heads + i * w->head_len, w->head_len};
    int got = remote_readv(w->r, iov, batch);
    for (unsigned i = 0; i < batch; i++) {
      const struct py_frame_ref *ref = &w->refs[base + i];
      struct py_code *code =
          (int)i < got ? py_code_from_head(&w->codes, w->r, w->rt, ref->code,
                                           w->heads + i * w->head_len)
                       : NULL;
      if (code == NULL) {
        s->invalid = true;
        return;
      }
      if (code->hidden) {
        /* A hidden trampoline that starts a run hands the mark to the
         * frame it called. */
        if (ref->entry && s->nframes > 0) s->frames[s->nframes - 1].entry = true;
        continue;
      }
      struct linetable_location loc;
      /* A frame that has not run its first instruction, or one at an
       * instruction without a line, is where its function starts. */
      if (ref->offset < 0 || py_code_locate(code, l, ref->offset, &loc) != 0 ||
          loc.line <= 0)
        loc = (struct linetable_location){code->firstlineno, code->firstlineno, -1, -1};
      /* Before 3.11 a code object knows lines only: no end line either
       * (Austin 3.7 writes none). */
      if (l->frames == FRAMES_OBJECT_LNOTAB || l->frames == FRAMES_OBJECT_LINETABLE)
        loc.end_line = -1;
      s->frames[s->nframes++] = (struct sample_frame){
          code->filename, code->name, loc.line, loc.end_line, loc.column,
          loc.end_column, ref->entry, FRAME_PYTHON, 0};
    }
  }
}

/* Walk one thread's frame chain into s, root first. */
static void walk_frames(struct py_walker *w, uint64_t frame, struct sample *s) {
  unsigned n = chain_frames(w, frame, s);
  if (!s->invalid) heap_learn(w, frame_head_length(&w->rt->layout));
  resolve_frames(w, n, s);
  for (unsigned i = 0, j = s->nframes ? s->nframes - 1 : 0; i < j; i++, j--) {
    struct sample_frame t = s->frames[i];
    s->frames[i] = s->frames[j];
    s->frames[j] = t;
  }
}

/* Thread id as Linux knows it. */
static uint64_t native_tid(struct py_walker *w, const uint8_t *tstate) {
  const struct py_layout *l = &w->rt->layout;
  uint64_t tid = l->tstate_native_thread_id >= 0
                     ? u64_at(tstate, l->tstate_native_thread_id)
                     : thread_ids_from_pthread(&w->tids, w->r,
                                               u64_at(tstate, l->tstate_thread_id));
  /* A target in another PID namespace knows its threads by its numbers:
   * ours are those of /proc, ptrace and the output. */
  return thread_ids_host(&w->tids, tid);
}

/* The part of a thread state we read: up to the last field we need. */
static size_t tstate_length(const struct py_layout *l) {
  int32_t offs[] = {l->tstate_next, l->tstate_interp, l->tstate_frame,
                    l->tstate_thread_id, l->tstate_native_thread_id,
                    l->tstate_datastack_chunk, l->tstate_datastack_top};
  return (size_t)max_offset(offs, sizeof offs / sizeof *offs) + 8;
}

/* What the threads of one interpreter share, read once per walk. */
struct interp_view {
  int64_t iid;
  bool gc;            /* its garbage collector was collecting */
  struct py_gil gil;  /* who held its GIL (want_gil) */
};

/* Called for each thread state with its head already read; non-zero
 * stops the iteration. */
typedef int (*thread_fn)(struct py_walker *w, const struct interp_view *iv,
                         uint64_t thread, const uint8_t *tstate, void *ctx);

/* Where the "collecting" flag of an interpreter's garbage collector lives
 * (in the runtime for 3.8, in each interpreter after), or 0 when not
 * wanted or not known for this build. */
static uint64_t gc_flag_address(struct py_walker *w, uint64_t interp) {
  const struct py_layout *l = &w->rt->layout;
  if (!w->want_gc) return 0;
  if (l->runtime_gc_collecting >= 0)
    return w->rt->runtime_addr + (uint64_t)l->runtime_gc_collecting;
  if (l->interp_gc_collecting >= 0) return interp + (uint64_t)l->interp_gc_collecting;
  return 0;
}

/* -g, one thread at a time (austinp): is the collector of the interpreter
 * at `interp` (0: unknown) collecting? An unreadable flag says no. */
static bool gc_collecting(struct py_walker *w, uint64_t interp) {
  if (interp == 0 && w->rt->layout.runtime_gc_collecting < 0) return false;
  uint64_t addr = gc_flag_address(w, interp);
  int32_t collecting = 0;
  return addr != 0 && remote_read(w->r, addr, &collecting, sizeof collecting) == 0 &&
         collecting != 0;
}

/* Every thread state of every interpreter, bounded. Returns the number of
 * thread states visited, or -1 when the runtime cannot be read. */
static int each_thread(struct py_walker *w, thread_fn fn, void *ctx) {
  const struct py_layout *l = &w->rt->layout;
  size_t tlen = tstate_length(l);
  uint8_t tstate[4096];
  if (tlen > sizeof tstate) return -1;

  uint64_t interp;
  if (remote_read_u64(w->r, w->rt->runtime_addr + l->runtime_interpreters_head,
                      &interp) != 0)
    return -1;

  int visited = 0;
  for (unsigned ni = 0; interp != 0 && ni < PY_WALK_MAX_INTERPRETERS; ni++) {
    int64_t iid = 0;
    uint64_t thread = 0, next_interp = 0;
    int32_t collecting = 0;
    struct remote_iov iov[] = {{interp + l->interp_id, &iid, sizeof iid},
                               {interp + l->interp_threads_head, &thread, sizeof thread},
                               {interp + l->interp_next, &next_interp, sizeof next_interp},
                               {0, &collecting, sizeof collecting}};
    size_t n = 3;
    uint64_t gc_addr = gc_flag_address(w, interp);
    if (gc_addr != 0) iov[n++].addr = gc_addr;
    if (remote_readv(w->r, iov, n) != (int)n) return visited ? visited : -1;
    struct interp_view iv = {iid, collecting != 0, {false, false, 0}};
    /* Read before its threads, so that all of them are judged by one
     * reading. */
    if (w->want_gil) py_gil_read(w->r, w->rt, interp, &iv.gil);

    for (unsigned nt = 0; thread != 0 && nt < PY_WALK_MAX_THREADS; nt++) {
      if (remote_read(w->r, thread, tstate, tlen) != 0) break;
      visited++;
      if (fn(w, &iv, thread, tstate, ctx)) return visited;
      uint64_t next = u64_at(tstate, l->tstate_next);
      if (next == thread) break;
      thread = next;
    }
    if (next_interp == interp) break;
    interp = next_interp;
  }
  return visited;
}

/* Sample one thread whose state head is in `tstate` into s. Returns false
 * for a thread that has not started (no id yet): nothing to sample. */
static bool sample_thread(struct py_walker *w, const struct interp_view *iv,
                          uint64_t thread, uint8_t *tstate, struct sample *s) {
  s->pid = w->rt->pid;
  s->iid = iv->iid;
  s->gc = iv->gc;
  s->gil = w->want_gil ? py_gil_of(&iv->gil, thread) : SAMPLE_GIL_UNKNOWN;
  s->tstate = thread;
  s->tid = native_tid(w, tstate);
  s->nframes = 0;
  s->invalid = s->truncated = false;
  if (s->tid == 0) return false;
  s->idle = w->want_idle && thread_is_idle(w->rt->pid, s->tid);
  walk_frames(w, thread_snapshot(w, tstate), s);
  /* A chain that changed while we read it is read again at once, a
   * bounded number of times: short calls (a few microseconds) often
   * return under a reader that follows the chain one frame at a time. */
  size_t tlen = tstate_length(&w->rt->layout);
  for (unsigned retry = 0; s->invalid && !s->truncated && retry < PY_WALK_RETRIES; retry++) {
    if (remote_read(w->r, thread, tstate, tlen) != 0) break;
    s->nframes = 0;
    s->invalid = false;
    walk_frames(w, thread_snapshot(w, tstate), s);
  }
  return true;
}

struct all_ctx {
  struct sample *s;
  py_sample_cb cb;
  void *ctx;
  int sampled;
};

static int all_fn(struct py_walker *w, const struct interp_view *iv, uint64_t thread,
                  const uint8_t *tstate, void *ctx) {
  struct all_ctx *a = ctx;
  uint8_t copy[4096];
  memcpy(copy, tstate, tstate_length(&w->rt->layout));
  if (!sample_thread(w, iv, thread, copy, a->s)) return 0;
  a->sampled++;
  int stop = a->cb(a->s, a->ctx);
  py_code_cache_sweep(&w->codes);
  return stop;
}

int py_walk_all(struct py_walker *w, struct sample *s, py_sample_cb cb,
                void *ctx) {
  struct all_ctx a = {s, cb, ctx, 0};
  int visited = each_thread(w, all_fn, &a);
  return visited < 0 ? -1 : a.sampled;
}

struct list_ctx {
  struct py_thread_ref *out;
  int max, n;
};

static int list_fn(struct py_walker *w, const struct interp_view *iv, uint64_t thread,
                   const uint8_t *tstate, void *ctx) {
  struct list_ctx *c = ctx;
  int64_t iid = iv->iid;
  uint64_t tid = native_tid(w, tstate);
  if (tid == 0) return 0;
  /* A thread state made for a thread that has not run yet carries its
   * creator's thread id until the new thread claims it (3.8-3.10 set it
   * to the creating thread's). Lists put new states first: of two states
   * of one interpreter naming one thread, the later one seen, the older,
   * is that thread's own. */
  for (int i = 0; i < c->n; i++)
    if (c->out[i].tid == tid && c->out[i].iid == iid) {
      c->out[i].tstate = thread;
      return 0;
    }
  c->out[c->n++] = (struct py_thread_ref){thread, iid, tid};
  return c->n == c->max;
}

int py_walk_list_threads(struct py_walker *w, struct py_thread_ref *out, int max) {
  struct list_ctx c = {out, max, 0};
  if (max <= 0) return 0;
  return each_thread(w, list_fn, &c) < 0 ? -1 : c.n;
}

int py_walk_thread(struct py_walker *w, const struct py_thread_ref *t,
                   struct sample *s) {
  uint8_t tstate[4096];
  size_t tlen = tstate_length(&w->rt->layout);
  if (tlen > sizeof tstate || remote_read(w->r, t->tstate, tstate, tlen) != 0)
    return -1;
  struct interp_view iv = {t->iid, false, {false, false, 0}};
  uint64_t interp = w->rt->layout.tstate_interp >= 0
                        ? u64_at(tstate, w->rt->layout.tstate_interp) : 0;
  /* Read now: austinp calls this while the thread is stopped, and whether
   * the thread holds the GIL cannot change meanwhile. */
  if (w->want_gil && interp != 0) py_gil_read(w->r, w->rt, interp, &iv.gil);
  iv.gc = gc_collecting(w, interp);
  if (!sample_thread(w, &iv, t->tstate, tstate, s)) return -1;
  return 0;
}
