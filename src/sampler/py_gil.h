/* Who holds the GIL: read from the target for memory mode (-m, -f).
 *
 * Austin gives each round's resident-memory delta to the thread holding
 * the GIL, the one that can be allocating Python objects. A GIL says
 * whether it is taken (locked) and which thread state took it last
 * (last_holder); while it is locked, that thread holds it. Where it is
 * depends on the version (the layout): 3.8-3.11 have one GIL in the
 * runtime; from 3.12 each interpreter points at the GIL it runs under,
 * its own or, when it shares one, the main interpreter's. */
#ifndef PY_GIL_H
#define PY_GIL_H

#include <stdbool.h>
#include <stdint.h>

#include "py_discover.h"
#include "remote.h"
#include "sample.h"

struct py_gil {
  bool known;       /* read: the fields below mean something */
  bool locked;      /* some thread holds it */
  uint64_t holder;  /* the PyThreadState that took it last */
};

/* Read the GIL that the interpreter at `interp` runs under. Not known
 * when the layout has no GIL fields or the reads fail. */
void py_gil_read(struct remote *r, const struct py_runtime *rt, uint64_t interp,
                 struct py_gil *out);

/* What the GIL says of the thread whose state is at `tstate`. */
enum sample_gil py_gil_of(const struct py_gil *g, uint64_t tstate);

#endif
