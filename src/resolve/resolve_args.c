#define _GNU_SOURCE
#include <argp.h>
#include <errno.h>
#include <string.h>

#include "argp_std.h"
#include "resolve_args.h"

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
  struct resolve_args *a = state->input;
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
    if (a->ndebug_dirs == RESOLVE_DEBUG_DIRS_MAX) {
      error_report(E_BAD_OPTION, "--debug-dir given more than %d times", RESOLVE_DEBUG_DIRS_MAX);
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

enum error_kind resolve_args_parse(int argc, char **argv, unsigned argp_flags,
                                   struct resolve_args *a) {
  static const char doc[] =
      "Resolve the native frames of an austinp profile (native@0xPC:SYMBOL:OFFSET, with "
      "'# map:' lines) to source file:function:line frames, one per inlined function. "
      "FILE is the profile (default: standard input).";
  struct argp argp = {options, parse_opt, "[FILE]", doc, NULL, NULL, NULL};
  memset(a, 0, sizeof *a);
  argp_err_exit_status = error_status(E_BAD_OPTION);
  error_t rc = argp_std_parse(&argp, argc, argv, argp_flags, NULL, a);
  if (a->failed || rc != 0) return E_BAD_OPTION;
  return E_OK;
}
