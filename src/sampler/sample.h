/* A sample is a value: the walker fills it, emitters turn it into bytes. */
#ifndef SAMPLE_H
#define SAMPLE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define SAMPLE_MAX_FRAMES 2048

/* What a frame is. Python frames come from the walker; austinp adds the
 * native frames it unwinds and the kernel frames it reads (-k). */
enum sample_frame_kind {
  FRAME_PYTHON = 0, /* filename, name, line (and columns, 3.11+) */
  FRAME_NATIVE,     /* pc, name = symbol (NULL if unknown), line = offset */
  FRAME_KERNEL,     /* name = kernel symbol */
};

struct sample_frame {
  const char *filename; /* owned by the code cache until the next sweep */
  const char *name;
  int line;
  int end_line, column, end_column; /* -1 when unknown (end_line before
                                     * 3.11); columns 0-based, as CPython's */
  bool entry; /* first Python frame of one run of the evaluation loop (one
               * C call of _PyEval_EvalFrameDefault): austinp weaves on it */
  enum sample_frame_kind kind;
  uint64_t pc;  /* FRAME_NATIVE: the instruction address */
};

/* What the GIL of the thread's interpreter said when the thread was
 * sampled (read with -m and -f only). */
enum sample_gil {
  SAMPLE_GIL_UNKNOWN = 0, /* not read, or unreadable */
  SAMPLE_GIL_FREE,        /* nobody held it */
  SAMPLE_GIL_HELD,        /* this thread held it */
  SAMPLE_GIL_OTHER,       /* another thread held it */
};

struct sample {
  pid_t pid;
  int64_t iid;             /* interpreter id */
  uint64_t tid;            /* Linux thread id */
  uint64_t tstate;         /* address of the thread state, for where mode */
  bool idle;               /* the thread was not running */
  bool invalid;            /* the frame chain could not be read to its end */
  bool truncated;          /* more than SAMPLE_MAX_FRAMES frames */
  bool gc;                 /* its interpreter's garbage collector was collecting */
  enum sample_gil gil;
  uint64_t metric;         /* microseconds since the previous sample */
  int64_t mem_delta;       /* bytes of resident memory gained (< 0: released)
                            * since the last delta was taken (-m, -f) */
  unsigned nframes;
  struct sample_frame frames[SAMPLE_MAX_FRAMES]; /* root first */
};

#endif
