/* Debug files from debuginfod servers (see debuginfod_find.h). */
#define _GNU_SOURCE
#include "debuginfod_find.h"

#include <elfutils/debuginfod.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

struct dbgd {
  debuginfod_client *client;
  struct timespec started; /* of the query under way */
  unsigned asked, found;
  bool gave_up;
};

static double seconds_since(const struct timespec *t) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

/* Called by the client as a download goes (a: bytes so far, b: the
 * total when known); non-zero aborts it. DEBUGINFOD_TIMEOUT bounds a
 * stall; this bounds a slow trickle and a huge file. */
static int progress(debuginfod_client *c, long a, long b) {
  (void)b;
  struct dbgd *d = debuginfod_get_user_data(c);
  if (d == NULL) return 0;
  if (a > DEBUGINFOD_FIND_MAX_BYTES) return 1;
  return seconds_since(&d->started) > DEBUGINFOD_FIND_MAX_SECONDS;
}

struct dbgd *dbgd_new(void) {
  const char *urls = getenv("DEBUGINFOD_URLS");
  if (urls == NULL || urls[0] == '\0') return NULL;
  struct dbgd *d = calloc(1, sizeof *d);
  if (d == NULL) return NULL;
  d->client = debuginfod_begin();
  if (d->client == NULL) {
    free(d);
    return NULL;
  }
  debuginfod_set_user_data(d->client, d);
  debuginfod_set_progressfn(d->client, progress);
  return d;
}

void dbgd_free(struct dbgd *d) {
  if (d == NULL) return;
  debuginfod_end(d->client);
  free(d);
}

char *dbgd_find_debuginfo(struct dbgd *d, const unsigned char *build_id, size_t len) {
  if (d == NULL || d->gave_up || build_id == NULL || len == 0 || len > INT32_MAX) return NULL;
  d->asked++;
  clock_gettime(CLOCK_MONOTONIC, &d->started);
  char *path = NULL;
  int fd = debuginfod_find_debuginfo(d->client, build_id, (int)len, &path);
  if (fd < 0) {
    /* Not found on any server: the next build-id may be. Anything else
     * (no connection, a timeout, an abort) would come again. */
    if (fd != -ENOENT) d->gave_up = true;
    free(path);
    return NULL;
  }
  close(fd); /* the caller opens the path with its own reader */
  d->found++;
  return path;
}

void dbgd_stats(const struct dbgd *d, unsigned *asked, unsigned *found, bool *gave_up) {
  *asked = d != NULL ? d->asked : 0;
  *found = d != NULL ? d->found : 0;
  *gave_up = d != NULL && d->gave_up;
}
