/* Fuzz target: the parsers of /proc/PID/stat and /proc/PID/status text
 * (proc_stat_parse, proc_stat_field, proc_status_number, and the Uid:/Gid:
 * lines of the privilege policy, privilege_parse_ids). The input is taken as one file
 * of each, NUL-ended as proc_task_read leaves it. A key is found only at
 * the start of a line, so a thread's name cannot spell one. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "privilege.h"
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
  uint64_t field;
  (void)proc_stat_field(text, 28, &field);
  unsigned long ids[4];
  if (privilege_parse_ids(text, "Uid", ids) == 0) {
    for (int i = 0; i < 4; i++) require(ids[i] <= 0xffffffffUL, "an id beyond 32 bits");
    require(strncmp(text, "Uid:", 4) == 0 || strstr(text, "\nUid:") != NULL,
            "ids found inside a line");
  }
  free(text);
  return 0;
}
