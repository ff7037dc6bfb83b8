/* austinp-resolve: the native frames of an austinp profile (addresses
 * and `# map:` lines) to source file:function:line, offline.
 *
 * The input format is recognised from its first bytes; each format is
 * one reader/writer (text_format.c, mojo_format.c) over the same
 * session: mappings, resolver, counts. */
#define _GNU_SOURCE
#include <argp.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "errors.h"
#include "mojo_format.h"
#include "privilege.h"
#include "resolve_args.h"
#include "resolver.h"
#include "rio.h"
#include "session.h"
#include "text_format.h"

const char *argp_program_version = "austinp-resolve " AUSTIN_COMPAT_VERSION " (" PACKAGE_STRING ")";

struct format {
  const char *name;
  bool (*detect)(const char *head, size_t n);
  enum error_kind (*resolve)(struct rin *in, struct rout *out, struct session *s);
};

static const struct format formats[] = {
    {"text", text_detect, text_resolve},
    {"MOJO", mojo_detect, mojo_resolve},
};

/* Which format the input is in, from its first bytes; NULL with the
 * error reported when none. */
static const struct format *detect(struct rin *in, enum error_kind *kind) {
  const char *head;
  size_t n = rin_peek(in, 16, &head);
  for (size_t i = 0; i < sizeof formats / sizeof *formats; i++)
    if (formats[i].detect(head, n)) return &formats[i];
  if (in->error) {
    *kind = E_INPUT;
    error_report(E_INPUT, "cannot read %s: %s", in->name, strerror(in->error));
  } else {
    *kind = E_MALFORMED_INPUT;
    error_report(E_MALFORMED_INPUT, "%s: %s: not an Austin profile (neither text starting with "
                 "'# austin:' nor MOJO)", in->name, n == 0 ? "empty input" : "offset 0");
  }
  return NULL;
}

/* What the debuginfod servers were asked (only when DEBUGINFOD_URLS
 * named one and a file lacked its debug info here). */
static void debuginfod_summary(const struct resolver *r) {
  struct resolver_stats rs;
  resolver_stats(r, &rs);
  if (rs.debuginfod_asked == 0) return;
  fprintf(stderr, "%s: debuginfod: %u debug files asked for, %u found%s\n", error_progname,
          rs.debuginfod_asked, rs.debuginfod_found,
          rs.debuginfod_gave_up ? "; a server failed (unreachable or too slow): no more asked"
                                : "");
}

static int run(const struct resolve_args *a) {
  struct rin in;
  if (rin_open(&in, a->input) != 0)
    return error_report(E_INPUT, "cannot open %s: %s", a->input, strerror(errno));
  enum error_kind kind = E_OK;
  const struct format *fmt = detect(&in, &kind);
  if (fmt == NULL) {
    rin_close(&in);
    return error_status(kind);
  }
  struct resolver *r = resolver_new(a->root);
  for (int i = 0; r != NULL && i < a->ndebug_dirs; i++)
    if (resolver_add_debug_dir(r, a->debug_dirs[i]) != 0) {
      resolver_free(r);
      r = NULL;
    }
  if (r == NULL) {
    rin_close(&in);
    return error_report(E_INTERNAL, "cannot set up libbfd");
  }
  struct rout out;
  if (rout_open(&out, a->output) != 0) {
    resolver_free(r);
    rin_close(&in);
    return error_report(E_OUTPUT, "cannot open %s: %s", a->output, strerror(errno));
  }
  struct session s;
  session_init(&s, r);
  kind = fmt->resolve(&in, &out, &s);
  int status = error_status(kind);
  /* A reader that went away (| head) is not an error of ours. */
  if (rout_close(&out) != 0 && out.error != EPIPE && kind == E_OK)
    status = error_report(E_OUTPUT, "cannot write the output: %s", strerror(out.error));
  if (!a->quiet && kind == E_OK) {
    session_summary(&s, stderr, error_progname);
    debuginfod_summary(r);
  }
  session_free(&s);
  resolver_free(r);
  rin_close(&in);
  return status;
}

int main(int argc, char **argv) {
  error_progname = "austinp-resolve";
  /* It reads files and writes one: it needs no privilege, and a copy
   * installed with some must not lend it (--root, -o, debug files). */
  if (privilege_drop_all() != E_OK) return error_status(E_INTERNAL);
  signal(SIGPIPE, SIG_IGN);
  struct resolve_args a;
  enum error_kind kind = resolve_args_parse(argc, argv, 0, &a);
  if (kind != E_OK) return error_status(kind);
  return run(&a);
}
