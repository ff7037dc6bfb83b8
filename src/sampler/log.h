/* Logging to syslog, as Austin 3.7 does: the start and end of a run, its
 * statistics, child processes joining and leaving (-C) and errors. Set
 * AUSTIN_NO_LOGGING (to anything) to turn it off. Messages go nowhere
 * until log_open is called. */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <syslog.h>

/* Open the log under `ident`, unless AUSTIN_NO_LOGGING is set. */
void log_open(const char *ident);
void log_close(void);
bool log_enabled(void);

/* One message of a syslog priority (LOG_INFO, LOG_WARNING, LOG_ERR). */
void log_msg(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(int priority, const char *fmt, va_list ap);

#endif
