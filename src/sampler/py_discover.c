#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elf_symbols.h"
#include "proc_maps.h"
#include "py_discover.h"
#include "remote.h"

/* Parse "python3.12" / "libpython3.12d.so.1.0" style names. */
static int version_from_name(const char *path, int *major, int *minor) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  const char *p = strstr(base, "python");
  if (p == NULL) return -1;
  p += 6;
  char *end;
  long maj = strtol(p, &end, 10);
  if (end == p || *end != '.') return -1;
  p = end + 1;
  long min = strtol(p, &end, 10);
  if (end == p) return -1;
  *major = (int)maj;
  *minor = (int)min;
  return 0;
}

/* Before 3.11 there is no Py_Version: look for the PY_VERSION string
 * ("3.10.13" and a NUL) in the file, which every build carries. The linker
 * may have merged it into the tail of a longer string ("python-3.10.13"),
 * so only the character before it is checked not to be a digit or dot. */
static int micro_from_file(const char *open_path, int major, int minor) {
  int fd = open(open_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_size <= 0) {
    close(fd);
    return -1;
  }
  const char *data = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (data == MAP_FAILED) return -1;

  char prefix[16];
  int plen = snprintf(prefix, sizeof prefix, "%d.%d.", major, minor);
  int micro = -1;
  const char *p = data, *end = data + st.st_size;
  while (micro < 0 && (p = memmem(p, end - p, prefix, plen)) != NULL) {
    const char *q = p + plen, *digits = q;
    while (q < end && isdigit((unsigned char)*q)) q++;
    /* Accept "3.10.13" and pre-releases like "3.10.0rc1". */
    const char *tail = q;
    while (tail < end && tail - q < 8 && isalnum((unsigned char)*tail)) tail++;
    int clean_start = p == data || (!isdigit((unsigned char)p[-1]) && p[-1] != '.');
    if (clean_start && q > digits && q - digits < 4 && tail < end && *tail == '\0')
      micro = atoi(digits);
    p += 1;
  }
  munmap((void *)data, st.st_size);
  return micro;
}

static int name_has_python(const char *path) {
  const char *base = strrchr(path, '/');
  return strstr(base ? base + 1 : path, "python") != NULL;
}

/* The executable of the process, as the target names it. */
static char *exe_path(pid_t pid) {
  char link[64], buf[PATH_MAX];
  snprintf(link, sizeof link, "/proc/%d/exe", (int)pid);
  ssize_t n = readlink(link, buf, sizeof buf - 1);
  if (n <= 0) return NULL;
  buf[n] = '\0';
  char *deleted = strstr(buf, " (deleted)");
  if (deleted != NULL) *deleted = '\0';
  return strdup(buf);
}

/* First mapping of a file: its start address and file offset give the
 * load bias. */
static const struct proc_map *first_mapping(const struct proc_maps *maps,
                                            const char *path) {
  const struct proc_map *best = NULL;
  for (size_t i = 0; i < maps->count; i++) {
    const struct proc_map *m = &maps->maps[i];
    if (m->path == NULL || strcmp(m->path, path) != 0) continue;
    if (best == NULL || m->offset < best->offset) best = m;
  }
  return best;
}

/* Try one candidate file: does it hold _PyRuntime? */
static int try_candidate(pid_t pid, const struct proc_maps *maps,
                         const char *path, struct py_runtime *out) {
  const struct proc_map *m = first_mapping(maps, path);
  if (m == NULL) return -1;

  char root[64], open_path[PATH_MAX + 64];
  snprintf(root, sizeof root, "/proc/%d/root", (int)pid);
  if (proc_map_open_path(pid, m, open_path, sizeof open_path) == NULL) return -1;

  struct elf_file *ef = elf_file_open(open_path, root);
  if (ef == NULL) return -1;

  int rc = -1;
  uint64_t runtime = 0, size = 0, bias = 0;
  if (elf_file_symbol(ef, "_PyRuntime", &runtime, &size) != 0 &&
      elf_file_section(ef, ".PyRuntime", &runtime, &size) != 0)
    goto done;
  if (elf_file_load_bias(ef, m->start, m->offset, &bias) != 0) goto done;

  memset(out, 0, sizeof *out);
  out->pid = pid;
  out->path = strdup(path);
  out->bias = bias;
  out->runtime_addr = runtime + bias;
  out->map_start = m->start;
  out->map_offset = m->offset;
  out->map_inode = m->inode;

  uint64_t code_type = 0;
  if (elf_file_symbol(ef, "PyCode_Type", &code_type, NULL) == 0)
    out->code_type_addr = code_type + bias;

  /* Version: Py_Version (3.11+) is a constant in the file itself. */
  uint64_t pv_addr;
  uint32_t hex = 0;
  if (elf_file_symbol(ef, "Py_Version", &pv_addr, NULL) == 0 &&
      elf_file_read(ef, pv_addr, &hex, sizeof hex) == 0 && (hex >> 24) == 3) {
    out->major = hex >> 24;
    out->minor = (hex >> 16) & 0xff;
    out->micro = (hex >> 8) & 0xff;
  } else if (version_from_name(path, &out->major, &out->minor) == 0) {
    out->micro = micro_from_file(open_path, out->major, out->minor);
  } else {
    out->major = 0;
  }
  rc = 0;

done:
  elf_file_close(ef);
  return rc;
}

