#include <time.h>

#include "clock.h"

uint64_t clock_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void clock_sleep_until(uint64_t deadline_us) {
  struct timespec ts = {(time_t)(deadline_us / 1000000u),
                        (long)(deadline_us % 1000000u) * 1000};
  clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}
