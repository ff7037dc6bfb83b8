#include <fcntl.h>
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

int proc_stat_state(pid_t pid, pid_t tid, char *state, pid_t *ppid) {
  char buf[512];
  if (proc_task_read(pid, tid, "stat", buf, sizeof buf) < 0) return -1;

  /* "pid (comm) S ppid ...": the command name may hold spaces and
   * parentheses, so the state follows the last ')'. */
  char *close_paren = NULL;
  for (char *q = buf; *q; q++)
    if (*q == ')') close_paren = q;
  if (close_paren == NULL || close_paren[1] != ' ' || close_paren[2] == '\0') return -1;
  *state = close_paren[2];
  if (ppid != NULL) {
    long v = 0;
    const char *q = close_paren + 3;
    while (*q == ' ') q++;
    while (*q >= '0' && *q <= '9') v = v * 10 + (*q++ - '0');
    *ppid = (pid_t)v;
  }
  return 0;
}
