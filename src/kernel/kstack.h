/* A thread's kernel stack, parsed from the text of /proc/PID/task/TID/stack.
 *
 * The file has one line per frame, innermost first:
 *     [<0>] hrtimer_nanosleep+0xb5/0x130
 *     [<0>] nf_hook_slow+0x41/0xc0 [nf_conntrack]
 * (the address is 0 unless kptr_restrict allows it; the bracketed suffix
 * names a module). We keep the function name only: austinp writes kernel
 * frames as Austin 3.7 does, `kernel:<function>:0`. */
#ifndef KSTACK_H
#define KSTACK_H

#include <stdbool.h>
#include <stddef.h>

/* The kernel prints at most 64 frames (MAX_STACK_TRACE_DEPTH). */
#define KSTACK_MAX_FRAMES 64
/* Room for the names; a name that does not fit ends the stack early. */
#define KSTACK_POOL 4096

struct kstack {
  size_t n;                            /* frames, innermost first */
  const char *names[KSTACK_MAX_FRAMES];/* point into pool */
  char pool[KSTACK_POOL];
};

/* Parse `len` bytes of stack-file text into out (out->n frames, 0 for an
 * empty file: a thread running in user space has no kernel stack). Lines
 * that are not frames are skipped; a last line without its newline is
 * taken as cut short by a bounded read and dropped, since its name may be
 * cut too. Characters that would break the collapsed-stack format (';',
 * ':' and controls) are replaced by '_'. Pure; returns out->n. */
size_t kstack_parse(const char *text, size_t len, struct kstack *out);

/* Whether the stack is that of a thread in a ptrace stop (a frame named
 * ptrace_stop, maybe with a compiler suffix such as ".part.0"): the
 * thread was stopped by its tracer, and this is not where it waits. */
bool kstack_in_ptrace_stop(const struct kstack *k);

#endif
