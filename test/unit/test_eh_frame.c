/* eh_frame: FDE lookup and FDE order on real interpreter binaries.
 *
 * The property austinp relies on to find the evaluation loop's cold part
 * in stripped builds: GCC emits a split function's cold FDE right after
 * its own. Checked where symbols name both parts (pyenv's libpython has
 * _PyEval_EvalFrameDefault.cold in .symtab); then the Debian sid builds,
 * stripped, must yield a part that no symbol covers, far from the
 * function. The interpreters come from test/list-interpreters (pyenv-3.12,
 * sid-3.14, sid-3.15); an absent one makes its test skip, named. */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "eh_frame.h"
#include "elf_symbols.h"
#include "interpreters.h"

struct loaded {
  struct elf_file *ef;
  struct eh_section hdr, eh;
  uint64_t table_addr, count;
};

static int load_section(struct elf_file *ef, const char *name, struct eh_section *s) {
  uint64_t addr, size;
  if (elf_file_section(ef, name, &addr, &size) != 0 || size == 0) return -1;
  uint8_t *data = malloc(size);
  if (data == NULL || elf_file_read(ef, addr, data, size) != 0) {
    free(data);
    return -1;
  }
  *s = (struct eh_section){data, addr, size};
  return 0;
}

/* .eh_frame_hdr version 1 with a datarel sdata4 table (what GCC and ld
 * write): the table starts after the two encoded pointers. */
static int load(const char *path, struct loaded *l) {
  memset(l, 0, sizeof *l);
  if ((l->ef = elf_file_open(path, NULL)) == NULL) return -1;
  if (load_section(l->ef, ".eh_frame_hdr", &l->hdr) != 0 ||
      load_section(l->ef, ".eh_frame", &l->eh) != 0)
    return -1;
  const uint8_t *h = l->hdr.data;
  if (h[0] != 1 || h[1] != 0x1b || h[2] != 0x03 || h[3] != 0x3b) return -1;
  uint32_t count;
  memcpy(&count, h + 8, 4);
  l->table_addr = l->hdr.addr + 12;
  l->count = count;
  return 0;
}

static void unload(struct loaded *l) {
  free((void *)l->hdr.data);
  free((void *)l->eh.data);
  elf_file_close(l->ef);
}

/* PREFIX/lib/libpython3.12.so.1.0 of test/list-interpreters' pyenv-3.12
 * (PREFIX/bin/python3.12); skips the test when it is absent. */
static const char *pyenv_libpython(void) {
  static char path[4096];
  const struct unit_interp *it = unit_interp_require("pyenv-3.12");
  snprintf(path, sizeof path, "%s", it->path);
  for (int up = 0; up < 2; up++) {
    char *slash = strrchr(path, '/');
    if (slash != NULL) *slash = '\0';
  }
  size_t n = strlen(path);
  snprintf(path + n, sizeof path - n, "/lib/libpython%s.so.1.0", it->minor);
  return path;
}

/* The part after the function's FDE, as austinp finds it. */
static int next_part(struct loaded *l, uint64_t fn, uint64_t *start, uint64_t *end) {
  uint64_t fde, next, s, e;
  assert_int_equal(eh_frame_hdr_find(&l->hdr, l->table_addr, l->count, fn, &fde), 0);
  assert_int_equal(eh_frame_fde_range(&l->eh, fde, &s, &e), 0);
  assert_true(s == fn);
  if (eh_frame_next_fde(&l->eh, fde, &next) != 0) return -1;
  return eh_frame_fde_range(&l->eh, next, start, end);
}

