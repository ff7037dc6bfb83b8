#define _GNU_SOURCE
#include <argp.h>
#include <stdio.h>
#include <stdlib.h>

#include "argp_std.h"

/* A key that no program's own option takes. */
#define KEY_USAGE 0x10000

/* The lines that argp's own help shows for these options, and that
 * Austin 3.7's README shows in its help listing: kept word for word. The
 * last group (-1), as argp places them. */
static const struct argp_option help_options[] = {
    {"help", '?', NULL, 0, "Give this help list", -1},
    {"usage", KEY_USAGE, NULL, 0, "Give a short usage message", 0},
    {0}};

static const struct argp_option version_options[] = {
    {"version", 'V', NULL, 0, "Print program version", -1},
    {0}};

static error_t help_parser(int key, char *arg, struct argp_state *state) {
  (void)arg;
  switch (key) {
  case '?':
    argp_state_help(state, state->out_stream, ARGP_HELP_STD_HELP);
    return 0;
  case KEY_USAGE:
    argp_state_help(state, state->out_stream, ARGP_HELP_USAGE | ARGP_HELP_EXIT_OK);
    return 0;
  default:
    return ARGP_ERR_UNKNOWN;
  }
}

static error_t version_parser(int key, char *arg, struct argp_state *state) {
  (void)arg;
  if (key != 'V') return ARGP_ERR_UNKNOWN;
  fprintf(state->out_stream, "%s\n", argp_program_version);
  if (!(state->flags & ARGP_NO_EXIT)) exit(0);
  return 0;
}

error_t argp_std_parse(const struct argp *argp, int argc, char **argv, unsigned flags,
                       int *arg_index, void *input) {
  static const struct argp help_argp = {help_options, help_parser, NULL, NULL, NULL, NULL, NULL};
  static const struct argp version_argp = {version_options, version_parser, NULL, NULL,
                                           NULL, NULL, NULL};
  /* The program's options, then the standard ones: a top level of no
   * options of its own, so that the program's parser, the first, gets
   * input and the help lists everything in argp's order. */
  struct argp_child children[4] = {{argp, 0, NULL, 0}, {&help_argp, 0, NULL, 0}};
  if (argp_program_version != NULL) children[2] = (struct argp_child){&version_argp, 0, NULL, 0};
  struct argp top = {NULL, NULL, NULL, NULL, children, NULL, NULL};
  return argp_parse(&top, argc, argv, flags | ARGP_NO_HELP, arg_index, input);
}
