#include <inttypes.h>

#include "emit_where.h"

#define C_RESET "\033[0m"
#define C_BOLD "\033[1m"
#define C_DIM "\033[2m"
#define C_GREEN "\033[32m"
#define C_YELLOW "\033[33m"
#define C_CYAN "\033[36m"
#define C_RED "\033[31m"

static const char *c(const struct where_emitter *e, const char *code) {
  return e->color ? code : "";
}

void emit_where_process(struct where_emitter *e, const struct py_runtime *rt) {
  fprintf(e->out, "%sProcess %d%s", c(e, C_BOLD), (int)rt->pid, c(e, C_RESET));
  if (e->role != NULL) fprintf(e->out, " (%s)", e->role);
  fprintf(e->out, "  Python %s  %s%s%s\n", rt->version, c(e, C_DIM), rt->path,
          c(e, C_RESET));
  e->last_iid = -1;
}

void emit_where_thread(struct where_emitter *e, const struct sample *s) {
  if (s->iid != e->last_iid) {
    fprintf(e->out, "\n  %sInterpreter %" PRId64 "%s\n", c(e, C_BOLD), s->iid,
            c(e, C_RESET));
    e->last_iid = s->iid;
  }
  fprintf(e->out, "\n    %sThread %" PRIu64 "%s  %s%s%s\n", c(e, C_BOLD), s->tid,
          c(e, C_RESET), c(e, s->idle ? C_YELLOW : C_GREEN),
          s->idle ? "idle" : "running", c(e, C_RESET));
  if (s->nframes == 0 && !s->invalid)
    fprintf(e->out, "      %s(no Python frames)%s\n", c(e, C_DIM), c(e, C_RESET));
  /* Root first, as a Python traceback reads. */
  for (unsigned i = 0; i < s->nframes; i++) {
    const struct sample_frame *f = &s->frames[i];
    fprintf(e->out, "      %s%s%s (%s%s:%d%s)\n", c(e, C_CYAN), f->name,
            c(e, C_RESET), c(e, C_DIM), f->filename, f->line, c(e, C_RESET));
  }
  if (s->invalid)
    fprintf(e->out, "      %s:INVALID: (the stack could not be read to its end)%s\n",
            c(e, C_RED), c(e, C_RESET));
}
