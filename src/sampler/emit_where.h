/* Where mode: a readable dump of every thread's stack, once. */
#ifndef EMIT_WHERE_H
#define EMIT_WHERE_H

#include <stdbool.h>
#include <stdio.h>

#include "py_discover.h"
#include "sample.h"

struct where_emitter {
  FILE *out;
  bool color;
  int64_t last_iid;
  const char *role;  /* -C: "parent" or "child", NULL without -C */
};

void emit_where_process(struct where_emitter *e, const struct py_runtime *rt);
void emit_where_thread(struct where_emitter *e, const struct sample *s);

#endif
