#include "py_gil.h"

#include <string.h>

/* The flag is an int: 1 while taken, 0 when free, -1 before the GIL is
 * made. Anything else is not a GIL we understand. */
static void set_state(struct py_gil *out, int32_t locked, uint64_t holder) {
  out->known = locked == 0 || locked == 1;
  out->locked = locked == 1;
  out->holder = holder;
}

/* Read the flag and the holder at these addresses in one call. */
static void read_pair(struct remote *r, uint64_t locked_at, uint64_t holder_at,
                      struct py_gil *out) {
  int32_t locked = -1;
  uint64_t holder = 0;
  struct remote_iov iov[] = {{locked_at, &locked, sizeof locked},
                             {holder_at, &holder, sizeof holder}};
  if (remote_readv(r, iov, 2) == 2) set_state(out, locked, holder);
}

/* 3.12+: the interpreter's pointer to its GIL, read with its own GIL's
 * fields, which are the ones in use unless it shares the main
 * interpreter's (then one more read, through the pointer). */
static void read_interp_gil(struct remote *r, const struct py_layout *l, uint64_t interp,
                            struct py_gil *out) {
  uint64_t gil = 0, holder = 0;
  int32_t locked = -1;
  struct remote_iov iov[] = {{interp + (uint64_t)l->interp_gil, &gil, sizeof gil},
                             {interp + (uint64_t)l->interp_gil_locked, &locked, sizeof locked},
                             {interp + (uint64_t)l->interp_gil_holder, &holder, sizeof holder}};
  if (remote_readv(r, iov, 3) != 3 || gil == 0) return; /* not set up, or gone */
  if (gil == interp + (uint64_t)l->interp_own_gil) {
    set_state(out, locked, holder);
    return;
  }
  read_pair(r, gil + (uint64_t)(l->interp_gil_locked - l->interp_own_gil),
            gil + (uint64_t)(l->interp_gil_holder - l->interp_own_gil), out);
}

void py_gil_read(struct remote *r, const struct py_runtime *rt, uint64_t interp,
                 struct py_gil *out) {
  const struct py_layout *l = &rt->layout;
  memset(out, 0, sizeof *out);
  if (l->runtime_gil_locked >= 0 && l->runtime_gil_holder >= 0)
    read_pair(r, rt->runtime_addr + (uint64_t)l->runtime_gil_locked,
              rt->runtime_addr + (uint64_t)l->runtime_gil_holder, out);
  else if (l->interp_gil >= 0 && l->interp_own_gil >= 0 && l->interp_gil_locked >= 0 &&
           l->interp_gil_holder >= 0 && interp != 0)
    read_interp_gil(r, l, interp, out);
}

enum sample_gil py_gil_of(const struct py_gil *g, uint64_t tstate) {
  if (!g->known) return SAMPLE_GIL_UNKNOWN;
  if (!g->locked || g->holder == 0) return SAMPLE_GIL_FREE;
  return g->holder == tstate ? SAMPLE_GIL_HELD : SAMPLE_GIL_OTHER;
}
