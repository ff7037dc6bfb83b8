/* The resolver library on this very test program (built with -g): the
 * where-mode API (path, mapping start, pc) gives the function and line
 * of a known call, with its inlined frame; the cache stays bounded; the
 * `# map:` table of austinp-resolve replaces overlapped mappings. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "addr_cache.h"
#include "resolver.h"
#include "session.h"

/* ---- probes: return addresses at known lines ---------------------------- */

static __attribute__((noinline, noipa)) uint64_t here(void) {
  return (uint64_t)(uintptr_t)__builtin_return_address(0);
}

static inline __attribute__((always_inline)) uint64_t inlined_probe(volatile int *line) {
  uint64_t ra = here(); *line = __LINE__;
  return ra;
}

static __attribute__((noinline)) uint64_t outer_probe(volatile int *outer, volatile int *inner) {
  uint64_t ra = inlined_probe(inner); *outer = __LINE__;
  return ra;
}

/* The executable mapping of this program that holds pc: start and path. */
static int self_mapping(uint64_t pc, uint64_t *lo, char *path, size_t size) {
  FILE *f = fopen("/proc/self/maps", "r");
  if (f == NULL) return -1;
  char line[4608];
  int rc = -1;
  while (rc != 0 && fgets(line, sizeof line, f) != NULL) {
    unsigned long long a, b;
    char perms[8];
    int off = 0;
    if (sscanf(line, "%llx-%llx %7s %*s %*s %*s %n", &a, &b, perms, &off) < 3 || off == 0)
      continue;
    if (pc < a || pc >= b || perms[2] != 'x') continue;
    line[strcspn(line, "\n")] = '\0';
    snprintf(path, size, "%s", line + off);
    *lo = a;
    rc = 0;
  }
  fclose(f);
  return rc;
}

struct got {
  int n;
  char function[4][128];
  char file[4][512];
  unsigned line[4];
};

static void collect(void *arg, const struct resolver_frame *fr) {
  struct got *g = arg;
  if (g->n >= 4) return;
  snprintf(g->function[g->n], sizeof g->function[0], "%s", fr->function ? fr->function : "");
  snprintf(g->file[g->n], sizeof g->file[0], "%s", fr->file ? fr->file : "");
  g->line[g->n++] = fr->line;
}

static bool ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

static void resolves_own_call_with_inlined_frame(void **state) {
  (void)state;
  volatile int outer = 0, inner = 0;
  uint64_t pc = outer_probe(&outer, &inner);
  uint64_t lo = 0;
  char path[4096];
  assert_int_equal(self_mapping(pc, &lo, path, sizeof path), 0);

  struct resolver *r = resolver_new(NULL);
  assert_non_null(r);
  struct resolver_file *f = resolver_file(r, path);
  assert_non_null(f);
  assert_int_equal(resolver_file_state(f), RESOLVER_FILE_DEBUG);
  for (int round = 0; round < 2; round++) { /* the second from the cache */
    struct got g = {0};
    assert_int_equal(resolver_frames(r, path, lo, pc, true, collect, &g), 2);
    assert_string_equal(g.function[0], "outer_probe");
    assert_int_equal(g.line[0], outer);
    assert_string_equal(g.function[1], "inlined_probe");
    assert_int_equal(g.line[1], inner);
    assert_true(ends_with(g.file[0], "test_resolver.c"));
    assert_true(ends_with(g.file[1], "test_resolver.c"));
  }
  struct resolver_stats st;
  resolver_stats(r, &st);
  assert_int_equal(st.lookups, 2);
  assert_int_equal(st.misses, 1);
  resolver_free(r);
}

static void missing_file(void **state) {
  (void)state;
  struct resolver *r = resolver_new("/nonexistent-root");
  assert_non_null(r);
  struct resolver_file *f = resolver_file(r, "/usr/bin/true");
  assert_non_null(f);
  assert_int_equal(resolver_file_state(f), RESOLVER_FILE_MISSING);
  struct got g = {0};
  assert_int_equal(resolver_frames(r, "/usr/bin/true", 0x1000, 0x1234, false, collect, &g), -1);
  assert_int_equal(g.n, 0);
  resolver_free(r);
}

/* ---- the cache ---------------------------------------------------------- */

