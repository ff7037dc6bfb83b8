#define _GNU_SOURCE
#include <argp.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "argp_std.h"
#include "config.h"
#include "cli.h"

const char *argp_program_version = "austin " AUSTIN_COMPAT_VERSION " (" PACKAGE_STRING ")";

/* Ten minutes is longer than any sensible sampling interval or wait. */
#define DURATION_MAX_US (3600ull * 1000000ull)

int cli_parse_duration(const char *text, enum duration_units units,
                       uint64_t bare_unit_us, uint64_t *out_us) {
  if (text == NULL || *text == '\0' || *text == '-' || *text == '+') return -1;
  errno = 0;
  char *end;
  unsigned long long n = strtoull(text, &end, 10);
  if (errno != 0 || end == text) return -1;
  uint64_t scale;
  if (*end == '\0') scale = bare_unit_us;
  else if (strcmp(end, "s") == 0) scale = 1000000;
  else if (strcmp(end, "ms") == 0) scale = 1000;
  else if (strcmp(end, "us") == 0 && units == UNITS_S_MS_US) scale = 1;
  else return -1;
  if (n == 0 || n > DURATION_MAX_US / scale) return -1;
  *out_us = (uint64_t)n * scale;
  return 0;
}

static int parse_pid(const char *text, pid_t *out) {
  errno = 0;
  char *end;
  long v = strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v <= 0 || v > INT_MAX)
    return -1;
  *out = (pid_t)v;
  return 0;
}

static int parse_seconds(const char *text, uint64_t *out_us) {
  if (text == NULL || *text == '\0' || *text == '-' || *text == '+') return -1;
  errno = 0;
  char *end;
  unsigned long long n = strtoull(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || n == 0 ||
      n > DURATION_MAX_US / 1000000)
    return -1;
  *out_us = (uint64_t)n * 1000000;
  return 0;
}

/* -h: a whole number of MiB, 0 (no snapshot) to HEAP_MAX_MB. */
#define HEAP_MAX_MB 64

static int parse_heap(const char *text, uint64_t *out_bytes) {
  if (text == NULL || *text == '\0' || *text == '-' || *text == '+') return -1;
  errno = 0;
  char *end;
  unsigned long long n = strtoull(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || n > HEAP_MAX_MB) return -1;
  *out_bytes = (uint64_t)n << 20;
  return 0;
}

/* austin's help is Austin 3.7's, word for word (compatibility); austinp's
 * own entries replace some of them (see austinp_docs). */
static const struct argp_option argp_options[] = {
    {"binary", 'b', NULL, 0,
     "Emit data in the MOJO binary format. See "
     "https://github.com/P403n1x87/austin/wiki/The-MOJO-file-format for more details.", 0},
    {"children", 'C', NULL, 0, "Attach to child processes.", 0},
    {"full", 'f', NULL, 0, "Produce the full set of metrics (time +mem -mem).", 0},
    {"gc", 'g', NULL, 0, "Sample the garbage collector state.", 0},
    {"heap", 'h', "n_mb", 0,
     "Maximum heap size to allocate to increase sampling accuracy, in MB "
     "(default is 0).", 0},
    {"interval", 'i', "n_us", 0,
     "Sampling interval in microseconds (default is 100). Accepted units: s, ms, us.", 0},
    {"memory", 'm', NULL, 0, "Profile memory usage.", 0},
    {"output", 'o', "FILE", 0, "Specify an output file for the collected samples.", 0},
    {"pid", 'p', "PID", 0, "Attach to the process with the given PID.", 0},
    {"pipe", 'P', NULL, 0, "Pipe mode. Use when piping Austin output.", 0},
    {"sleepless", 's', NULL, 0, "Suppress idle samples to estimate CPU time.", 0},
    {"timeout", 't', "n_ms", 0,
     "Start up wait time in milliseconds (default is 100). Accepted units: s, ms.", 0},
    {"where", 'w', "PID", 0,
     "Dump the stacks of all the threads within the process with the given PID.", 0},
    {"exposure", 'x', "n_sec", 0, "Sample for n_sec seconds only.", 0},
    {0}};

/* austinp's own: appended to the table above by cli_parse_austinp. */
static const struct argp_option kernel_option = {
    "kernel", 'k', NULL, 0,
    "Add each thread's kernel stack, read while the thread is stopped "
    "(/proc/PID/task/TID/stack: needs CAP_SYS_ADMIN, e.g. root).", 0};

/* austinp's wording where austin's would be wrong for it. */
static const struct {
  int key;
  const char *doc;
} austinp_docs[] = {
    {'b', "Emit data in the MOJO binary format, native and kernel frames included, "
          "the map lines as metadata."},
    {'i', "Sampling interval in microseconds (default is 10000: each sample stops "
          "every thread). Accepted units: s, ms, us."},
    {'s', "Suppress idle samples (threads stopped while waiting in a system call) "
          "to estimate CPU time."},
    {'w', "Dump the Python and native stacks of all the threads within the process "
          "with the given PID, once, with source lines of the native frames."},
};

#define N_OPTIONS (sizeof argp_options / sizeof *argp_options)

struct parse_state {
  struct options *o;
  enum error_kind error;
};

static error_t bad_value(struct parse_state *ps, char key, const char *arg,
                         const char *what) {
  error_report(E_BAD_OPTION, "invalid value '%s' for -%c: %s", arg, key, what);
  ps->error = E_BAD_OPTION;
  return EINVAL;
}

