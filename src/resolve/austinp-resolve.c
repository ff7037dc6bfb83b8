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

#define DEBUG_DIRS_MAX 4

struct args {
  const char *input, *output, *root;
  const char *debug_dirs[DEBUG_DIRS_MAX];
  int ndebug_dirs;
  bool quiet;
  bool failed;
};

enum { OPT_ROOT = 'r', OPT_DEBUG_DIR = 0x100 };

static const struct argp_option options[] = {
    {"output", 'o', "FILE", 0, "Write the resolved profile to FILE (default: standard output).", 0},
    {"root", OPT_ROOT, "DIR", 0,
     "Look up the profile's files, and their debug files, under DIR (the root of the "
     "container or chroot whose paths the profile names).", 0},
    {"debug-dir", OPT_DEBUG_DIR, "DIR", 0,
     "Also look for debug files (by build-id and .gnu_debuglink) under DIR, after "
     "ROOT/usr/lib/debug. May be given up to 4 times.", 0},
    {"quiet", 'q', NULL, 0, "Print no summary on standard error.", 0},
    {0}};

static error_t parse_opt(int key, char *arg, struct argp_state *state) {
  struct args *a = state->input;
  switch (key) {
  case 'o': a->output = arg; break;
  case 'q': a->quiet = true; break;
  case OPT_ROOT:
    if (*arg == '\0') {
      error_report(E_BAD_OPTION, "invalid value '' for --root: expected a directory");
      a->failed = true;
      return EINVAL;
    }
    a->root = arg;
    break;
  case OPT_DEBUG_DIR:
    if (a->ndebug_dirs == DEBUG_DIRS_MAX) {
      error_report(E_BAD_OPTION, "--debug-dir given more than %d times", DEBUG_DIRS_MAX);
      a->failed = true;
      return EINVAL;
    }
    a->debug_dirs[a->ndebug_dirs++] = arg;
    break;
  case ARGP_KEY_ARG:
    if (a->input != NULL) {
      error_report(E_BAD_OPTION, "one input file at most (got '%s' and '%s')", a->input, arg);
      a->failed = true;
      return EINVAL;
    }
    a->input = arg;
    break;
  default: return ARGP_ERR_UNKNOWN;
  }
  return 0;
}

static enum error_kind parse_args(int argc, char **argv, struct args *a) {
  static const char doc[] =
      "Resolve the native frames of an austinp profile (native@0xPC:SYMBOL:OFFSET, with "
      "'# map:' lines) to source file:function:line frames, one per inlined function. "
      "FILE is the profile (default: standard input).";
  struct argp argp = {options, parse_opt, "[FILE]", doc, NULL, NULL, NULL};
  memset(a, 0, sizeof *a);
  argp_err_exit_status = error_status(E_BAD_OPTION);
  error_t rc = argp_parse(&argp, argc, argv, 0, NULL, a);
  if (a->failed || rc != 0) return E_BAD_OPTION;
  return E_OK;
}

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

static int run(const struct args *a) {
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
  if (!a->quiet && kind == E_OK) session_summary(&s, stderr, error_progname);
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
  struct args a;
  enum error_kind kind = parse_args(argc, argv, &a);
  if (kind != E_OK) return error_status(kind);
  return run(&a);
}