static void cache_bounded(void **state) {
  (void)state;
  struct addr_cache *c = addr_cache_new(100, 0);
  assert_non_null(c);
  struct resolver_frame fr[2] = {{"outer", "a.c", 10}, {"inner", "b.h", 20}};
  for (uint64_t a = 0; a < 1000; a++) {
    const struct addr_cached *e = addr_cache_put(c, 1, a, fr, 2);
    assert_non_null(e);
    assert_int_equal(e->nframes, 2);
    assert_string_equal(e->frames[1].function, "inner");
    assert_int_equal(e->frames[1].line, 20);
  }
  /* 100 entries at most: emptied 9 times, the last 100 addresses kept. */
  assert_int_equal(addr_cache_flushes(c), 9);
  assert_non_null(addr_cache_get(c, 1, 999));
  assert_non_null(addr_cache_get(c, 1, 900));
  assert_null(addr_cache_get(c, 1, 899));
  assert_null(addr_cache_get(c, 2, 999));
  /* Nothing known is an entry too (no second look-up). */
  const struct addr_cached *e = addr_cache_put(c, 3, 7, NULL, 0);
  assert_non_null(e);
  assert_int_equal(addr_cache_get(c, 3, 7)->nframes, 0);
  addr_cache_free(c);
}

/* ---- the map table of austinp-resolve ----------------------------------- */

static void maps_replace_overlapped(void **state) {
  (void)state;
  struct resolver *r = resolver_new("/nonexistent-root");
  struct session s;
  session_init(&s, r);
  assert_int_equal(session_add_map(&s, SESSION_NO_PID, 0x1000, 0x2000, "/a"), SESSION_MAP_OK);
  assert_int_equal(session_add_map(&s, SESSION_NO_PID, 0x5000, 0x6000, "/b"), SESSION_MAP_OK);
  assert_int_equal(session_add_map(&s, SESSION_NO_PID, 0x3000, 0x4000, "/c"), SESSION_MAP_OK);
  assert_string_equal(session_find(&s, 1, 0x1fff)->file->path, "/a");
  assert_string_equal(session_find(&s, 1, 0x3000)->file->path, "/c");
  assert_string_equal(session_find(&s, 1, 0x5800)->file->path, "/b");
  assert_null(session_find(&s, 1, 0x2000));
  assert_null(session_find(&s, 1, 0x6000));
  /* A module loaded over two earlier ones replaces both. */
  assert_int_equal(session_add_map(&s, SESSION_NO_PID, 0x1800, 0x4800, "/d"), SESSION_MAP_OK);
  assert_int_equal(s.nmaps, 2);
  assert_string_equal(session_find(&s, 1, 0x1000 + 0x900)->file->path, "/d");
  assert_null(session_find(&s, 1, 0x1000));
  assert_string_equal(session_find(&s, 1, 0x5800)->file->path, "/b");
  session_free(&s);
  resolver_free(r);
}

/* austinp -C: the same addresses in two processes name different files;
 * mappings announced without a pid serve any process that has none of its
 * own at the address. */
static void maps_per_process(void **state) {
  (void)state;
  struct resolver *r = resolver_new("/nonexistent-root");
  struct session s;
  session_init(&s, r);
  static const char *const specs[] = {"P10 1000-2000 /ten", "P20 1000-2000 /twenty",
                                      "3000-4000 /any", "P20 3000-3800 /twenty-late"};
  for (size_t i = 0; i < sizeof specs / sizeof *specs; i++)
    assert_int_equal(session_add_map_spec(&s, specs[i], specs[i] + strlen(specs[i])),
                     SESSION_MAP_OK);
  assert_string_equal(session_find(&s, 10, 0x1800)->file->path, "/ten");
  assert_string_equal(session_find(&s, 20, 0x1800)->file->path, "/twenty");
  assert_null(session_find(&s, 30, 0x1800));
  assert_string_equal(session_find(&s, 10, 0x3100)->file->path, "/any");
  assert_string_equal(session_find(&s, 20, 0x3100)->file->path, "/twenty-late");
  assert_string_equal(session_find(&s, 20, 0x3900)->file->path, "/any");
  assert_int_equal(s.nmaps, 4);
  static const char *const bad[] = {"P 1000-2000 /x", "Px1 1000-2000 /x", "P10", "P10  1000-2000 /x",
                                    "P99999999999 1000-2000 /x", "P10-1000-2000 /x"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    enum session_map_status st = session_add_map_spec(&s, bad[i], bad[i] + strlen(bad[i]));
    assert_true(st == SESSION_MAP_BAD_PID || st == SESSION_MAP_BAD_START);
  }
  assert_int_equal(s.nmaps, 4);
  session_free(&s);
  resolver_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(resolves_own_call_with_inlined_frame),
      cmocka_unit_test(missing_file),
      cmocka_unit_test(cache_bounded),
      cmocka_unit_test(maps_replace_overlapped),
      cmocka_unit_test(maps_per_process),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
