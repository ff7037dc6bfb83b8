/* The resolver: native addresses of a profiled process to source
 * file:function:line, with one frame per inlined function, from the
 * DWARF of the mapped files (libbfd), offline.
 *
 * Shared by austinp-resolve (whatever its input format) and austinp's
 * where mode. No output format here: results come back through a
 * callback, one call per frame, outermost first.
 *
 * A mapped file is named by its path as the target saw it; with a root
 * (a container's or a chroot's root directory on this machine) the path
 * is looked up under that root, and so are its separate debug files.
 * Each file is opened once and kept open; results are cached per (file,
 * address) in a cache of bounded size. Not thread-safe. */
#ifndef RESOLVER_H
#define RESOLVER_H

#include <stdbool.h>
#include <stdint.h>

struct resolver;
struct resolver_file;

/* Most distinct files one resolver opens. */
#define RESOLVER_FILES_MAX 4096

/* One frame of a resolved address. function is demangled (C++, Rust);
 * NULL when unknown. file is the source file, NULL when unknown; line is
 * 0 when unknown (file is then NULL too: a file without a line is of no
 * use to a reader of the profile). The strings live until the next call
 * into the resolver. */
struct resolver_frame {
  const char *function;
  const char *file;
  unsigned line;
};

/* Called once per frame, outermost (the caller into which the others
 * were inlined) first, innermost last. */
typedef void (*resolver_frame_cb)(void *arg, const struct resolver_frame *frame);

/* What is known of a mapped file. */
enum resolver_file_state {
  RESOLVER_FILE_DEBUG,    /* DWARF found (in the file or a debug file) */
  RESOLVER_FILE_NO_DEBUG, /* opened, but no DWARF: symbol tables only */
  RESOLVER_FILE_MISSING,  /* cannot be opened, or no executable segment */
};

/* A resolver whose files are looked up under root (NULL or "/" for this
 * machine's root). NULL when out of memory or libbfd is unusable. */
struct resolver *resolver_new(const char *root);
void resolver_free(struct resolver *r);

/* Also look for debug files (build-id and .gnu_debuglink) under dir, a
 * path of this machine, after ROOT/usr/lib/debug. -1 if too many. */
int resolver_add_debug_dir(struct resolver *r, const char *dir);

/* The file mapped from path, opened (once) on first use. NULL only when
 * out of memory or when too many files were asked for; a file that
 * cannot be opened is returned with the state RESOLVER_FILE_MISSING. */
struct resolver_file *resolver_file(struct resolver *r, const char *path);
enum resolver_file_state resolver_file_state(const struct resolver_file *f);
const char *resolver_file_path(const struct resolver_file *f);
/* The file that held the DWARF (the file itself or its debug file). */
const char *resolver_file_debug_path(const struct resolver_file *f);
/* Whether the names of a file without debug info came (also) from its
 * MiniDebugInfo (.gnu_debugdata; known once a name was looked up). */
bool resolver_file_minidebug(const struct resolver_file *f);

/* Resolve pc, an address of the process in which the executable segment
 * of f was mapped at map_lo (the start of the mapping, as a `# map:`
 * line or /proc/PID/maps gives it). is_return_address: pc is a return
 * address (every native frame but the innermost), so pc - 1 is looked
 * up, as addr2line users do, to land in the call instruction.
 * Returns the number of frames passed to cb (0 when nothing is known of
 * pc: keep the frame as it was), -1 when f cannot be used. */
int resolver_file_frames(struct resolver *r, struct resolver_file *f, uint64_t map_lo,
                         uint64_t pc, bool is_return_address, resolver_frame_cb cb,
                         void *arg);

/* The same, naming the file by its path. */
int resolver_frames(struct resolver *r, const char *path, uint64_t map_lo, uint64_t pc,
                    bool is_return_address, resolver_frame_cb cb, void *arg);

/* The address in the file (its link-time virtual address) that pc maps
 * to, for tools and tests that compare with addr2line. -1 if unknown. */
int resolver_file_vaddr(struct resolver_file *f, uint64_t map_lo, uint64_t pc,
                        uint64_t *vaddr);

/* Counters, for summaries and benchmarks. */
struct resolver_stats {
  uint64_t lookups;    /* calls that reached the cache */
  uint64_t misses;     /* of which resolved through libbfd */
  uint64_t flushes;    /* times the cache was full and emptied */
  uint64_t files;      /* files asked for */
  unsigned debuginfod_asked, debuginfod_found; /* debug files asked of servers, found */
  bool debuginfod_gave_up; /* a server failed (unreachable, timeout): asked no more */
};
void resolver_stats(const struct resolver *r, struct resolver_stats *out);

#endif