static void format_version(struct py_runtime *rt) {
  if (rt->micro >= 0)
    snprintf(rt->version, sizeof rt->version, "%d.%d.%d", rt->major, rt->minor,
             rt->micro);
  else
    snprintf(rt->version, sizeof rt->version, "%d.%d", rt->major, rt->minor);
}

static enum error_kind select_layout(struct py_runtime *rt, char *why,
                                     size_t whylen) {
  if (rt->major != 3 || rt->minor < 8) {
    snprintf(why, whylen, "Python %s is not supported (3.8 or later needed)",
             rt->version);
    return E_UNSUPPORTED;
  }
  if (py_debug_offsets_map_for(rt->major, rt->minor) != NULL) {
    struct remote *r = remote_open_pid(rt->pid);
    /* NULL: out of memory, or a privileged run refused (remote.h). */
    if (r == NULL && errno == ENOMEM) return E_INTERNAL;
    uint64_t hexversion = 0;
    int rc = r == NULL ? -1
                       : py_layout_from_debug_offsets(r, rt->runtime_addr, rt->major,
                                                      rt->minor, &rt->layout, &hexversion);
    int saved = errno;
    remote_close(r);
    if (rc == 0) {
      rt->micro = (hexversion >> 8) & 0xff;
      format_version(rt);
      return E_OK;
    }
    if (saved == EPERM || saved == EACCES) {
      snprintf(why, whylen, "cannot read the memory of process %d: %s",
               (int)rt->pid, strerror(saved));
      return E_PERMISSION;
    }
    if (saved == ESRCH) {
      snprintf(why, whylen, "process %d has exited", (int)rt->pid);
      return E_NO_PROCESS;
    }
    snprintf(why, whylen,
             "Python %s: the interpreter's debug offsets are unreadable or "
             "do not match its version",
             rt->version);
    return E_UNSUPPORTED;
  }
  const struct py_layout *l = py_layout_for(rt->major, rt->minor);
  if (l == NULL || rt->minor >= 13) {
    snprintf(why, whylen, "Python %s is not supported", rt->version);
    return E_UNSUPPORTED;
  }
  rt->layout = *l;
  return E_OK;
}

enum error_kind py_discover(pid_t pid, struct py_runtime *out, char *why,
                            size_t whylen) {
  struct proc_maps maps;
  if (proc_maps_read(pid, &maps) != 0) {
    if (errno == ESRCH) {
      snprintf(why, whylen, "no such process: %d", (int)pid);
      return E_NO_PROCESS;
    }
    snprintf(why, whylen, "cannot read the mappings of process %d: %s",
             (int)pid, strerror(errno));
    return errno == EACCES || errno == EPERM ? E_PERMISSION : E_INTERNAL;
  }

  /* Candidates: mapped files named like Python (libpython first, as the
   * executable of a shared build holds no runtime), then the executable
   * itself for interpreters embedded under another name. */
  enum error_kind kind = E_NOT_PYTHON;
  snprintf(why, whylen, "process %d is not a Python process", (int)pid);
  const char *tried[64];
  size_t ntried = 0;
  int found = 0;
  for (int pass = 0; pass < 2 && !found; pass++) {
    for (size_t i = 0; i < maps.count && !found && ntried < 64; i++) {
      const char *path = maps.maps[i].path;
      if (path == NULL || !name_has_python(path)) continue;
      const char *base = strrchr(path, '/');
      int is_lib = strstr(base ? base : path, "libpython") != NULL;
      if (is_lib != (pass == 0)) continue;
      int seen = 0;
      for (size_t k = 0; k < ntried; k++) seen |= strcmp(tried[k], path) == 0;
      if (seen) continue;
      tried[ntried++] = path;
      found = try_candidate(pid, &maps, path, out) == 0;
    }
  }
  if (!found) {
    char *exe = exe_path(pid);
    if (exe != NULL) {
      found = try_candidate(pid, &maps, exe, out) == 0;
      free(exe);
    }
  }
  if (found) {
    if (out->major == 0) {
      snprintf(why, whylen, "cannot tell the Python version of process %d",
               (int)pid);
      kind = E_NO_VERSION;
    } else {
      format_version(out);
      kind = select_layout(out, why, whylen);
    }
    if (kind != E_OK) py_runtime_free(out);
  }
  proc_maps_free(&maps);
  return kind;
}

/* Does the first mapping of known's file in maps sit where it does in
 * the process known was discovered in? */
static bool same_mapping(const struct proc_maps *maps, const struct py_runtime *known) {
  const struct proc_map *m = first_mapping(maps, known->path);
  return m != NULL && m->start == known->map_start && m->offset == known->map_offset &&
         m->inode == known->map_inode;
}

enum error_kind py_discover_known(pid_t pid, const struct py_runtime *const *known,
                                  size_t nknown, struct py_runtime *out, char *why,
                                  size_t whylen) {
  struct proc_maps maps;
  if (nknown > 0 && proc_maps_read(pid, &maps) == 0) {
    for (size_t i = 0; i < nknown; i++) {
      if (!same_mapping(&maps, known[i])) continue;
      *out = *known[i];
      out->pid = pid;
      out->path = strdup(known[i]->path);
      proc_maps_free(&maps);
      return out->path != NULL ? E_OK : E_INTERNAL;
    }
    proc_maps_free(&maps);
  }
  return py_discover(pid, out, why, whylen);
}

void py_runtime_free(struct py_runtime *rt) {
  free(rt->path);
  rt->path = NULL;
}
