#define _GNU_SOURCE
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "text_format.h"

#define HEAD "# austin: "
#define MAP "# map: "
#define NATIVE SESSION_NATIVE

struct text {
  struct rin *in;
  struct rout *out;
  struct session *s;
  int64_t pid; /* of the current sample */
  /* Frames of the current sample: offsets into the line. */
  struct span { size_t at, len; } *frames;
  size_t nframes, cap;
};

bool text_detect(const char *head, size_t n) {
  size_t k = strlen(HEAD);
  return n >= k && memcmp(head, HEAD, k) == 0;
}

static enum error_kind bad(struct text *t, const char *what, const char *text, size_t len) {
  if (len > 80) len = 80;
  error_report(E_MALFORMED_INPUT, "%s: line %" PRIu64 ": %s%s%.*s%s", t->in->name,
               t->in->lineno, what, text ? " '" : "", (int)len, text ? text : "",
               text ? "'" : "");
  return E_MALFORMED_INPUT;
}

static bool all_digits(const char *p, size_t n) {
  if (n == 0) return false;
  for (size_t i = 0; i < n; i++)
    if (p[i] < '0' || p[i] > '9') return false;
  return true;
}

/* "# map: lo-hi path": the mapping is recorded; the line passes. */
static enum error_kind map_line(struct text *t, char *line, size_t len) {
  enum session_map_status st = session_add_map_spec(t->s, line + strlen(MAP), line + len);
  if (st == SESSION_MAP_OK) return E_OK;
  if (st != SESSION_MAP_NOMEM) return bad(t, session_map_error(st), line, len);
  error_report(E_INTERNAL, "out of memory");
  return E_INTERNAL;
}

/* Names go between ';' and ':' separators: a ';' in one (Rust array
 * types, [u8; 4]) would split the frame, so it becomes ','; line breaks
 * become spaces. Colons stay (C++'s ns::f): readers split the file at
 * the first ':' of a frame and the line at the last. */
static void put_name(struct rout *out, const char *s) {
  const char *bad = strpbrk(s, ";\n\r");
  if (bad == NULL) {
    rout_write(out, s, strlen(s));
    return;
  }
  for (; *s; s++) rout_putc(out, *s == ';' ? ',' : (*s == '\n' || *s == '\r') ? ' ' : *s);
}

struct frame_ctx {
  struct rout *out;
  const char *path;         /* of the mapped file */
  const char *sym;          /* austinp's name for the frame, or NULL */
  size_t symlen;
};

/* One resolved frame: ";file:function:line". Without a line, the file
 * is the mapped binary and the line 0; without a function, the name
 * austinp gave (from the symbol tables), else "??". */
static void write_frame(void *arg, const struct resolver_frame *f) {
  struct frame_ctx *c = arg;
  rout_putc(c->out, ';');
  put_name(c->out, f->file != NULL ? f->file : c->path);
  rout_putc(c->out, ':');
  if (f->function != NULL) put_name(c->out, f->function);
  else if (c->sym != NULL) rout_write(c->out, c->sym, c->symlen);
  else rout_write(c->out, "??", 2);
  rout_putc(c->out, ':');
  rout_uint(c->out, f->line);
}

static bool is_native(const char *f, size_t len) {
  return len > strlen(NATIVE) && memcmp(f, NATIVE, strlen(NATIVE)) == 0;
}

/* "native@0xPC:SYMBOL:OFFSET" resolved, or written back as it was. */
static enum error_kind native_frame(struct text *t, const char *f, size_t len, bool leaf) {
  const char *end = f + len;
  uint64_t pc;
  const char *p = session_parse_hex(f + strlen(NATIVE), end, &pc);
  if (p == NULL || p >= end || *p != ':')
    return bad(t, "bad hexadecimal address in native frame", f, len);
  const char *last = memrchr(p, ':', end - p);
  if (last == p || !all_digits(last + 1, end - last - 1))
    return bad(t, "truncated native frame (no symbol offset)", f, len);
  const struct session_map *m = session_find(t->s, t->pid, pc);
  if (m == NULL) return bad(t, "address in no '# map:' line announced before it:", f, len);
  const char *sym = p + 1;
  size_t symlen = last - sym;
  if (symlen == 0 || (symlen == 2 && memcmp(sym, "??", 2) == 0)) sym = NULL;
  struct frame_ctx c = {t->out, m->file->path, sym, symlen};
  if (session_resolve(t->s, m, pc, !leaf, write_frame, &c) == 0) {
    rout_putc(t->out, ';');
    rout_write(t->out, f, len);
  }
  return E_OK;
}

static enum error_kind push_frame(struct text *t, size_t at, size_t len) {
  if (t->nframes == t->cap) {
    size_t cap = t->cap ? 2 * t->cap : 256;
    struct span *f = realloc(t->frames, cap * sizeof *f);
    if (f == NULL) {
      error_report(E_INTERNAL, "out of memory");
      return E_INTERNAL;
    }
    t->frames = f;
    t->cap = cap;
  }
  t->frames[t->nframes++] = (struct span){at, len};
  return E_OK;
}

