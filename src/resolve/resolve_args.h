/* austinp-resolve's command line: [OPTION...] [FILE]. Apart from the
 * command so that tests and the fuzzer (test/fuzz/fuzz_cli.c) can call it. */
#ifndef RESOLVE_ARGS_H
#define RESOLVE_ARGS_H

#include <stdbool.h>

#include "errors.h"

#define RESOLVE_DEBUG_DIRS_MAX 4

/* Every string points into argv. */
struct resolve_args {
  const char *input, *output, *root;  /* NULL when not given */
  const char *debug_dirs[RESOLVE_DEBUG_DIRS_MAX];
  int ndebug_dirs;
  bool quiet;
  bool failed;  /* a value was refused (reported) */
};

/* Parse argv into a. argp_flags are added to the command's own: 0 in
 * the command, where --help, --usage and -V print and exit 0 and argp's
 * own complaints exit 64; ARGP_NO_EXIT in tests and the fuzzer, where
 * they print and return instead. A bad value prints one line on stderr;
 * E_BAD_OPTION on any error, E_OK otherwise. */
enum error_kind resolve_args_parse(int argc, char **argv, unsigned argp_flags,
                                   struct resolve_args *a);

#endif
