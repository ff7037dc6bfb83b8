#define _GNU_SOURCE
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "log.h"

const char *error_progname = "austin";

/* austin: Austin 3.7 has this case, with this status and these words. */
static const struct {
  int status;
  bool austin;
  const char *title;
} error_table[E_KIND_COUNT] = {
  [E_OK]              = {0,   false, "success"},
  [E_NO_VERSION]      = {3,   true,  "Cannot determine the version of the Python interpreter"},
  [E_NOT_PYTHON]      = {32,  true,  "not a Python process"},
  [E_LAUNCH]          = {33,  true,  "Cannot launch the given command or it terminated too quickly"},
  [E_ATTACH]          = {36,  true,  "Cannot attach to the given process"},
  [E_PERMISSION]      = {37,  true,  "Permission denied"},
  [E_NO_PROCESS]      = {38,  true,  "No such process"},
  [E_NO_CHILDREN]     = {39,  true,  "Non-Python parent process has no Python children"},
  [E_BAD_OPTION]      = {64,  false, "bad option value"},
  [E_NO_TARGET]       = {255, true,  "I need either a command to run or a PID to attach to"},
  [E_OUTPUT_CREATE]   = {255, true,  "Unable to create the given output file"},
  [E_MALFORMED_INPUT] = {65,  false, "malformed input"},
  [E_INPUT]           = {66,  false, "cannot read the input"},
  [E_UNSUPPORTED]     = {69,  false, "unsupported Python version"},
  [E_INTERNAL]        = {70,  false, "internal error"},
  [E_OUTPUT]          = {74,  false, "cannot write the output"},
};

int error_status(enum error_kind kind) {
  if (kind < 0 || kind >= E_KIND_COUNT) return error_table[E_INTERNAL].status;
  return error_table[kind].status;
}

const char *error_title(enum error_kind kind) {
  if (kind < 0 || kind >= E_KIND_COUNT) return "unknown error";
  return error_table[kind].title;
}

int error_report(enum error_kind kind, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  /* Austin's words first, for those who look for them (scripts that
   * grep Austin's messages), unless the message says them already. */
  const char *title = error_title(kind);
  bool prefix = kind > E_OK && kind < E_KIND_COUNT && error_table[kind].austin &&
                strcasestr(msg, title) == NULL;
  if (prefix)
    fprintf(stderr, "%s: %s: %s\n", error_progname, title, msg);
  else
    fprintf(stderr, "%s: %s\n", error_progname, msg);
  /* The same line in the log, when the program keeps one. */
  if (prefix)
    log_msg(LOG_ERR, "%s: %s", title, msg);
  else
    log_msg(LOG_ERR, "%s", msg);
  return error_status(kind);
}
