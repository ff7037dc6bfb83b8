/* capture-image PID FILE: record a memory image of a running Python
 * process (py_image.h), the seed of the interpreter reader's fuzzing.
 *
 * The target is stopped (SIGSTOP) while every thread is walked once, so
 * that the image is one consistent state, and continued on every path
 * out. Prints what the walk saw: threads, frames, invalid samples. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proc_stat.h"
#include "py_discover.h"
#include "py_image.h"
#include "py_walk.h"

struct tally {
  int threads, frames, invalid;
};

static int count(struct sample *s, void *ctx) {
  struct tally *t = ctx;
  t->threads++;
  t->frames += (int)s->nframes;
  t->invalid += s->invalid;
  return 0;
}

/* Wait (at most a second) until every thread has taken the stop. */
static void wait_stopped(pid_t pid) {
  for (int i = 0; i < 1000; i++) {
    char state;
    if (proc_stat_state(pid, 0, &state, NULL) != 0 || state == 'T') return;
    nanosleep(&(struct timespec){0, 1000000}, NULL);
  }
}

static int capture(pid_t pid, FILE *out, struct tally *t) {
  char why[256];
  struct py_runtime rt;
  enum error_kind kind = py_discover(pid, &rt, why, sizeof why);
  if (kind != E_OK) {
    fprintf(stderr, "capture-image: %s\n", why);
    return -1;
  }
  struct remote *live = remote_open_pid(pid);
  struct remote *rec = live ? remote_open_recorder(live) : NULL;
  struct py_walker w;
  static struct sample s;
  int rc = -1;
  if (rec == NULL) goto done;
  /* 3.13+: the layout comes from the target; record where it was read. */
  if (py_debug_offsets_map_for(rt.major, rt.minor) != NULL &&
      py_layout_from_debug_offsets(rec, rt.runtime_addr, rt.major, rt.minor, &rt.layout,
                                   NULL) != 0)
    goto done;
  if (py_walker_init(&w, rec, &rt) == 0) {
    w.want_gc = true;
    w.want_gil = true;
    if (py_walk_all(&w, &s, count, t) >= 0 &&
        py_image_write(rec, out, rt.major, rt.minor, rt.runtime_addr, rt.code_type_addr,
                       w.tids.tid_offset) == 0)
      rc = 0;
  }
  py_walker_free(&w);
done:
  remote_close(rec);
  remote_close(live);
  py_runtime_free(&rt);
  return rc;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: capture-image PID FILE\n");
    return 2;
  }
  pid_t pid = (pid_t)atoi(argv[1]);
  FILE *out = fopen(argv[2], "wb");
  if (out == NULL) {
    fprintf(stderr, "capture-image: %s: %s\n", argv[2], strerror(errno));
    return 1;
  }
  if (kill(pid, SIGSTOP) != 0) {
    fprintf(stderr, "capture-image: cannot stop %d: %s\n", (int)pid, strerror(errno));
    fclose(out);
    return 1;
  }
  wait_stopped(pid);
  struct tally t = {0, 0, 0};
  int rc = capture(pid, out, &t);
  kill(pid, SIGCONT);
  if (fclose(out) != 0) rc = -1;
  if (rc != 0) return 1;
  printf("threads %d frames %d invalid %d\n", t.threads, t.frames, t.invalid);
  return 0;
}
