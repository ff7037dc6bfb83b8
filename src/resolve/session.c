#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"

int session_init(struct session *s, struct resolver *r) {
  memset(s, 0, sizeof *s);
  s->r = r;
  return 0;
}

void session_free(struct session *s) {
  for (size_t i = 0; i < s->nfiles; i++) free(s->files[i]);
  free(s->files);
  for (size_t i = 0; i < s->nprocs; i++) free(s->procs[i].maps);
  free(s->procs);
  memset(s, 0, sizeof *s);
}

/* The first table whose pid is not below pid (procs is sorted by pid). */
static size_t procs_lower_bound(const struct session *s, int64_t pid) {
  size_t a = 0, b = s->nprocs;
  while (a < b) {
    size_t mid = (a + b) / 2;
    if (s->procs[mid].pid < pid) a = mid + 1;
    else b = mid;
  }
  return a;
}

/* The mappings of process pid; created when `create` (NULL when out of
 * memory), else NULL when it announced none. Samples come process after
 * process: the last one looked up is tried first. */
static struct session_maps *maps_of(struct session *s, int64_t pid, bool create) {
  if (s->last < s->nprocs && s->procs[s->last].pid == pid) return &s->procs[s->last];
  size_t i = procs_lower_bound(s, pid);
  if (i < s->nprocs && s->procs[i].pid == pid) {
    s->last = i;
    return &s->procs[i];
  }
  if (!create) return NULL;
  if (s->nprocs == s->procs_cap) {
    size_t cap = s->procs_cap ? 2 * s->procs_cap : 8;
    struct session_maps *p = realloc(s->procs, cap * sizeof *p);
    if (p == NULL) return NULL;
    s->procs = p;
    s->procs_cap = cap;
  }
  memmove(&s->procs[i + 1], &s->procs[i], (s->nprocs - i) * sizeof *s->procs);
  s->procs[i] = (struct session_maps){.pid = pid};
  s->nprocs++;
  s->last = i;
  return &s->procs[i];
}

/* The counts of path, created on first sight. Linear: mappings are
 * announced once each, a few hundred at most. */
static struct session_file *file_of(struct session *s, const char *path) {
  for (size_t i = 0; i < s->nfiles; i++)
    if (strcmp(s->files[i]->path, path) == 0) return s->files[i];
  /* The vDSO is no file: austinp named its frames from the image in the
   * target's memory, and they are kept as they are (no resolver file). */
  bool vdso = strcmp(path, SESSION_VDSO) == 0;
  struct resolver_file *rf = vdso ? NULL : resolver_file(s->r, path);
  if (rf == NULL && !vdso) return NULL;
  struct session_file **fs = realloc(s->files, (s->nfiles + 1) * sizeof *fs);
  if (fs == NULL) return NULL;
  s->files = fs;
  struct session_file *f = calloc(1, sizeof *f);
  if (f == NULL) return NULL;
  f->rf = rf;
  f->path = vdso ? SESSION_VDSO : resolver_file_path(rf);
  s->files[s->nfiles++] = f;
  return f;
}

enum session_map_status session_add_map(struct session *s, int64_t pid, uint64_t lo,
                                        uint64_t hi, const char *path) {
  struct session_file *f = file_of(s, path);
  if (f == NULL) return s->nfiles >= RESOLVER_FILES_MAX ? SESSION_MAP_TOO_MANY : SESSION_MAP_NOMEM;
  struct session_maps *p = maps_of(s, pid, true);
  if (p == NULL) return SESSION_MAP_NOMEM;
  /* First mapping ending after lo; drop those that [lo, hi) overlaps. */
  size_t a = 0, b = p->nmaps;
  while (a < b) {
    size_t mid = (a + b) / 2;
    if (p->maps[mid].hi <= lo) a = mid + 1;
    else b = mid;
  }
  size_t end = a;
  while (end < p->nmaps && p->maps[end].lo < hi) end++;
  size_t dropped = end - a;
  if (dropped == 0) {
    if (s->nmaps >= SESSION_MAPS_MAX) return SESSION_MAP_TOO_MANY;
    if (p->nmaps == p->cap) {
      size_t cap = p->cap ? 2 * p->cap : 64;
      struct session_map *m = realloc(p->maps, cap * sizeof *m);
      if (m == NULL) return SESSION_MAP_NOMEM;
      p->maps = m;
      p->cap = cap;
    }
    memmove(&p->maps[a + 1], &p->maps[a], (p->nmaps - a) * sizeof *p->maps);
    p->nmaps++;
    s->nmaps++;
  } else if (dropped > 1) {
    memmove(&p->maps[a + 1], &p->maps[end], (p->nmaps - end) * sizeof *p->maps);
    p->nmaps -= dropped - 1;
    s->nmaps -= dropped - 1;
  }
  p->maps[a] = (struct session_map){lo, hi, f};
  p->hint = a;
  return SESSION_MAP_OK;
}

const char *session_parse_hex(const char *p, const char *end, uint64_t *v) {
  uint64_t x = 0;
  const char *start = p;
  for (; p < end; p++) {
    int d;
    if (*p >= '0' && *p <= '9') d = *p - '0';
    else if (*p >= 'a' && *p <= 'f') d = *p - 'a' + 10;
    else if (*p >= 'A' && *p <= 'F') d = *p - 'A' + 10;
    else break;
    x = x << 4 | (uint64_t)d;
  }
  if (p == start || p - start > 16) return NULL;
  *v = x;
  return p;
}

