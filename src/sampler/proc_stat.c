#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "proc_stat.h"

/* Decimal digits of v at p; returns the end. */
static char *put_decimal(char *p, unsigned long v) {
  char digits[24];
  int n = 0;
  do digits[n++] = (char)('0' + v % 10);
  while ((v /= 10) != 0);
  while (n > 0) *p++ = digits[--n];
  return p;
}

static char *put_text(char *p, const char *s) {
  while (*s) *p++ = *s++;
  return p;
}

void proc_task_path(char *buf, pid_t pid, pid_t tid, const char *leaf) {
  char *p = put_decimal(put_text(buf, "/proc/"), (unsigned long)pid);
  if (tid > 0) p = put_decimal(put_text(p, "/task/"), (unsigned long)tid);
  if (leaf != NULL) p = put_text(put_text(p, "/"), leaf);
  *p = '\0';
}

ssize_t proc_task_read(pid_t pid, pid_t tid, const char *leaf, char *buf,
                       size_t size) {
  char path[PROC_PATH_MAX];
  proc_task_path(path, pid, tid, leaf);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, size - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = '\0';
  return n;
}

/* A decimal number of at most 18 digits at p (pids, tids), -1 if none. */
static long bounded_decimal(const char *p) {
  long v = 0;
  int n = 0;
  while (*p >= '0' && *p <= '9' && n < 18) v = v * 10 + (*p++ - '0'), n++;
  return n == 0 || (*p >= '0' && *p <= '9') ? -1 : v;
}

int proc_stat_parse(const char *text, char *state, pid_t *ppid) {
  /* "pid (comm) S ppid ...": the command name may hold spaces and
   * parentheses, so the state follows the last ')'. */
  const char *close_paren = NULL;
  for (const char *q = text; *q; q++)
    if (*q == ')') close_paren = q;
  if (close_paren == NULL || close_paren[1] != ' ' || close_paren[2] == '\0') return -1;
  *state = close_paren[2];
  if (ppid != NULL) {
    const char *q = close_paren + 3;
    while (*q == ' ') q++;
    long v = bounded_decimal(q);
    *ppid = v >= 0 && v <= INT32_MAX ? (pid_t)v : 0;
  }
  return 0;
}

int proc_stat_field(const char *text, int field, uint64_t *out) {
  /* After the last ')' (see proc_stat_parse) comes field 3. */
  const char *p = strrchr(text, ')');
  if (p == NULL || field < 3) return -1;
  p++;
  for (int f = 3; f <= field; f++) {
    if (*p != ' ') return -1;
    p++;
    if (f == field) break;
    while (*p != ' ' && *p != '\0' && *p != '\n') p++;
  }
  uint64_t v = 0;
  int digits = 0;
  for (; *p >= '0' && *p <= '9'; p++, digits++) {
    if (digits == 20 || v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10) return -1;
    v = v * 10 + (uint64_t)(*p - '0');
  }
  if (digits == 0 || (*p != ' ' && *p != '\0' && *p != '\n')) return -1;
  *out = v;
  return 0;
}

int proc_stat_state(pid_t pid, pid_t tid, char *state, pid_t *ppid) {
  char buf[512];
  if (proc_task_read(pid, tid, "stat", buf, sizeof buf) < 0) return -1;
  return proc_stat_parse(buf, state, ppid);
}

long proc_status_number(const char *text, const char *key) {
  size_t klen = strlen(key);
  for (const char *line = text; line != NULL && *line; ) {
    if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
      const char *p = line + klen + 1;
      while (*p == ' ' || *p == '\t') p++;
      return bounded_decimal(p);
    }
    line = strchr(line, '\n');
    if (line != NULL) line++;
  }
  return -1;
}
