/* Discovery: from a pid to the interpreter we can read.
 *
 * Finds the file that holds the interpreter (libpython or the executable)
 * among the target's mappings, opens it through /proc/PID/root, locates
 * _PyRuntime (symbol or .PyRuntime section) and PyCode_Type, reads the
 * version and selects the structure layout. */
#ifndef PY_DISCOVER_H
#define PY_DISCOVER_H

#include <stdint.h>
#include <sys/types.h>

#include "errors.h"
#include "py_layout.h"

struct py_runtime {
  pid_t pid;
  char *path;               /* the interpreter file, as the target names it */
  uint64_t bias;            /* load bias of that file */
  uint64_t runtime_addr;    /* _PyRuntime in the target */
  uint64_t code_type_addr;  /* &PyCode_Type in the target, 0 if unknown */
  int major, minor, micro;
  char version[32];         /* "3.12.1" */
  uint64_t map_start, map_offset, map_inode; /* the file's first mapping */
  struct py_layout layout;
};

/* Try once to discover the interpreter of `pid`. On failure returns the
 * error kind and writes a one-line reason into why. E_NOT_PYTHON is the
 * answer while a just-launched process has not yet mapped Python. */
enum error_kind py_discover(pid_t pid, struct py_runtime *out, char *why,
                            size_t whylen);

/* Discovery of a process that may map an interpreter already discovered
 * in another (a forked child does): when pid maps one of the `known`
 * runtimes' files (same path and inode) at the same place, its runtime is
 * a copy of that one, found without reading the file again; otherwise
 * this is py_discover. */
enum error_kind py_discover_known(pid_t pid, const struct py_runtime *const *known,
                                  size_t nknown, struct py_runtime *out, char *why,
                                  size_t whylen);

void py_runtime_free(struct py_runtime *rt);

#endif