static void test_named_cold_part_follows(void **state) {
  (void)state;
  const char *path = pyenv_libpython();
  if (access(path, R_OK) != 0) {
    printf("skipped: %s absent (pyenv-3.12 built without --enable-shared)\n", path);
    skip();
  }
  struct loaded l;
  assert_int_equal(load(path, &l), 0);
  uint64_t fn, fn_size, cold, cold_size, start, end;
  assert_int_equal(elf_file_symbol(l.ef, "_PyEval_EvalFrameDefault", &fn, &fn_size), 0);
  if (elf_file_symbol(l.ef, "_PyEval_EvalFrameDefault.cold", &cold, &cold_size) != 0) {
    printf("skipped: %s has no _PyEval_EvalFrameDefault.cold (not split)\n", path);
    unload(&l);
    skip();
  }
  assert_int_equal(next_part(&l, fn, &start, &end), 0);
  assert_true(start == cold);
  assert_true(end == cold + cold_size);
  unload(&l);
}

/* Every FDE the table lists is found again by its own start. */
static void test_every_fde_found(void **state) {
  (void)state;
  struct loaded l;
  assert_int_equal(load("/proc/self/exe", &l), 0);
  const uint8_t *t = l.hdr.data + (l.table_addr - l.hdr.addr);
  for (uint64_t i = 0; i < l.count; i++) {
    int32_t loc, fde_rel;
    memcpy(&loc, t + 8 * i, 4);
    memcpy(&fde_rel, t + 8 * i + 4, 4);
    uint64_t pc = l.hdr.addr + (uint64_t)(int64_t)loc, fde, s, e;
    assert_int_equal(eh_frame_hdr_find(&l.hdr, l.table_addr, l.count, pc, &fde), 0);
    assert_true(fde == l.hdr.addr + (uint64_t)(int64_t)fde_rel);
    assert_int_equal(eh_frame_fde_range(&l.eh, fde, &s, &e), 0);
    assert_true(s == pc && e > s);
  }
  /* Below the first FDE: nothing. */
  uint64_t fde;
  assert_int_equal(eh_frame_hdr_find(&l.hdr, l.table_addr, l.count, 0, &fde), -1);
  unload(&l);
}

static void check_sid(const char *label) {
  const char *path = unit_interp_require(label)->path;
  struct loaded l;
  assert_int_equal(load(path, &l), 0);
  uint64_t fn, fn_size, start, end;
  assert_int_equal(elf_file_symbol(l.ef, "_PyEval_EvalFrameDefault", &fn, &fn_size), 0);
  assert_int_equal(next_part(&l, fn, &start, &end), 0);
  /* Far from the function, larger than it (most of the loop is there in
   * Debian's PGO build), and not the function itself. */
  assert_true(start + 4096 < fn || start > fn + fn_size + 4096);
  assert_true(end - start > fn_size);
  unload(&l);
}

static void test_sid_314_cold_part(void **state) { (void)state; check_sid("sid-3.14"); }
static void test_sid_315_cold_part(void **state) { (void)state; check_sid("sid-3.15"); }

/* Truncated and garbage sections are refused, not read past. */
static void test_malformed(void **state) {
  (void)state;
  uint8_t junk[64];
  memset(junk, 0xff, sizeof junk);
  struct eh_section s = {junk, 0x1000, sizeof junk};
  uint64_t a, b;
  assert_int_equal(eh_frame_fde_range(&s, 0x1000, &a, &b), -1);
  assert_int_equal(eh_frame_next_fde(&s, 0x1000, &a), -1);
  assert_int_equal(eh_frame_fde_range(&s, 0x0, &a, &b), -1);
  uint8_t small[8] = {200, 0, 0, 0, 1, 0, 0, 0}; /* length beyond the end */
  struct eh_section t = {small, 0x2000, sizeof small};
  assert_int_equal(eh_frame_fde_range(&t, 0x2000, &a, &b), -1);
  assert_int_equal(eh_frame_hdr_find(&t, 0x2000, 1000, 0x2000, &a), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_fde_found),
      cmocka_unit_test(test_named_cold_part_follows),
      cmocka_unit_test(test_sid_314_cold_part),
      cmocka_unit_test(test_sid_315_cold_part),
      cmocka_unit_test(test_malformed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
