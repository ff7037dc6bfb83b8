/* austin: sample the Python frame stacks of a process, from outside.
 *
 * discover the interpreter -> walk its threads each interval -> emit. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "emit.h"
#include "emit_where.h"
#include "errors.h"
#include "log.h"
#include "privilege.h"
#include "py_discover.h"
#include "proc_set.h"
#include "proc_tree.h"
#include "py_walk.h"
#include "sampler_loop.h"
#include "target.h"
#include "target_python.h"

/* Where mode: at most this many looks for a dump in which every thread's
 * stack could be read to its end (busy threads move while we read). */
#define WHERE_ATTEMPTS 5

/* -C, a target that is not Python: once it has been waited for, how long
 * its Python descendants are still looked for. */
#define CHILDREN_LAST_LOOK_US 100000

struct where_dump {
  struct where_emitter e;
  unsigned invalid;
};

static int where_cb(struct sample *s, void *ctx) {
  struct where_dump *d = ctx;
  d->invalid += s->invalid;
  emit_where_thread(&d->e, s);
  return 0;
}

/* Write the dump of one process to stdout, marked with its role (NULL,
 * "parent" or "child"). 0, or -1 when its interpreter could not be read. */
static int where_one(const struct py_runtime *rt, const char *role, bool color) {
  struct remote *r = remote_open_pid(rt->pid);
  struct py_walker w;
  if (r == NULL || py_walker_init(&w, r, rt) != 0) {
    remote_close(r);
    return -1;
  }
  w.want_idle = true;
  static struct sample scratch;
  char *text = NULL;
  size_t len = 0;
  int n = -1;
  for (int attempt = 0; attempt < WHERE_ATTEMPTS; attempt++) {
    free(text);
    text = NULL;
    FILE *mem = open_memstream(&text, &len);
    if (mem == NULL) break;
    struct where_dump d = {{mem, color, -1, role}, 0};
    emit_where_process(&d.e, rt);
    n = py_walk_all(&w, &scratch, where_cb, &d);
    fputc('\n', mem);
    fclose(mem);
    if (n < 0 || d.invalid == 0) break;
  }
  py_walker_free(&w);
  remote_close(r);
  if (n >= 0 && text != NULL) fwrite(text, 1, len, stdout);
  free(text);
  return n < 0 ? -1 : 0;
}

/* -C -w: every Python process below the target, once each; those that
 * are not Python (a shell) are passed over. Returns how many were shown. */
static int where_children(pid_t root, bool color) {
  struct proc_tree tree;
  proc_tree_init(&tree, root);
  proc_tree_scan(&tree, NULL, NULL, NULL);
  int shown = 0;
  for (size_t i = 1; i < tree.n; i++) {
    char why[256];
    struct py_runtime rt;
    if (privilege_check(tree.members[i], 0, why, sizeof why) != E_OK ||
        py_discover(tree.members[i], &rt, why, sizeof why) != E_OK)
      continue;
    shown += where_one(&rt, "child", color) == 0;
    py_runtime_free(&rt);
  }
  proc_tree_free(&tree);
  return shown;
}

static int run_where(const struct options *o) {
  char why[512] = "";
  struct target t;
  enum error_kind kind = target_attach(o->where, &t, why, sizeof why);
  struct py_runtime rt;
  if (kind == E_OK) kind = target_wait_python(&t, o->timeout_us, &rt, why, sizeof why);
  /* With -C the target itself need not be Python (a shell, a server's
   * supervisor): its Python descendants are shown all the same. */
  bool children_only = o->children && kind == E_NOT_PYTHON;
  if (kind != E_OK && !children_only) return error_report(kind, "%s", why);
  bool color = isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL;

  int shown = 0;
  if (!children_only) {
    int rc = where_one(&rt, o->children ? "parent" : NULL, color);
    py_runtime_free(&rt);
    if (rc != 0)
      return error_report(E_NO_PROCESS, "process %d: its interpreter could not be read",
                          (int)t.pid);
    shown++;
  }
  if (o->children) shown += where_children(t.pid, color);
  if (shown == 0)
    return error_report(E_NO_CHILDREN, "process %d", (int)t.pid);
  return fflush(stdout) == 0 ? 0 : error_status(E_OUTPUT);
}

static void log_run_end(enum loop_end end, const struct sampling_stats *st) {
  static const char *const why[] = {
      [END_TARGET_EXITED] = "the target exited",  [END_EXPOSURE] = "the exposure ended",
      [END_SIGNAL] = "stopped by a signal",       [END_OUTPUT] = "the output failed",
      [END_UNREADABLE] = "the target became unreadable"};
  log_msg(LOG_INFO,
          "sampling ended (%s) after %llu us: %llu samples in %llu rounds, "
          "%llu invalid, %llu rounds longer than the interval",
          why[end], (unsigned long long)st->duration_us, (unsigned long long)st->samples,
          (unsigned long long)st->rounds, (unsigned long long)st->invalid,
          (unsigned long long)st->long_rounds);
}

