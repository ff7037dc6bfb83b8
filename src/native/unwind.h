/* Offline unwinding of native stacks, with libunwind over a copy.
 *
 * An unwinder is a libunwind address space of our own for one process
 * (unw_create_addr_space with custom accessors, as Linux perf does): stack
 * memory comes from a snapshot's copy, registers from its saved
 * registers, and unwind tables (.eh_frame_hdr/.eh_frame, .debug_frame as
 * a fallback) from the mapped ELF files, read once per file and cached.
 * The thread has long been resumed when we unwind: nothing here touches
 * the live process except to read file-backed memory a table points to. */
#ifndef UNWIND_H
#define UNWIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "snapshot.h"

struct unwinder;

/* An unwinder for process pid (its maps are read now and again whenever
 * a pc falls outside every known mapping). NULL on failure. */
struct unwinder *unwinder_new(pid_t pid);

/* The same, sharing the mapped files of `other` (their unwind tables and
 * symbols, each read once) when pid sees the same root directory; each
 * unwinder keeps its own mappings, load biases and caches. Both must
 * use the same classifier (unwinder_set_classifier). */
struct unwinder *unwinder_new_sharing(pid_t pid, const struct unwinder *other);
void unwinder_free(struct unwinder *u);

/* Unwind a snapshot: writes at most max return addresses, leaf first
 * (pcs[0] is the interrupted instruction pointer), and returns how many.
 * *complete is false when the walk stopped before the outermost frame (a
 * pc with no unwind information, the end of the copied stack, garbage). */
int unwinder_unwind(struct unwinder *u, const struct native_snapshot *s,
                    uint64_t *pcs, int max, bool *complete);

/* Why a walk ended. austinp writes the name of each reason but the first
 * in the marker frame of a sample whose native stack stops short, and
 * counts them in its footer (man/austinp.1). */
enum unwind_stop {
  UNWIND_COMPLETE = 0, /* the outermost frame, in mapped code */
  UNWIND_NO_INFO,      /* a pc without unwind information (no FDE) */
  UNWIND_STACK_END,    /* the copy of the stack ended (a deep stack) */
  UNWIND_BAD_ADDRESS,  /* a return address outside every mapped code */
  UNWIND_TOO_DEEP,     /* more frames than the caller can take */
  UNWIND_NO_STACK,     /* no registers or stack copy to unwind from */
  UNWIND_ERROR,        /* libunwind gave up otherwise */
  UNWIND_STOP_KINDS
};

/* "no-unwind-info", "stack-end", ...: no ':' ';' ',' '=' or space in them. */
const char *unwind_stop_name(enum unwind_stop why);

/* unwinder_unwind, saying why the walk ended. */
int unwinder_unwind_why(struct unwinder *u, const struct native_snapshot *s,
                        uint64_t *pcs, int max, enum unwind_stop *why);

/* The mapped file that holds pc: its path as the target names it, the
 * start and end of its executable mapping and its load bias. -1 if none. */
int unwinder_mapping(struct unwinder *u, uint64_t pc, const char **path,
                     uint64_t *start, uint64_t *end, uint64_t *bias);

/* Each executable file mapping not reported before (all of them on the
 * first call; then those that appeared since, e.g. an extension module
 * imported mid-run): austinp writes a `# map:` line for each. */
typedef void (*unwinder_mapping_cb)(void *arg, uint64_t start, uint64_t end,
                                    const char *path);
void unwinder_new_mappings(struct unwinder *u, unwinder_mapping_cb cb, void *arg);

/* The function symbol that holds pc (from the ELF symbol tables of the
 * mapped file, .gnu_debuglink / build-id debug files included; loaded once
 * per file, looked up by binary search), by the naming policy of
 * func_syms.h (inside the symbol's extent; pieces named after their
 * function): its name and pc's offset in it. -1 if none. The name lives
 * as long as the unwinder. */
int unwinder_symbol(struct unwinder *u, uint64_t pc, const char **name,
                    uint64_t *offset);

/* The link-time start of the function that holds pc, from the unwind
 * tables (.eh_frame: each FDE starts a function, named or not): what
 * identifies a function no symbol names. -1 if no FDE covers pc. */
int unwinder_function_start(struct unwinder *u, uint64_t pc, uint64_t *start);

/* pc as a link-time address of the file mapped there. -1 if none. */
int unwinder_link_address(struct unwinder *u, uint64_t pc, uint64_t *link);

/* A predicate on symbol names, applied once to each symbol of a file when
 * its table is loaded (never per sample): austinp marks the functions of
 * the evaluation loop with it. Set it before the first lookup. */
typedef bool (*unwinder_classifier)(const char *name);
void unwinder_set_classifier(struct unwinder *u, unwinder_classifier classify);

/* unwinder_symbol, and whether the symbol was marked by the classifier. */
int unwinder_symbol_marked(struct unwinder *u, uint64_t pc, const char **name,
                           uint64_t *offset, bool *marked);

#endif
