#include <string.h>

#include "py_walk.h"

void py_walker_init(struct py_walker *w, struct remote *r,
                    const struct py_runtime *rt) {
  memset(w, 0, sizeof *w);
  w->r = r;
  w->rt = rt;
  py_code_cache_init(&w->codes);
  thread_ids_init(&w->tids, rt->pid);
}

void py_walker_free(struct py_walker *w) { py_code_cache_free(&w->codes); }

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

/* The address of the thread's innermost frame, from its thread state. */
static uint64_t top_frame(struct py_walker *w, const uint8_t *tstate) {
  const struct py_layout *l = &w->rt->layout;
  uint64_t frame = u64_at(tstate, l->tstate_frame);
  if (l->frames == FRAMES_INTERP_311 || l->frames == FRAMES_INTERP_312) {
    uint64_t cframe = frame;
    frame = 0;
    if (cframe != 0) remote_read_u64(w->r, cframe + l->cframe_current_frame, &frame);
  }
  return frame;
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

/* Walk one thread's frame chain into s (leaf first, reversed at the end). */
static void walk_frames(struct py_walker *w, uint64_t frame, struct sample *s) {
  const struct py_layout *l = &w->rt->layout;
  int32_t offs[] = {l->frame_previous, l->frame_code, l->frame_instr,
                    l->frame_owner, l->frame_is_entry, l->frame_state};
  size_t len = (size_t)max_offset(offs, sizeof offs / sizeof *offs) + 8;
  uint8_t fr[512];
  if (len > sizeof fr) {
    s->invalid = true;
    return;
  }

  unsigned visited = 0;
  bool terminated = false; /* the chain ended on an entry/sentinel frame */
  while (frame != 0) {
    if (++visited > 4 * SAMPLE_MAX_FRAMES || s->nframes == SAMPLE_MAX_FRAMES) {
      s->truncated = s->invalid = true;
      break;
    }
    if (remote_read(w->r, frame, fr, len) != 0) {
      s->invalid = true;
      break;
    }
    uint64_t previous = u64_at(fr, l->frame_previous);
    uint64_t code_addr = u64_at(fr, l->frame_code);
    /* 3.14+ tags the executable reference in its low bits. */
    if (l->frames == FRAMES_INTERP_313) code_addr &= ~(uint64_t)3;
    terminated = is_chain_bottom(l, fr);
    /* The innermost frame may be entering or leaving: only the frames
     * below it must be executing. */
    if (visited > 1 && !is_executing(l, fr)) {
      s->invalid = true;
      break;
    }

    if (is_python_frame(l, fr) && code_addr != 0) {
      struct py_code *code = py_code_get(&w->codes, w->r, w->rt, code_addr);
      if (code == NULL) {
        s->invalid = true;
        break;
      }
      if (code->hidden) goto next;
      struct linetable_location loc;
      int64_t offset = instruction_offset(l, fr, code_addr);
      /* A frame that has not run its first instruction, or one at an
       * instruction without a line, is where its function starts. */
      if (offset < 0 || py_code_locate(code, l, offset, &loc) != 0 || loc.line <= 0)
        loc = (struct linetable_location){code->firstlineno, code->firstlineno, -1, -1};
      s->frames[s->nframes++] = (struct sample_frame){
          code->filename, code->name, loc.line, loc.end_line, loc.column,
          loc.end_column};
    }
  next:
    if (previous == frame) {
      s->invalid = true;
      break;
    }
    frame = previous;
  }
  /* From 3.11 every chain ends on the frame that entered the evaluation
   * loop: a chain that stops anywhere else was cut while we read it (a
   * generator that yielded, a frame that returned). */
  if (!s->invalid && l->frames >= FRAMES_INTERP_311 && visited > 0 && !terminated)
    s->invalid = true;

  for (unsigned i = 0, j = s->nframes ? s->nframes - 1 : 0; i < j; i++, j--) {
    struct sample_frame t = s->frames[i];
    s->frames[i] = s->frames[j];
    s->frames[j] = t;
  }
}

/* Thread id as Linux knows it. */
static uint64_t native_tid(struct py_walker *w, const uint8_t *tstate) {
  const struct py_layout *l = &w->rt->layout;
  if (l->tstate_native_thread_id >= 0)
    return u64_at(tstate, l->tstate_native_thread_id);
  return thread_ids_from_pthread(&w->tids, w->r,
                                 u64_at(tstate, l->tstate_thread_id));
}

int py_walk_all(struct py_walker *w, struct sample *s, py_sample_cb cb,
                void *ctx) {
  const struct py_layout *l = &w->rt->layout;
  int32_t offs[] = {l->tstate_next, l->tstate_frame, l->tstate_thread_id,
                    l->tstate_native_thread_id};
  size_t tlen = (size_t)max_offset(offs, sizeof offs / sizeof *offs) + 8;
  uint8_t tstate[4096];
  if (tlen > sizeof tstate) return -1;

  uint64_t interp_addr = w->rt->runtime_addr + l->runtime_interpreters_head;
  uint64_t interp;
  if (remote_read_u64(w->r, interp_addr, &interp) != 0) return -1;

  int nthreads = 0;
  for (unsigned ni = 0; interp != 0 && ni < PY_WALK_MAX_INTERPRETERS; ni++) {
    int64_t iid = 0;
    uint64_t thread = 0, next_interp = 0;
    if (remote_read(w->r, interp + l->interp_id, &iid, sizeof iid) != 0 ||
        remote_read_u64(w->r, interp + l->interp_threads_head, &thread) != 0 ||
        remote_read_u64(w->r, interp + l->interp_next, &next_interp) != 0)
      return nthreads ? nthreads : -1;

    for (unsigned nt = 0; thread != 0 && nt < PY_WALK_MAX_THREADS; nt++) {
      if (remote_read(w->r, thread, tstate, tlen) != 0) break;
      s->pid = w->rt->pid;
      s->iid = iid;
      s->tstate = thread;
      s->tid = native_tid(w, tstate);
      s->nframes = 0;
      s->invalid = s->truncated = false;
      uint64_t next = u64_at(tstate, l->tstate_next);
      /* A thread state whose thread has not started yet has no id. */
      if (s->tid == 0) goto next_thread;
      s->idle = w->want_idle && thread_is_idle(w->rt->pid, s->tid);
      walk_frames(w, top_frame(w, tstate), s);
      nthreads++;
      int stop = cb(s, ctx);
      py_code_cache_sweep(&w->codes);
      if (stop) return nthreads;
    next_thread:
      if (next == thread) break;
      thread = next;
    }
    if (next_interp == interp) break;
    interp = next_interp;
  }
  return nthreads;
}
