/* The process we sample: launched by us or attached to. */
#ifndef TARGET_H
#define TARGET_H

#include <stdbool.h>
#include <sys/types.h>

#include "errors.h"

struct target {
  pid_t pid;
  bool launched;     /* we started it: we reap it */
  bool exited;
  int wait_status;   /* when launched and exited */
  uint64_t zombie_checked_us; /* last look at /proc/PID/stat */
};

/* Start argv[0] (searched in PATH) with its stdout sent to /dev/null when
 * ours is the profile (quiet_stdout). Returns E_LAUNCH with a reason
 * when it cannot be started (Austin's "Cannot launch"). */
enum error_kind target_launch(char **argv, bool quiet_stdout, struct target *t,
                              char *why, size_t whylen);

/* Check that pid exists (E_ATTACH, Austin's "Cannot attach", when not). */
enum error_kind target_attach(pid_t pid, struct target *t, char *why,
                              size_t whylen);

/* Is the target still running (not exited, not a zombie)? */
bool target_alive(struct target *t);

/* A launched target that we stop profiling early (exposure, signal, not
 * Python) is terminated and reaped; an attached one is left alone. */
void target_release(struct target *t);

/* Wait for a launched target to end (after its run was fully sampled). */
void target_wait(struct target *t);

#endif
