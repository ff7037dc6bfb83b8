/* Monotonic time in microseconds. */
#ifndef CLOCK_H
#define CLOCK_H

#include <stdint.h>

uint64_t clock_us(void);

/* Sleep until the monotonic clock reads `deadline_us` (returns early on a
 * signal, so that the caller can look at its flags). */
void clock_sleep_until(uint64_t deadline_us);

#endif