/* The fields of "P<pid>;T<iid>:<tid>;frame;...;frame <metric>": after
 * checking the shape, the frames as spans; *head_len covers P and T. */
static enum error_kind split_sample(struct text *t, char *line, size_t len, size_t *head_len,
                                    size_t *metric_at) {
  const char *sp = memrchr(line, ' ', len);
  size_t m = sp ? (size_t)(sp - line) : len;
  if (sp == NULL || m + 1 == len || strspn(sp + 1, "0123456789,-") != len - m - 1)
    return bad(t, "truncated sample (no metric after its last space)", line, len);
  const char *semi = memchr(line, ';', m);
  size_t pid_len = semi ? (size_t)(semi - line) : m;
  if (!all_digits(line + 1, pid_len - 1) || pid_len > 11 || semi == NULL || semi[1] != 'T')
    return bad(t, "malformed sample (expected P<pid>;T<thread>)", line, len);
  t->pid = 0;
  for (size_t i = 1; i < pid_len; i++) t->pid = t->pid * 10 + (line[i] - '0');
  const char *p = memchr(semi + 1, ';', line + m - (semi + 1));
  *head_len = p ? (size_t)(p - line) : m;
  *metric_at = m;
  t->nframes = 0;
  while (p != NULL) {
    const char *start = p + 1;
    p = memchr(start, ';', line + m - start);
    size_t flen = (p ? p : line + m) - start;
    if (flen == 0) return bad(t, "empty frame in sample", line, len);
    enum error_kind k = push_frame(t, start - line, flen);
    if (k != E_OK) return k;
  }
  return E_OK;
}

static enum error_kind sample_line(struct text *t, char *line, size_t len) {
  /* Most samples of austin (not austinp) have nothing to resolve. */
  size_t head_len, metric_at;
  enum error_kind k = split_sample(t, line, len, &head_len, &metric_at);
  if (k != E_OK) return k;
  ssize_t leaf = -1;
  for (size_t i = 0; i < t->nframes; i++)
    if (is_native(line + t->frames[i].at, t->frames[i].len)) leaf = (ssize_t)i;
  if (leaf < 0) {
    rout_write(t->out, line, len);
    rout_putc(t->out, '\n');
    return E_OK;
  }
  rout_write(t->out, line, head_len);
  for (size_t i = 0; i < t->nframes; i++) {
    const char *f = line + t->frames[i].at;
    size_t flen = t->frames[i].len;
    if (!is_native(f, flen)) {
      rout_putc(t->out, ';');
      rout_write(t->out, f, flen);
      continue;
    }
    k = native_frame(t, f, flen, (ssize_t)i == leaf);
    if (k != E_OK) return k;
  }
  rout_write(t->out, line + metric_at, len - metric_at);
  rout_putc(t->out, '\n');
  return E_OK;
}

static enum error_kind one_line(struct text *t, char *line, size_t len) {
  if (len == 0 || (line[0] == '#' && strncmp(line, MAP, strlen(MAP)) != 0)) {
    rout_write(t->out, line, len);
    rout_putc(t->out, '\n');
    return E_OK;
  }
  if (line[0] == '#') {
    enum error_kind k = map_line(t, line, len);
    if (k == E_OK) {
      rout_write(t->out, line, len);
      rout_putc(t->out, '\n');
    }
    return k;
  }
  if (line[0] == 'P') return sample_line(t, line, len);
  return bad(t, "neither a sample, a '#' line nor a blank line:", line, len);
}

enum error_kind text_resolve(struct rin *in, struct rout *out, struct session *s) {
  struct text t = {in, out, s, 0, NULL, 0, 0};
  enum error_kind k = E_OK;
  for (;;) {
    char *line;
    size_t len;
    bool newline;
    enum rin_status st = rin_line(in, &line, &len, &newline);
    if (st == RIN_END) break;
    if (st == RIN_ERROR) {
      error_report(E_INPUT, "cannot read %s: %s", in->name, strerror(in->error));
      k = E_INPUT;
      break;
    }
    if (st == RIN_TOO_LONG) {
      error_report(E_MALFORMED_INPUT, "%s: line %" PRIu64 ": longer than %u bytes", in->name,
                   in->lineno + 1, RIN_LINE_MAX);
      k = E_MALFORMED_INPUT;
      break;
    }
    if (in->lineno == 1 && !text_detect(line, len)) {
      k = bad(&t, "not an Austin profile: the first line is not '# austin: VERSION':", line, len);
      break;
    }
    if (!newline) {
      k = bad(&t, "truncated (the input ends in the middle of this line):", line, len);
      break;
    }
    if ((k = one_line(&t, line, len)) != E_OK) break;
    if (out->error) break;
  }
  if (k == E_OK && in->lineno == 0) {
    error_report(E_MALFORMED_INPUT, "%s: empty input: not an Austin profile", in->name);
    k = E_MALFORMED_INPUT;
  }
  free(t.frames);
  return k;
}
