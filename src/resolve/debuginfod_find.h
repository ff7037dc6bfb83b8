/* Debug files from debuginfod servers (libdebuginfod, elfutils), by
 * build-id, for the resolver only: austinp-resolve, and austinp's where
 * mode once the target runs again; never the sampler (a download must
 * not stop a sampling loop, or a target we hold stopped).
 *
 * The client follows its environment: DEBUGINFOD_URLS (the servers;
 * unset or empty: nothing is asked), DEBUGINFOD_CACHE_PATH (the cache of
 * downloaded files), DEBUGINFOD_TIMEOUT (seconds without progress before
 * a server is given up). A download is also aborted past
 * DEBUGINFOD_FIND_MAX_SECONDS of wall time or DEBUGINFOD_FIND_MAX_BYTES. */
#ifndef DEBUGINFOD_FIND_H
#define DEBUGINFOD_FIND_H

#include <stdbool.h>
#include <stddef.h>

#define DEBUGINFOD_FIND_MAX_SECONDS 120
#define DEBUGINFOD_FIND_MAX_BYTES (4ll << 30)

struct dbgd;

/* A client when DEBUGINFOD_URLS names a server, else NULL. */
struct dbgd *dbgd_new(void);
void dbgd_free(struct dbgd *d);

/* The path (malloc'd, in the client's cache) of the debug file of the
 * build-id, or NULL. After a failure other than "not found" (a server
 * unreachable, a timeout, an aborted download) no more queries are made:
 * every further file would wait for the same failure. */
char *dbgd_find_debuginfo(struct dbgd *d, const unsigned char *build_id, size_t len);

/* Queries made, files found, and whether the client gave up. */
void dbgd_stats(const struct dbgd *d, unsigned *asked, unsigned *found, bool *gave_up);

#endif
