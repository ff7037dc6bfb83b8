/* The vDSO image: our own (the kernel's, read from our memory as austinp
 * reads a target's) against what the kernel and its ELF say, and damaged
 * copies of it, which are refused or read within their bounds, never past
 * them (scripts/test-sanitizers runs this under ASan and UBSan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "proc_maps.h"
#include "remote.h"
#include "vdso.h"

static bool own_vdso(uint64_t *lo, uint64_t *hi) {
  struct proc_maps pm;
  if (proc_maps_read(getpid(), &pm) != 0) return false;
  bool found = false;
  for (size_t i = 0; i < pm.count && !found; i++)
    if (pm.maps[i].vdso) {
      *lo = pm.maps[i].start;
      *hi = pm.maps[i].end;
      found = pm.maps[i].path == NULL;
    }
  proc_maps_free(&pm);
  return found;
}

struct seen {
  size_t n;
  bool clock_gettime;
  uint64_t clock_addr, clock_size;
};

static int collect(const char *name, uint64_t value, uint64_t size, void *ctx) {
  struct seen *s = ctx;
  s->n++;
  size_t len = strlen(name);
  /* __vdso_clock_gettime on x86_64, __kernel_clock_gettime on arm64. */
  if (len >= 13 && strcmp(name + len - 13, "clock_gettime") == 0) {
    s->clock_gettime = true;
    s->clock_addr = value;
    s->clock_size = size;
  }
  return 0;
}

static void own_image(void **state) {
  (void)state;
  uint64_t lo, hi;
  if (!own_vdso(&lo, &hi)) skip();
  /* The kernel's own word for where the image is. */
  assert_int_equal(getauxval(AT_SYSINFO_EHDR), lo);
  struct remote *r = remote_open_pid(getpid());
  assert_non_null(r);
  struct vdso_image *v = vdso_image_read(r, lo, hi);
  assert_non_null(v);
  struct seen s = {0};
  assert_int_equal(vdso_image_each_function(v, collect, &s), 0);
  assert_true(s.n > 0 && s.clock_gettime);
  /* clock_gettime lies in the mapping once biased. */
  uint64_t bias = vdso_image_bias(v, lo);
  assert_true(s.clock_addr + bias >= lo && s.clock_addr + s.clock_size + bias <= hi);
  assert_int_equal(vdso_image_offset(v, s.clock_addr), s.clock_addr + bias - lo);
  /* Its unwind tables: .eh_frame_hdr version 1, read where linked. */
  uint64_t addr, size;
  assert_int_equal(vdso_image_section(v, ".eh_frame_hdr", &addr, &size), 0);
  uint8_t version = 0;
  assert_int_equal(vdso_image_read_at(v, addr, &version, 1), 0);
  assert_int_equal(version, 1);
  assert_int_equal(vdso_image_section(v, ".eh_frame", &addr, &size), 0);
  assert_true(size > 0);
  /* Reads inside the image are served; past its end, refused. */
  uint8_t buf[16];
  assert_int_equal(vdso_image_read_at(v, addr, buf, size < sizeof buf ? (size_t)size : sizeof buf), 0);
  assert_int_equal(vdso_image_read_at(v, addr + size - 1, buf, 1), 0);
  uint64_t end = hi - bias; /* link-time address just past the mapping */
  assert_int_equal(vdso_image_read_at(v, end - 1, buf, 2), -1);
  assert_int_equal(vdso_image_read_at(v, end + 0x100000, buf, 1), -1);
  assert_int_equal(vdso_image_section(v, ".no-such-section", NULL, NULL), -1);
  vdso_image_free(v);
  /* No image larger than any vDSO is read. */
  assert_null(vdso_image_read(r, lo, lo + VDSO_MAX_BYTES + 4096));
  assert_null(vdso_image_read(r, hi, lo));
  remote_close(r);
}

/* Every query of a parsed (damaged) image, for the sanitizers to watch. */
static void exercise(struct vdso_image *v, size_t len) {
  struct seen s = {0};
  vdso_image_each_function(v, collect, &s);
  uint64_t addr, size;
  uint8_t buf[64];
  const char *names[] = {".eh_frame_hdr", ".eh_frame", ".text", ".dynsym"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++)
    if (vdso_image_section(v, names[i], &addr, &size) == 0)
      vdso_image_read_at(v, addr, buf, size < sizeof buf ? (size_t)size : sizeof buf);
  for (uint64_t a = 0; a < len + 128; a += 61) vdso_image_read_at(v, a, buf, sizeof buf);
}

static void damaged_images(void **state) {
  (void)state;
  uint64_t lo, hi;
  if (!own_vdso(&lo, &hi)) skip();
  size_t len = (size_t)(hi - lo);
  uint8_t *good = malloc(len), *bad = malloc(len);
  assert_non_null(good);
  assert_non_null(bad);
  struct remote *self = remote_open_pid(getpid());
  assert_int_equal(remote_read(self, lo, good, len), 0);
  remote_close(self);
  struct remote_range range = {lo, len, bad};
  struct remote *r = remote_open_image(&range, 1);
  assert_non_null(r);
  size_t parsed = 0;
  /* Cut short anywhere. */
  memcpy(bad, good, len);
  for (size_t cut = 0; cut < len; cut += 16) {
    struct vdso_image *v = vdso_image_read(r, lo, lo + cut);
    if (v != NULL) {
      exercise(v, cut);
      parsed++;
    }
    vdso_image_free(v);
  }
  /* One byte changed anywhere (headers, tables, strings, code). */
  const uint8_t patterns[] = {0xff, 0x00, 0x80, 0x7f};
  for (size_t at = 0; at < len; at++) {
    memcpy(bad, good, len);
    bad[at] = patterns[at % sizeof patterns];
    struct vdso_image *v = vdso_image_read(r, lo, hi);
    if (v != NULL) {
      exercise(v, len);
      parsed++;
    }
    vdso_image_free(v);
  }
  /* Most changes leave an image that parses: the queries were exercised. */
  assert_true(parsed > len / 2);
  remote_close(r);
  free(good);
  free(bad);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(own_image),
      cmocka_unit_test(damaged_images),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