/* "P<pid> " at the start of a spec: its end, with *pid set; spec itself
 * when there is none; NULL when malformed. */
static const char *parse_pid(const char *spec, const char *end, int64_t *pid) {
  *pid = SESSION_NO_PID;
  if (spec == end || *spec != 'P') return spec;
  int64_t v = 0;
  const char *p = spec + 1;
  for (; p < end && *p >= '0' && *p <= '9'; p++) {
    v = v * 10 + (*p - '0');
    if (v > INT32_MAX) return NULL;
  }
  if (p == spec + 1 || p == end || *p != ' ') return NULL;
  *pid = v;
  return p + 1;
}

enum session_map_status session_add_map_spec(struct session *s, const char *spec,
                                             const char *end) {
  uint64_t lo, hi;
  int64_t pid;
  spec = parse_pid(spec, end, &pid);
  if (spec == NULL) return SESSION_MAP_BAD_PID;
  const char *q = session_parse_hex(spec, end, &lo);
  if (q == NULL || q == end || *q != '-') return SESSION_MAP_BAD_START;
  q = session_parse_hex(q + 1, end, &hi);
  if (q == NULL || q == end || *q != ' ') return SESSION_MAP_BAD_END;
  if (q + 1 >= end || (q[1] != '/' && strcmp(q + 1, SESSION_VDSO) != 0))
    return SESSION_MAP_NO_PATH;
  if (lo >= hi) return SESSION_MAP_EMPTY;
  return session_add_map(s, pid, lo, hi, q + 1);
}

const char *session_map_error(enum session_map_status st) {
  switch (st) {
  case SESSION_MAP_OK: return "no error in";
  case SESSION_MAP_NOMEM: return "out of memory at";
  case SESSION_MAP_TOO_MANY: return "too many mappings or files at";
  case SESSION_MAP_BAD_START: return "bad hexadecimal start in";
  case SESSION_MAP_BAD_END: return "bad hexadecimal end in";
  case SESSION_MAP_NO_PATH: return "no absolute path (nor [vdso]) in";
  case SESSION_MAP_EMPTY: return "empty mapping (start not below end) in";
  case SESSION_MAP_BAD_PID: return "bad process id (P<decimal> expected) in";
  }
  return "bad mapping";
}

static const struct session_map *find_in(struct session_maps *p, uint64_t pc) {
  /* Consecutive frames are often in one file: try the last one first. */
  if (p->hint < p->nmaps && pc >= p->maps[p->hint].lo && pc < p->maps[p->hint].hi)
    return &p->maps[p->hint];
  size_t a = 0, b = p->nmaps;
  while (a < b) {
    size_t mid = (a + b) / 2;
    if (p->maps[mid].hi <= pc) a = mid + 1;
    else b = mid;
  }
  if (a == p->nmaps || pc < p->maps[a].lo) return NULL;
  p->hint = a;
  return &p->maps[a];
}

const struct session_map *session_find(struct session *s, int64_t pid, uint64_t pc) {
  struct session_maps *p = maps_of(s, pid, false);
  const struct session_map *m = p != NULL ? find_in(p, pc) : NULL;
  if (m == NULL && pid != SESSION_NO_PID && (p = maps_of(s, SESSION_NO_PID, false)) != NULL)
    m = find_in(p, pc);
  return m;
}

struct counting {
  resolver_frame_cb cb;
  void *arg;
  bool line; /* the innermost frame (the last one) has a line */
};

static void count_cb(void *arg, const struct resolver_frame *f) {
  struct counting *c = arg;
  c->line = f->line != 0;
  c->cb(c->arg, f);
}

int session_resolve(struct session *s, const struct session_map *m, uint64_t pc,
                    bool is_return_address, resolver_frame_cb cb, void *arg) {
  struct session_file *f = m->file;
  struct counting c = {cb, arg, false};
  int n = f->rf == NULL ? 0
                        : resolver_file_frames(s->r, f->rf, m->lo, pc, is_return_address,
                                               count_cb, &c);
  s->frames++;
  f->frames++;
  if (n <= 0) {
    s->kept++;
    return 0;
  }
  if (c.line) {
    s->lines++;
    f->lines++;
  } else {
    s->names++;
    f->names++;
  }
  return n;
}

void session_summary(const struct session *s, FILE *out, const char *prefix) {
  fprintf(out, "%s: %" PRIu64 " native frames: %" PRIu64 " resolved to source lines, %" PRIu64
               " to functions only, %" PRIu64 " kept as they were\n",
          prefix, s->frames, s->lines, s->names, s->kept);
  for (size_t i = 0; i < s->nfiles; i++) {
    const struct session_file *f = s->files[i];
    if (f->frames == 0 || f->rf == NULL) continue;
    enum resolver_file_state st = resolver_file_state(f->rf);
    if (st == RESOLVER_FILE_MISSING)
      fprintf(out, "%s: cannot read %s (%" PRIu64 " frames kept)\n", prefix, f->path, f->frames);
    else if (st == RESOLVER_FILE_NO_DEBUG)
      fprintf(out, "%s: no debug info for %s (%" PRIu64 " frames, %" PRIu64
                   " named from its symbol table%s)\n",
              prefix, f->path, f->frames, f->names,
              resolver_file_minidebug(f->rf) ? " and MiniDebugInfo" : "");
  }
}
