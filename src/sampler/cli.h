/* Command line, as Austin 3.7 spells it. Shared by austin and austinp. */
#ifndef CLI_H
#define CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "errors.h"

struct options {
  uint64_t interval_us;  /* -i */
  uint64_t timeout_us;   /* -t: how long to wait for a Python runtime */
  uint64_t exposure_us;  /* -x: 0 = until the target ends */
  const char *output;    /* -o, NULL for stdout */
  pid_t pid;             /* -p */
  pid_t where;           /* -w */
  bool sleepless;        /* -s */
  bool binary;           /* -b: MOJO output */
  bool full;             /* -f: time, idle and memory metrics */
  bool memory;           /* -m: resident memory deltas */
  bool gc;               /* -g: mark samples taken while the GC collects */
  bool pipe;             /* -P: output read live by another program */
  bool kernel;           /* -k: kernel stacks too (austinp only) */
  bool children;         /* -C: sample the target's descendants too */
  uint64_t heap_bytes;   /* -h: largest snapshot of frame memory, 0 = none */
  char **command;        /* the command to launch, NULL-terminated */
};

/* What -V prints (argp's variable; each program may set its own). */
extern const char *argp_program_version;

/* Units a duration option accepts. */
enum duration_units { UNITS_S_MS_US, UNITS_S_MS };

/* Parse "100", "10ms", "1s", "250us" into microseconds. A bare number is
 * in `bare_unit_us` microseconds (1 for -i, 1000 for -t). 0 on success,
 * -1 when malformed, zero, negative or too large. */
int cli_parse_duration(const char *text, enum duration_units units,
                       uint64_t bare_unit_us, uint64_t *out_us);

/* Parse argv into o (defaults first). On a bad value it prints one line on
 * stderr and returns E_BAD_OPTION; --help/--usage/-V print and exit 0. */
enum error_kind cli_parse(int argc, char **argv, uint64_t default_interval_us,
                          struct options *o);

/* The same for austinp, which also takes -k/--kernel (austin does not
 * offer it: argp rejects it as an unknown option there). */
enum error_kind cli_parse_austinp(int argc, char **argv, uint64_t default_interval_us,
                                  struct options *o);

/* Either of the above (austinp: with -k), with argp_flags added to the
 * programs' own: ARGP_NO_EXIT for tests and the fuzzer, where --help,
 * --usage, -V and argp's own complaints print and return instead of
 * ending the process. The programs pass 0. */
enum error_kind cli_parse_flags(int argc, char **argv, uint64_t default_interval_us,
                                bool austinp, unsigned argp_flags, struct options *o);

#endif
