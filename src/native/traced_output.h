/* austinp's output, written so that a slow reader never freezes the target.
 *
 * While austinp traces a process, some of the target's threads can only go
 * on once we look at them: a thread that starts, a signal to be delivered.
 * A plain blocking write to a pipe that nobody drains would leave them
 * stopped for as long as it blocks. This stream waits for room in the
 * output with poll(2), 10 ms at a time, and handles the pending ptrace
 * events between waits (ptrace_set_poll). */
#ifndef TRACED_OUTPUT_H
#define TRACED_OUTPUT_H

#include <stdio.h>

#include "ptrace_set.h"

/* A stdio stream over fd (not closed with it unless close_fd) whose
 * writes serve ps while they wait. When a stop is requested
 * (sampler_stop_requested) and the output stays full for one more second,
 * writes fail with EPIPE: nobody reads it. NULL on failure. */
FILE *traced_output_open(int fd, int close_fd, struct ptrace_set *ps);

#endif
