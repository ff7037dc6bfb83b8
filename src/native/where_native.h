/* austinp -w PID: every thread's native and Python frames, once, with the
 * source file and line of each native frame (inlined functions shown as
 * such) and, with -k, its kernel frames. Every thread is captured (stopped
 * briefly, one at a time), the whole process is detached, and only then
 * is anything unwound, resolved or written. */
#ifndef WHERE_NATIVE_H
#define WHERE_NATIVE_H

#include "cli.h"

/* Returns the exit status. */
int where_native(const struct options *o);

#endif
