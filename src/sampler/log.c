#include <stdlib.h>

#include "log.h"

static bool enabled;

void log_open(const char *ident) {
  if (getenv("AUSTIN_NO_LOGGING") != NULL) return;
  /* No LOG_NDELAY: a system without a syslog daemon costs nothing until
   * the first message; no LOG_CONS: the console is not ours to write. */
  openlog(ident, LOG_PID, LOG_USER);
  enabled = true;
}

void log_close(void) {
  if (enabled) closelog();
  enabled = false;
}

bool log_enabled(void) { return enabled; }

void log_vmsg(int priority, const char *fmt, va_list ap) {
  if (enabled) vsyslog(priority, fmt, ap);
}

void log_msg(int priority, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  log_vmsg(priority, fmt, ap);
  va_end(ap);
}
