#include <stdarg.h>
#include <stdio.h>

#include "errors.h"
#include "log.h"

const char *error_progname = "austin";

static const struct {
  int status;
  const char *title;
} error_table[E_KIND_COUNT] = {
  [E_OK]                = {0,   "success"},
  [E_INTERNAL]          = {1,   "internal error"},
  [E_NO_PROCESS]        = {10,  "no such process"},
  [E_NOT_PYTHON]        = {11,  "not a Python process"},
  [E_PERMISSION]        = {12,  "permission denied"},
  [E_UNSUPPORTED]       = {13,  "unsupported Python version"},
  [E_COMMAND_NOT_FOUND] = {127, "command not found"},
  [E_BAD_OPTION]        = {64,  "bad option value"},
  [E_OUTPUT]            = {14,  "cannot write the output"},
  [E_MALFORMED_INPUT]   = {15,  "malformed input"},
  [E_INPUT]             = {16,  "cannot read the input"},
};

int error_status(enum error_kind kind) {
  if (kind < 0 || kind >= E_KIND_COUNT) return 1;
  return error_table[kind].status;
}

const char *error_title(enum error_kind kind) {
  if (kind < 0 || kind >= E_KIND_COUNT) return "unknown error";
  return error_table[kind].title;
}

int error_report(enum error_kind kind, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "%s: ", error_progname);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  /* The same line in the log, when the program keeps one. */
  va_start(ap, fmt);
  log_vmsg(LOG_ERR, fmt, ap);
  va_end(ap);
  return error_status(kind);
}