static int run_sampler(const struct options *o) {
  char why[512] = "";
  FILE *out = stdout;
  if (o->output != NULL && (out = fopen(o->output, "w")) == NULL)
    return error_report(E_OUTPUT_CREATE, "cannot open %s: %s", o->output, strerror(errno));
  static char outbuf[1 << 16];
  setvbuf(out, outbuf, _IOFBF, sizeof outbuf);

  sampler_install_signals();

  struct target t;
  enum error_kind kind;
  uint64_t wait_us = o->timeout_us;
  if (o->command != NULL) {
    kind = target_launch(o->command, out == stdout, &t, why, sizeof why);
    if (wait_us < TARGET_LAUNCH_MIN_WAIT_US) wait_us = TARGET_LAUNCH_MIN_WAIT_US;
  } else {
    kind = target_attach(o->pid, &t, why, sizeof why);
  }
  struct py_runtime rt;
  /* With -C a target that is not Python (a shell, a launcher such as
   * unshare) is followed to its Python descendants, as Austin 3.7 does:
   * they are looked for while the target is waited for. */
  struct proc_set *ps = malloc(sizeof *ps);
  if (ps == NULL && kind == E_OK) {
    kind = E_INTERNAL;
    snprintf(why, sizeof why, "out of memory");
  }
  if (ps != NULL) proc_set_init_children(ps, &t);
  bool started = kind == E_OK;
  if (started)
    kind = target_wait_python_or(&t, wait_us, &rt, why, sizeof why,
                                 o->children ? proc_set_children_found : NULL, ps);
  /* Not Python, or gone before it showed a runtime: with -C, Austin 3.7
   * then looks at the children (and says it found none: 39). */
  bool children_only = o->children && started && ps != NULL &&
                       (kind == E_NOT_PYTHON || kind == E_LAUNCH || kind == E_ATTACH);
  if (children_only) {
    /* Found already, or a last look (Austin's is as short). */
    kind = proc_set_wait_children(ps, CHILDREN_LAST_LOOK_US, why, sizeof why);
  } else if (kind == E_OK) {
    proc_set_free(ps);
    if (proc_set_init(ps, &t, &rt, o->children) != 0) {
      /* The set took the runtime over (and freed it). */
      kind = E_INTERNAL;
      snprintf(why, sizeof why, "out of memory");
    }
  }
  if (kind != E_OK) {
    if (ps != NULL) proc_set_free(ps);
    free(ps);
    target_release(&t);
    if (out != stdout) fclose(out);
    return error_report(kind, "%s", why);
  }
  proc_set_heap(ps, o->heap_bytes);

  struct emitter e;
  if (emit_open(&e, o->binary ? EMIT_FORMAT_MOJO : EMIT_FORMAT_TEXT, out,
                o->full ? EMIT_METRIC_FULL : o->memory ? EMIT_METRIC_MEMORY : EMIT_METRIC_TIME,
                o->pipe) != 0) {
    target_release(&t);
    return error_report(E_INTERNAL, "out of memory");
  }
  /* A MOJO copy of the same run, for the test suite, which checks that
   * both formats carry the same samples. */
  struct emitter copy;
  FILE *copy_out = o->binary ? NULL : emit_open_mojo_copy(&copy, e.metrics);
  if (copy_out != NULL) e.also = &copy;
  struct emit_header_info h = {o->interval_us, o->sleepless, o->children,
                               ps->procs[0]->rt.version};
  emit_header(&e, &h);
  emit_header_end(&e);
  struct sampling_stats st;
  log_msg(LOG_INFO, "sampling process %d (Python %s) every %llu us%s", (int)t.pid,
          ps->procs[0]->rt.version, (unsigned long long)o->interval_us,
          o->children ? ", and its children" : "");
  enum loop_end end = sampler_run(ps, o, &e, &st);
  log_run_end(end, &st);
  int status = 0;
  if (end != END_OUTPUT) {
    emit_footer(&e, &st);
    if (fflush(out) != 0) end = END_OUTPUT;
  }
  emit_close(&e);
  if (copy_out != NULL) fclose(copy_out);
  if (end == END_OUTPUT && errno != EPIPE)
    status = error_report(E_OUTPUT, "cannot write the output: %s", strerror(errno));
  if (end == END_SIGNAL && status == 0) status = sampler_signal_status();

  if (end == END_TARGET_EXITED) target_wait(&t);
  else target_release(&t);

  proc_set_free(ps);
  free(ps);
  if (out != stdout) fclose(out);
  return status;
}

int main(int argc, char **argv) {
  error_progname = "austin";
  /* Before anything else: a privileged start becomes its user (privilege.h). */
  if (privilege_init() != E_OK) return error_status(E_INTERNAL);
  log_open("austin");
  struct options o;
  enum error_kind kind = cli_parse(argc, argv, 100, &o);
  if (kind != E_OK) return error_status(kind);
  int status = o.where ? run_where(&o) : run_sampler(&o);
  log_close();
  return status;
}
