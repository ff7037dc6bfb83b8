/* What austinp-resolve keeps while it reads a profile, whatever its
 * format: the executable mappings the profile announced (`# map:` lines
 * in text), the resolver, and the counts for the summary.
 *
 * Mappings are kept per process: a profile of austinp -C announces each
 * process's mappings with its pid ("P<pid> LO-HI /path"), and a sample's
 * addresses are looked up in the mappings of its own process. Mappings
 * announced without a pid (a single-process profile) serve every sample
 * whose process announced none of its own that holds the address. */
#ifndef SESSION_H
#define SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "resolver.h"

#define SESSION_MAPS_MAX 65536

struct session_file {
  struct resolver_file *rf;
  const char *path;
  uint64_t frames;   /* native frames in this file */
  uint64_t lines;    /* resolved to a source line */
  uint64_t names;    /* to a function only */
};

struct session_map {
  uint64_t lo, hi;
  struct session_file *file;
};

/* The mappings of one process (pid SESSION_NO_PID: announced without). */
#define SESSION_NO_PID (-1)
struct session_maps {
  int64_t pid;
  struct session_map *maps; /* sorted, not overlapping */
  size_t nmaps, cap;
  size_t hint;
};

struct session {
  struct resolver *r;
  struct session_maps *procs;
  size_t nprocs, procs_cap;
  size_t last;              /* procs[last] was looked up last */
  size_t nmaps;             /* in all */
  struct session_file **files;
  size_t nfiles;
  uint64_t frames, lines, names, kept;
};

int session_init(struct session *s, struct resolver *r);
void session_free(struct session *s);

enum session_map_status {
  SESSION_MAP_OK,
  SESSION_MAP_NOMEM,
  SESSION_MAP_TOO_MANY,
  /* session_add_map_spec only: */
  SESSION_MAP_BAD_START,
  SESSION_MAP_BAD_END,
  SESSION_MAP_NO_PATH,
  SESSION_MAP_EMPTY,
  SESSION_MAP_BAD_PID,
};

/* A mapping [lo, hi) of path in process pid (SESSION_NO_PID: none
 * given): it replaces the mappings of that process it overlaps (a module
 * unloaded and another loaded in its place). */
enum session_map_status session_add_map(struct session *s, int64_t pid, uint64_t lo,
                                        uint64_t hi, const char *path);

/* A mapping as austinp announces it, "LO-HI /path" or, with -C,
 * "P<pid> LO-HI /path" (hexadecimal addresses, decimal pid; the text
 * after "# map: ", or the value of a MOJO "map" metadata entry),
 * NUL-terminated at end. */
enum session_map_status session_add_map_spec(struct session *s, const char *spec,
                                             const char *end);
/* What is wrong, for a message ("bad hexadecimal start in"), to be
 * followed by the spec or line. */
const char *session_map_error(enum session_map_status st);

/* Hexadecimal digits (1 to 16) from p, up to the first other character
 * or end: the end of the digits, NULL when there are none or too many. */
const char *session_parse_hex(const char *p, const char *end, uint64_t *v);

/* The one mapping announced by a name that is no path: the kernel's vDSO
 * ("# map: LO-HI [vdso]"); its frames are austinp's names, kept. */
#define SESSION_VDSO "[vdso]"

/* The prefix of a native frame's file (austinp): native@0x<pc>. */
#define SESSION_NATIVE "native@0x"

/* The mapping that holds pc in process pid (its own mappings first, then
 * those announced without a pid), or NULL. */
const struct session_map *session_find(struct session *s, int64_t pid, uint64_t pc);

/* Resolve pc of mapping m through cb (see resolver_file_frames), and
 * count the outcome. Returns the number of frames given to cb, 0 when
 * the frame is to be kept as it was. */
int session_resolve(struct session *s, const struct session_map *m, uint64_t pc,
                    bool is_return_address, resolver_frame_cb cb, void *arg);

/* The summary, a few lines on f, each starting with prefix. */
void session_summary(const struct session *s, FILE *f, const char *prefix);

#endif
