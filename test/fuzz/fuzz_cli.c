/* Fuzz target: the command lines of austin and austinp (cli.c) and of
 * austinp-resolve (resolve_args.c).
 *
 * The input is split at its NUL bytes into argv, argv[0] included (argp
 * names the program after it in its messages). Each parser runs with
 * ARGP_NO_EXIT, so that --help, --usage, -V and argp's own errors print
 * and return rather than end the process. Every parse must give either
 * E_BAD_OPTION, E_NO_TARGET (the samplers: nothing to sample, as with no
 * argument at all) or E_OK with options that hold what cli.h and
 * resolve_args.h promise; no parser may write into the strings of argv.
 * Output goes wherever stdout and stderr go (bench/fuzz closes them). */
#define _GNU_SOURCE
#include <argp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "resolve_args.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* cli.c's bound on a duration (an hour), and on -h (64 MiB). */
#define DURATION_MAX_US (3600ull * 1000000ull)
#define HEAP_MAX_BYTES (64ull << 20)

struct cmdline {
  char *buf;      /* the input, each piece NUL-ended */
  size_t size;    /* of the input */
  char **orig;    /* the pieces, as split */
  char **argv;    /* a copy of orig handed to a parser (argp may permute it) */
  int argc;
};

static void require(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "fuzz_cli: %s\n", what);
    abort();
  }
}

static int split(const uint8_t *data, size_t size, struct cmdline *c) {
  c->size = size;
  c->argc = 1;
  for (size_t i = 0; i < size; i++) c->argc += data[i] == '\0';
  c->buf = malloc(size + 1);
  c->orig = malloc((c->argc + 1) * sizeof *c->orig);
  c->argv = malloc((c->argc + 1) * sizeof *c->argv);
  if (c->buf == NULL || c->orig == NULL || c->argv == NULL) return -1;
  memcpy(c->buf, data, size);
  c->buf[size] = '\0';
  int n = 0;
  c->orig[n++] = c->buf;
  for (size_t i = 0; i < size; i++)
    if (c->buf[i] == '\0') c->orig[n++] = c->buf + i + 1;
  c->orig[n] = NULL;
  return 0;
}

/* A fresh argv for the next parser. */
static char **fresh_argv(struct cmdline *c) {
  memcpy(c->argv, c->orig, (c->argc + 1) * sizeof *c->argv);
  return c->argv;
}

/* p is a string within one of the arguments (the whole of one, or the
 * end of one: "-ofile", "--output=file"). */
static int in_argv(const struct cmdline *c, const char *p) {
  for (int i = 0; i < c->argc; i++)
    if (p >= c->orig[i] && p <= c->orig[i] + strlen(c->orig[i])) return 1;
  return 0;
}

static void check_options(const struct cmdline *c, const struct options *o, int austinp) {
  require(o->interval_us > 0 && o->interval_us <= DURATION_MAX_US, "interval out of range");
  require(o->timeout_us > 0 && o->timeout_us <= DURATION_MAX_US, "timeout out of range");
  require(o->exposure_us <= DURATION_MAX_US && o->exposure_us % 1000000 == 0,
          "exposure not a whole number of seconds in range");
  require(o->heap_bytes <= HEAP_MAX_BYTES && o->heap_bytes % (1u << 20) == 0,
          "heap not a whole number of MiB in range");
  require(o->pid >= 0 && o->where >= 0, "a negative process id");
  require((o->command != NULL) + (o->pid != 0) + (o->where != 0) == 1,
          "not exactly one of a command, -p and -w");
  require(austinp || !o->kernel, "-k taken by austin");
  require(o->output == NULL || in_argv(c, o->output), "output name not from argv");
  if (o->command == NULL) return;
  /* The command is the tail of argv, in order, as given (ARGP_IN_ORDER). */
  require(o->command > c->argv && o->command < c->argv + c->argc, "command not within argv");
  for (int i = (int)(o->command - c->argv); i <= c->argc; i++)
    require(c->argv[i] == c->orig[i], "command arguments moved or changed");
}

static int same_options(const struct options *a, const struct options *b) {
  return a->interval_us == b->interval_us && a->timeout_us == b->timeout_us &&
         a->exposure_us == b->exposure_us && a->output == b->output && a->pid == b->pid &&
         a->where == b->where && a->sleepless == b->sleepless && a->binary == b->binary &&
         a->full == b->full && a->memory == b->memory && a->gc == b->gc &&
         a->pipe == b->pipe && a->kernel == b->kernel && a->children == b->children &&
         a->heap_bytes == b->heap_bytes && a->command == b->command;
}

static void fuzz_samplers(struct cmdline *c) {
  struct options austin, austinp;
  enum error_kind ka = cli_parse_flags(c->argc, fresh_argv(c), 100, false, ARGP_NO_EXIT, &austin);
  require(ka == E_OK || ka == E_BAD_OPTION || ka == E_NO_TARGET,
          "austin: an error kind other than a bad option or no target");
  if (ka == E_OK) check_options(c, &austin, 0);
  enum error_kind kp = cli_parse_flags(c->argc, fresh_argv(c), 100, true, ARGP_NO_EXIT, &austinp);
  require(kp == E_OK || kp == E_BAD_OPTION || kp == E_NO_TARGET,
          "austinp: an error kind other than a bad option or no target");
  if (kp == E_OK) check_options(c, &austinp, 1);
  /* -k (--kernel) is all that tells them apart. */
  if (memchr(c->buf, 'k', c->size) == NULL) {
    require(ka == kp, "austin and austinp disagree on a command line without -k");
    require(ka != E_OK || same_options(&austin, &austinp),
            "austin and austinp read a command line without -k differently");
  }
}

static void fuzz_resolve(struct cmdline *c) {
  struct resolve_args a;
  enum error_kind k = resolve_args_parse(c->argc, fresh_argv(c), ARGP_NO_EXIT, &a);
  require(k == E_OK || k == E_BAD_OPTION, "austinp-resolve: an error kind other than a bad option");
  if (k != E_OK) return;
  require(!a.failed, "a refused value, yet E_OK");
  require(a.ndebug_dirs >= 0 && a.ndebug_dirs <= RESOLVE_DEBUG_DIRS_MAX, "too many debug dirs");
  require(a.input == NULL || in_argv(c, a.input), "input name not from argv");
  require(a.output == NULL || in_argv(c, a.output), "output name not from argv");
  require(a.root == NULL || (in_argv(c, a.root) && *a.root != '\0'), "root empty or not from argv");
  for (int i = 0; i < a.ndebug_dirs; i++)
    require(in_argv(c, a.debug_dirs[i]), "debug dir not from argv");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct cmdline c = {0};
  if (split(data, size, &c) == 0) {
    fuzz_samplers(&c);
    fuzz_resolve(&c);
    require(memcmp(c.buf, data, size) == 0, "a parser wrote into argv's strings");
  }
  free(c.buf);
  free(c.orig);
  free(c.argv);
  return 0;
}
