/* Fuzz target: the parsers of /proc/PID/stat and /proc/PID/status text
 * (proc_stat_parse, proc_status_number). The input is taken as one file
 * of each, NUL-ended as proc_task_read leaves it. A key is found only at
 * the start of a line, so a thread's name cannot spell one. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proc_stat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "fuzz_status: %s\n", what);
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (text == NULL) return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  char state;
  pid_t ppid = -1;
  if (proc_stat_parse(text, &state, &ppid) == 0) require(ppid >= 0, "a negative parent pid");
  long tracer = proc_status_number(text, "TracerPid");
  require(tracer >= -1, "a negative tracer");
  /* Found only where a line starts with the key. */
  if (tracer >= 0)
    require(strncmp(text, "TracerPid:", 10) == 0 || strstr(text, "\nTracerPid:") != NULL,
            "a key found inside a line");
  free(text);
  return 0;
}
