/* The interpreters of test/list-interpreters, for the unit tests: the same
 * list the functional tests are parametrized with, so that no unit test
 * hard-codes a path, and a missing interpreter is a loud skip. */
#ifndef TEST_UNIT_INTERPRETERS_H
#define TEST_UNIT_INTERPRETERS_H

#include <stddef.h>

#define UNIT_INTERP_MAX_ARGS 8

struct unit_interp {
  const char *label;  /* pyenv-3.12, debian-3.11, sid-3.14... */
  const char *minor;  /* 3.12 */
  /* The command line (NULL-terminated): {exe} or {"chroot", root, exe}. */
  char *argv[UNIT_INTERP_MAX_ARGS];
  const char *root;   /* the root it runs in, NULL for ours */
  const char *path;   /* the executable as this process opens it (root + exe) */
};

/* The interpreter listed as `label`. When it is absent, prints the reason
 * test/list-interpreters --expected gives ("skipped: interpreter LABEL
 * absent: ...") and skips the current cmocka test; when the list cannot be
 * read, fails it. */
const struct unit_interp *unit_interp_require(const char *label);

/* Every interpreter present, in the list's order; their number. Fails the
 * current test when the list cannot be read. */
size_t unit_interp_all(const struct unit_interp **list);

#endif
