#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc_maps.h"

/* A maps file larger than this is not one we want to hold in memory. */
#define MAPS_MAX_BYTES (64u << 20)

static int parse_line(const char *line, struct proc_map *m) {
  unsigned long long start, end, offset, inode;
  char perms[5];
  int path_at = -1;
  if (sscanf(line, "%llx-%llx %4s %llx %*x:%*x %llu %n", &start, &end, perms,
             &offset, &inode, &path_at) < 5)
    return -1;
  if (end <= start) return -1;
  m->start = start;
  m->end = end;
  m->offset = offset;
  m->inode = inode;
  memcpy(m->perms, perms, sizeof m->perms);
  m->path = NULL;
  m->vdso = path_at > 0 && strncmp(line + path_at, "[vdso]", 6) == 0 &&
            (line[path_at + 6] == '\0' || line[path_at + 6] == '\n');
  if (path_at > 0 && line[path_at] == '/') {
    m->path = strdup(line + path_at);
    if (m->path == NULL) return -1;
    /* A file replaced on disk after mapping is shown as "path (deleted)". */
    char *deleted = strstr(m->path, " (deleted)");
    if (deleted != NULL && deleted[10] == '\0') *deleted = '\0';
  }
  return 0;
}

int proc_maps_parse(const char *text, size_t len, struct proc_maps *out) {
  size_t cap = 64;
  out->count = 0;
  out->maps = malloc(cap * sizeof *out->maps);
  if (out->maps == NULL) return -1;

  const char *p = text, *end = text + len;
  char line[4096 + 256];
  while (p < end) {
    const char *nl = memchr(p, '\n', end - p);
    size_t n = (nl ? nl : end) - p;
    if (n < sizeof line) {
      memcpy(line, p, n);
      line[n] = '\0';
      if (out->count == cap) {
        struct proc_map *grown = realloc(out->maps, 2 * cap * sizeof *grown);
        if (grown == NULL) goto fail;
        out->maps = grown;
        cap *= 2;
      }
      if (parse_line(line, &out->maps[out->count]) == 0) out->count++;
    }
    p += n + 1;
  }
  return 0;

fail:
  proc_maps_free(out);
  return -1;
}

int proc_maps_read(pid_t pid, struct proc_maps *out) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) errno = ESRCH;
    return -1;
  }

  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap);
  if (buf == NULL) goto fail;
  for (;;) {
    if (len == cap) {
      if (cap >= MAPS_MAX_BYTES) break;
      char *grown = realloc(buf, cap * 2);
      if (grown == NULL) goto fail;
      buf = grown;
      cap *= 2;
    }
    ssize_t n = read(fd, buf + len, cap - len);
    if (n < 0) {
      if (errno == EINTR) continue;
      goto fail;
    }
    if (n == 0) break;
    len += n;
  }
  close(fd);
  fd = -1;
  if (len == 0) { /* a zombie, or a process without an address space */
    free(buf);
    errno = ESRCH;
    return -1;
  }
  int rc = proc_maps_parse(buf, len, out);
  free(buf);
  return rc;

fail:;
  int saved = errno;
  free(buf);
  if (fd >= 0) close(fd);
  errno = saved;
  return -1;
}

void proc_maps_free(struct proc_maps *m) {
  if (m->maps == NULL) return;
  for (size_t i = 0; i < m->count; i++) free(m->maps[i].path);
  free(m->maps);
  m->maps = NULL;
  m->count = 0;
}

const char *proc_path_in_root(pid_t pid, const char *path, char *buf, size_t size) {
  snprintf(buf, size, "/proc/%d/root%s", (int)pid, path);
  return buf;
}

static int same_inode(const char *path, uint64_t inode) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_ino == inode;
}

const char *proc_map_open_path(pid_t pid, const struct proc_map *m, char *buf,
                               size_t size) {
  if (m->path == NULL) return NULL;

  /* The kernel prints maps paths relative to the reader's root: for a
   * target chrooted below our root they carry that root's prefix, which
   * we strip to reach the file through the target's own root. */
  char link[64], root[4096];
  snprintf(link, sizeof link, "/proc/%d/root", (int)pid);
  ssize_t n = readlink(link, root, sizeof root - 1);
  if (n > 1) {
    root[n] = '\0';
    size_t rlen = (size_t)n;
    if (strncmp(m->path, root, rlen) == 0 && m->path[rlen] == '/') {
      proc_path_in_root(pid, m->path + rlen, buf, size);
      if (same_inode(buf, m->inode)) return buf;
    }
  }
  proc_path_in_root(pid, m->path, buf, size);
  if (same_inode(buf, m->inode)) return buf;
  /* Not reachable by name from the target's root (another mount
   * namespace whose mounts we cannot see): the kernel's own link. */
  snprintf(buf, size, "/proc/%d/map_files/%llx-%llx", (int)pid,
           (unsigned long long)m->start, (unsigned long long)m->end);
  if (same_inode(buf, m->inode)) return buf;
  return NULL;
}
