/* The interpreter list of test/list-interpreters, read once per test
 * program (see interpreters.h). The script is $LIST_INTERPRETERS, or
 * $top_srcdir/test/list-interpreters (top_srcdir is set by `make check`). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "interpreters.h"

#define MAX_INTERPS 64

static struct unit_interp present[MAX_INTERPS];
static size_t n_present;
/* "label (why)" lines of the expected interpreters that are absent. */
static char *absent[MAX_INTERPS];
static size_t n_absent;
static char problem[512];
static int loaded;

static char *xstrdup(const char *s) {
  char *c = strdup(s);
  if (c == NULL) {
    perror("strdup");
    exit(2);
  }
  return c;
}

/* One "label<TAB>minor<TAB>argv" line (modified and kept). */
static void add_present(char *line) {
  char *tab1 = strchr(line, '\t');
  char *tab2 = tab1 != NULL ? strchr(tab1 + 1, '\t') : NULL;
  if (tab2 == NULL || n_present == MAX_INTERPS) return;
  *tab1 = *tab2 = '\0';
  struct unit_interp *it = &present[n_present];
  it->label = line;
  it->minor = tab1 + 1;
  size_t argc = 0;
  for (char *tok = strtok(tab2 + 1, " "); tok != NULL && argc < UNIT_INTERP_MAX_ARGS - 1;
       tok = strtok(NULL, " "))
    it->argv[argc++] = tok;
  it->argv[argc] = NULL;
  if (argc == 0) return;
  if (strcmp(it->argv[0], "chroot") == 0 && argc == 3) {
    it->root = it->argv[1];
    char *p;
    if (asprintf(&p, "%s%s", it->argv[1], it->argv[2]) < 0) exit(2);
    it->path = p;
  } else {
    it->root = NULL;
    it->path = it->argv[0];
  }
  n_present++;
}

static int load(void) {
  if (loaded) return problem[0] == '\0' ? 0 : -1;
  loaded = 1;
  const char *env = getenv("LIST_INTERPRETERS");
  const char *top = getenv("top_srcdir");
  char *script;
  if (env != NULL && *env != '\0')
    script = xstrdup(env);
  else if (asprintf(&script, "%s/test/list-interpreters",
                    top != NULL && *top != '\0' ? top : ".") < 0)
    exit(2);
  char *cmd;
  if (asprintf(&cmd, "'%s' --expected", script) < 0) exit(2);
  fflush(NULL);
  FILE *f = popen(cmd, "r");
  free(cmd);
  if (f == NULL) {
    snprintf(problem, sizeof problem, "cannot run %s", script);
    free(script);
    return -1;
  }
  char buf[4096];
  while (fgets(buf, sizeof buf, f) != NULL) {
    buf[strcspn(buf, "\n")] = '\0';
    if (strncmp(buf, "# absent: ", 10) == 0) {
      if (n_absent < MAX_INTERPS) absent[n_absent++] = xstrdup(buf + 10);
    } else if (buf[0] != '#' && buf[0] != '\0') {
      add_present(xstrdup(buf));
    }
  }
  int status = pclose(f);
  if (status != 0)
    snprintf(problem, sizeof problem, "%s --expected failed (wait status %d)", script,
             status);
  free(script);
  return problem[0] == '\0' ? 0 : -1;
}

const struct unit_interp *unit_interp_require(const char *label) {
  if (load() != 0) fail_msg("interpreter list: %s", problem);
  for (size_t i = 0; i < n_present; i++)
    if (strcmp(present[i].label, label) == 0) return &present[i];
  size_t len = strlen(label);
  const char *why = "not listed by test/list-interpreters";
  for (size_t i = 0; i < n_absent; i++)
    if (strncmp(absent[i], label, len) == 0 && absent[i][len] == ' ') why = absent[i] + len + 1;
  print_message("skipped: interpreter %s absent: %s\n", label, why);
  skip();
  return NULL; /* not reached */
}

size_t unit_interp_all(const struct unit_interp **list) {
  if (load() != 0) fail_msg("interpreter list: %s", problem);
  *list = present;
  return n_present;
}