static error_t parse_opt(int key, char *arg, struct argp_state *state) {
  struct parse_state *ps = state->input;
  struct options *o = ps->o;
  switch (key) {
  case 'i':
    if (cli_parse_duration(arg, UNITS_S_MS_US, 1, &o->interval_us) != 0)
      return bad_value(ps, key, arg, "expected a positive duration (s, ms, us)");
    break;
  case 't':
    if (cli_parse_duration(arg, UNITS_S_MS, 1000, &o->timeout_us) != 0)
      return bad_value(ps, key, arg, "expected a positive duration (s, ms)");
    break;
  case 'x':
    if (parse_seconds(arg, &o->exposure_us) != 0)
      return bad_value(ps, key, arg, "expected a positive number of seconds");
    break;
  case 'o':
    o->output = arg;
    break;
  case 'p':
    if (parse_pid(arg, &o->pid) != 0)
      return bad_value(ps, key, arg, "expected a process id");
    break;
  case 'w':
    if (parse_pid(arg, &o->where) != 0)
      return bad_value(ps, key, arg, "expected a process id");
    break;
  case 's':
    o->sleepless = true;
    break;
  case 'b':
    o->binary = true;
    break;
  case 'f':
    o->full = true;
    break;
  case 'm':
    o->memory = true;
    break;
  case 'g':
    o->gc = true;
    break;
  case 'P':
    o->pipe = true;
    break;
  case 'k':
    o->kernel = true;
    break;
  case 'C':
    o->children = true;
    break;
  case 'h':
    if (parse_heap(arg, &o->heap_bytes) != 0)
      return bad_value(ps, key, arg, "expected a whole number of MB from 0 to 64");
    break;
  case ARGP_KEY_ARG:
    /* The command starts here: everything after it is its own. */
    o->command = &state->argv[state->next - 1];
    state->next = state->argc;
    break;
  case ARGP_KEY_END:
    if (o->command == NULL && o->pid == 0 && o->where == 0) {
      error_report(E_NO_TARGET, "I need either a command to run or a PID to attach to "
                                "(see --help)");
      ps->error = E_NO_TARGET;
      return EINVAL;
    }
    if ((o->command != NULL) + (o->pid != 0) + (o->where != 0) > 1) {
      error_report(E_BAD_OPTION, "give only one of a command, -p PID and -w PID");
      ps->error = E_BAD_OPTION;
      return EINVAL;
    }
    break;
  default:
    return ARGP_ERR_UNKNOWN;
  }
  return 0;
}

/* Austin 3.7's description of austin. */
static const char austin_doc[] =
    "Austin is a frame stack sampler for CPython that is used to extract profiling "
    "data out of a running Python process (and all its children, if required) that "
    "requires no instrumentation and has practically no impact on the tracee.";

/* austinp is not that: it stops the threads it samples. */
static const char austinp_doc[] =
    "austinp samples the Python stacks of a CPython process (and of its children "
    "with -C) woven into their native stacks: the C functions of the interpreter, "
    "of extension modules and of the libraries they call, and with -k the kernel "
    "stack. Each sample stops every thread with ptrace, copies its registers and "
    "stack, and resumes it: the target runs slower, by the time its threads stand "
    "stopped. Native frames are written as addresses (native@0xPC:SYMBOL:OFFSET, "
    "with a map line for each mapped file); austinp-resolve turns them into source "
    "file:function:line.";

static enum error_kind parse_with(const struct argp_option *options, const char *doc,
                                  int argc, char **argv, uint64_t default_interval_us,
                                  unsigned argp_flags, struct options *o) {
  struct argp argp = {options, parse_opt, "command [ARG...]", doc,
                      NULL, NULL, NULL};
  memset(o, 0, sizeof *o);
  o->interval_us = default_interval_us;
  o->timeout_us = 100000;
  struct parse_state ps = {o, E_OK};
  argp_err_exit_status = error_status(E_BAD_OPTION);
  /* Our own value errors are reported by us, in one line; argp's own
   * complaints (unknown options) keep argp's wording and status. */
  /* No argument at all: the usage on stdout and success, as Austin 3.7
   * does (argp ends the process; with ARGP_NO_EXIT, nothing to do). */
  if (argc <= 1) {
    char *usage_argv[] = {argc == 1 ? argv[0] : "austin", "--usage", NULL};
    argp_std_parse(&argp, 2, usage_argv, ARGP_IN_ORDER | argp_flags, NULL, &ps);
    return E_NO_TARGET;
  }
  error_t rc = argp_std_parse(&argp, argc, argv, ARGP_IN_ORDER | argp_flags, NULL, &ps);
  if (ps.error != E_OK) return ps.error;
  return rc == 0 ? E_OK : E_BAD_OPTION;
}

enum error_kind cli_parse_flags(int argc, char **argv, uint64_t default_interval_us,
                                bool austinp, unsigned argp_flags, struct options *o) {
  if (!austinp)
    return parse_with(argp_options, austin_doc, argc, argv, default_interval_us, argp_flags, o);
  struct argp_option options[N_OPTIONS + 1];
  memcpy(options, argp_options, sizeof argp_options);
  for (size_t i = 0; i + 1 < N_OPTIONS; i++)
    for (size_t d = 0; d < sizeof austinp_docs / sizeof *austinp_docs; d++)
      if (options[i].key == austinp_docs[d].key) options[i].doc = austinp_docs[d].doc;
  options[N_OPTIONS - 1] = kernel_option;
  options[N_OPTIONS] = (struct argp_option){0};
  return parse_with(options, austinp_doc, argc, argv, default_interval_us, argp_flags, o);
}

enum error_kind cli_parse(int argc, char **argv, uint64_t default_interval_us,
                          struct options *o) {
  return cli_parse_flags(argc, argv, default_interval_us, false, 0, o);
}

enum error_kind cli_parse_austinp(int argc, char **argv, uint64_t default_interval_us,
                                  struct options *o) {
  return cli_parse_flags(argc, argv, default_interval_us, true, 0, o);
}
