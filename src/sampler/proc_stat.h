/* The scheduler state of a process or thread, from /proc. */
#ifndef PROC_STAT_H
#define PROC_STAT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Enough for any path proc_task_path writes with a short leaf. */
#define PROC_PATH_MAX 64

/* "/proc/PID/<leaf>" (tid 0) or "/proc/PID/task/TID/<leaf>" (no "/<leaf>"
 * when leaf is NULL) into buf, without stdio: async-signal-safe. */
void proc_task_path(char *buf, pid_t pid, pid_t tid, const char *leaf);

/* Read a small /proc file (proc_task_path's naming) into buf, NUL-ended;
 * one read(2). Returns the bytes read, -1 when gone or unreadable.
 * Async-signal-safe. */
ssize_t proc_task_read(pid_t pid, pid_t tid, const char *leaf, char *buf,
                       size_t size);

/* Read /proc/PID/stat (tid 0) or /proc/PID/task/TID/stat: the state letter
 * ('R', 'S', 't', 'Z', ...) and, if ppid is not NULL, the parent's pid.
 * Only system calls (open, read, close): async-signal-safe. 0 on success,
 * -1 when the process or thread is gone or unreadable. */
int proc_stat_state(pid_t pid, pid_t tid, char *state, pid_t *ppid);

/* The same from the text of a stat file (NUL-ended). Pure. */
int proc_stat_parse(const char *text, char *state, pid_t *ppid);

/* Field `field` (numbered from 1 as in proc(5); 3, the state, or later)
 * of the text of a stat file, as an unsigned number. 0, or -1 when the
 * text has no such field or it is not a number. Pure. */
int proc_stat_field(const char *text, int field, uint64_t *out);

/* The number after "key:" in the text of a status file (NUL-ended), -1
 * when absent or not a number. The key must start a line: the Name line
 * holds whatever name the thread gave itself, which may spell a key.
 * Pure. */
long proc_status_number(const char *text, const char *key);

#endif
