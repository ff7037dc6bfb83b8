/* A sample is a value: the walker fills it, emitters turn it into bytes. */
#ifndef SAMPLE_H
#define SAMPLE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define SAMPLE_MAX_FRAMES 2048

struct sample_frame {
  const char *filename; /* owned by the code cache until the next sweep */
  const char *name;
  int line;
  int end_line, column, end_column; /* -1 when unknown */
  bool entry; /* first Python frame of one run of the evaluation loop (one
               * C call of _PyEval_EvalFrameDefault): austinp weaves on it */
};

struct sample {
  pid_t pid;
  int64_t iid;             /* interpreter id */
  uint64_t tid;            /* Linux thread id */
  uint64_t tstate;         /* address of the thread state, for where mode */
  bool idle;               /* the thread was not running */
  bool invalid;            /* the frame chain could not be read to its end */
  bool truncated;          /* more than SAMPLE_MAX_FRAMES frames */
  uint64_t metric;         /* microseconds since the previous sample */
  unsigned nframes;
  struct sample_frame frames[SAMPLE_MAX_FRAMES]; /* root first */
};

#endif
