/* Unit tests of elf_symbols.c on real binaries: the test's own executable,
 * Debian's and pyenv's Pythons (from test/list-interpreters), and shared
 * objects built here with a separate debug file. Expected values come from
 * binutils (nm, readelf), never hard-coded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elf_symbols.h"
#include "interpreters.h"

/* ---- things of our own to look up ------------------------------------ */

int main(void);

__attribute__((noinline, used)) static int elf_test_static_helper(int x) {
  return x * 7 + 3;
}

__attribute__((used)) static const char elf_test_marker[] =
    "elf_symbols test marker: 0123456789abcdef";

/* ---- helpers ---------------------------------------------------------- */

/* Output of a shell command (malloc'd, NUL-terminated), NULL on failure. */
static char *capture(const char *fmt, ...) {
  char cmd[8192];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  FILE *p = popen(cmd, "r");
  if (p == NULL)
    return NULL;
  size_t cap = 65536, len = 0;
  char *buf = malloc(cap);
  size_t n;
  while (buf != NULL && (n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
    len += n;
    if (cap - len < 2) {
      char *nb = realloc(buf, cap * 2);
      if (nb == NULL) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
  }
  int status = pclose(p);
  if (buf == NULL)
    return NULL;
  buf[len] = '\0';
  if (status != 0) {
    free(buf);
    return NULL;
  }
  return buf;
}

static int run(const char *fmt, ...) {
  char cmd[8192];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  return system(cmd);
}

/* Value of a defined symbol according to `nm` (`nm -D` if dynamic). */
static int nm_value(const char *file, const char *name, int dynamic,
                    uint64_t *value) {
  char *out = capture("nm %s --defined-only '%s' 2>/dev/null",
                      dynamic ? "-D" : "", file);
  if (out == NULL)
    return -1;
  int found = -1;
  for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
    uint64_t v;
    char type;
    char sym[1024];
    if (sscanf(line, "%" SCNx64 " %c %1023s", &v, &type, sym) != 3)
      continue;
    char *at = strchr(sym, '@'); /* nm -D may print name@@VERSION */
    if (at != NULL)
      *at = '\0';
    if (strcmp(sym, name) == 0) {
      *value = v;
      found = 0;
      break;
    }
  }
  free(out);
  return found;
}

/* Address of a section according to `readelf -SW`. */
static int readelf_section(const char *file, const char *name,
                           uint64_t *addr) {
  char *out = capture("readelf -SW '%s' 2>/dev/null", file);
  if (out == NULL)
    return -1;
  int found = -1;
  for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
    char *br = strchr(line, ']');
    char sname[256], stype[64];
    uint64_t a;
    if (br == NULL || strchr(line, '[') == NULL ||
        sscanf(br + 1, "%255s %63s %" SCNx64, sname, stype, &a) != 3)
      continue;
    if (strcmp(sname, name) == 0) {
      *addr = a;
      found = 0;
      break;
    }
  }
  free(out);
  return found;
}

/* Value of a dynamic symbol according to `readelf --dyn-syms`. */
static int readelf_dynsym(const char *file, const char *name,
                          uint64_t *value) {
  char *out = capture("readelf -W --dyn-syms '%s' 2>/dev/null", file);
  if (out == NULL)
    return -1;
  int found = -1;
  for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
    uint64_t v;
    /* The size is decimal, or hex with 0x when large. */
    char size[32], type[32], bind[32], vis[32], ndx[32], sym[1024];
    if (sscanf(line, " %*u: %" SCNx64 " %31s %31s %31s %31s %31s %1023s",
               &v, size, type, bind, vis, ndx, sym) != 7)
      continue;
    char *at = strchr(sym, '@');
    if (at != NULL)
      *at = '\0';
    if (strcmp(ndx, "UND") != 0 && strcmp(sym, name) == 0) {
      *value = v;
      found = 0;
      break;
    }
  }
  free(out);
  return found;
}

static char *self_exe(void) {
  static char path[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0)
    return NULL;
  path[n] = '\0';
  return path;
}

/* ---- the test's own executable ---------------------------------------- */

static void test_self_symbols(void **state) {
  (void)state;
  const char *exe = self_exe();
  assert_non_null(exe);
  struct elf_file *ef = elf_file_open(exe, "");
  assert_non_null(ef);

  uint64_t v = 0, size = 0, want = 0;
  assert_int_equal(nm_value(exe, "main", 0, &want), 0);
  assert_int_equal(elf_file_symbol(ef, "main", &v, &size), 0);
  assert_int_equal(v, want);
  assert_true(size > 0);

  assert_int_equal(nm_value(exe, "elf_test_static_helper", 0, &want), 0);
  assert_int_equal(elf_file_symbol(ef, "elf_test_static_helper", &v, NULL), 0);
  assert_int_equal(v, want);

  assert_int_equal(elf_file_symbol(ef, "no_such_symbol_hopefully", &v, NULL),
                   -1);
  assert_int_equal(elf_file_symbol(ef, "", &v, NULL), -1);
  elf_file_close(ef);
}

static void test_self_load_bias(void **state) {
  (void)state;
  const char *exe = self_exe();
  assert_non_null(exe);
  struct elf_file *ef = elf_file_open(exe, "");
  assert_non_null(ef);
  uint64_t main_v, helper_v;
  assert_int_equal(elf_file_symbol(ef, "main", &main_v, NULL), 0);
  assert_int_equal(elf_file_symbol(ef, "elf_test_static_helper", &helper_v,
                                   NULL), 0);

  FILE *maps = fopen("/proc/self/maps", "r");
  assert_non_null(maps);
  char line[PATH_MAX + 256];
  int nmaps = 0;
  uint64_t first_bias = 0;
  while (fgets(line, sizeof line, maps) != NULL) {
    uint64_t start, end, offset;
    char perms[8];
    int pathpos = 0;
    if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %*s %*s %n",
               &start, &end, perms, &offset, &pathpos) != 4 || pathpos == 0)
      continue;
    char *path = line + pathpos;
    path[strcspn(path, "\n")] = '\0';
    if (strcmp(path, exe) != 0)
      continue;
    uint64_t bias;
    assert_int_equal(elf_file_load_bias(ef, start, offset, &bias), 0);
    if (nmaps == 0)
      first_bias = bias;
    else /* every mapping of the file gives the same bias */
      assert_int_equal(bias, first_bias);
    nmaps++;
  }
  fclose(maps);
  assert_true(nmaps > 0);
  assert_int_equal(main_v + first_bias, (uint64_t)(uintptr_t)&main);
  assert_int_equal(helper_v + first_bias,
                   (uint64_t)(uintptr_t)&elf_test_static_helper);
  assert_int_equal(elf_test_static_helper(1), 10);

  /* An offset beyond the file belongs to no segment. */
  uint64_t bias;
  assert_int_equal(elf_file_load_bias(ef, 0x10000, UINT64_MAX & ~0xfffULL,
                                      &bias), -1);
  elf_file_close(ef);
}

static void test_self_read(void **state) {
  (void)state;
  const char *exe = self_exe();
  struct elf_file *ef = elf_file_open(exe, "");
  assert_non_null(ef);
  uint64_t v, size;
  assert_int_equal(elf_file_symbol(ef, "elf_test_marker", &v, &size), 0);
  assert_int_equal(size, sizeof elf_test_marker);
  char buf[sizeof elf_test_marker];
  assert_int_equal(elf_file_read(ef, v, buf, sizeof buf), 0);
  assert_memory_equal(buf, elf_test_marker, sizeof buf);

  /* The code of main, read from the file, is what is in memory. */
  uint64_t mv, msize;
  assert_int_equal(elf_file_symbol(ef, "main", &mv, &msize), 0);
  unsigned char code[16];
  size_t n = msize < sizeof code ? msize : sizeof code;
  assert_int_equal(elf_file_read(ef, mv, code, n), 0);
  assert_memory_equal(code, (const void *)&main, n);

  /* Outside any segment. */
  assert_int_equal(elf_file_read(ef, UINT64_MAX - 4, buf, 8), -1);
  elf_file_close(ef);
}

static void test_self_section(void **state) {
  (void)state;
  const char *exe = self_exe();
  struct elf_file *ef = elf_file_open(exe, "");
  assert_non_null(ef);
  uint64_t addr, size, want;
  assert_int_equal(readelf_section(exe, ".text", &want), 0);
  assert_int_equal(elf_file_section(ef, ".text", &addr, &size), 0);
  assert_int_equal(addr, want);
  assert_true(size > 0);
  assert_int_equal(elf_file_section(ef, ".no_such_section", &addr, &size), -1);
  elf_file_close(ef);
}

struct fn_search {
  const char *name;
  uint64_t value;
  int found;
  int calls;
  int stop_after; /* 0: never stop */
};

static int fn_cb(const char *name, uint64_t value, uint64_t size, void *ctx) {
  struct fn_search *s = ctx;
  assert_true(size > 0);
  s->calls++;
  if (strcmp(name, s->name) == 0) {
    s->found = 1;
    s->value = value;
  }
  if (s->stop_after > 0 && s->calls >= s->stop_after)
    return 42;
  return 0;
}

static void test_self_each_function(void **state) {
  (void)state;
  const char *exe = self_exe();
  struct elf_file *ef = elf_file_open(exe, "");
  assert_non_null(ef);
  uint64_t want;
  assert_int_equal(nm_value(exe, "elf_test_static_helper", 0, &want), 0);
  struct fn_search s = {.name = "elf_test_static_helper"};
  assert_int_equal(elf_file_each_function(ef, fn_cb, &s), 0);
  assert_true(s.found);
  assert_int_equal(s.value, want);
  assert_true(s.calls > 1);

  /* The callback's non-zero return stops the iteration. */
  struct fn_search stop = {.name = "", .stop_after = 1};
  assert_int_equal(elf_file_each_function(ef, fn_cb, &stop), 42);
  assert_int_equal(stop.calls, 1);
  elf_file_close(ef);
}

/* ---- Debian's and pyenv's Pythons ------------------------------------ */

static void test_system_python(void **state) {
  (void)state;
  const char *py = unit_interp_require("debian-3.11")->path;
  struct elf_file *ef = elf_file_open(py, "");
  assert_non_null(ef);
  uint64_t v, sec, secsize, want;
  assert_int_equal(elf_file_symbol(ef, "_PyRuntime", &v, NULL), 0);
  /* Found in .dynsym: no debug file was looked for. */
  assert_null(elf_file_debug_path(ef));
  assert_int_equal(elf_file_section(ef, ".PyRuntime", &sec, &secsize), 0);
  assert_int_equal(v, sec);
  assert_true(secsize > 0);
  assert_int_equal(readelf_dynsym(py, "_PyRuntime", &want), 0);
  assert_int_equal(v, want);
  assert_int_equal(readelf_section(py, ".PyRuntime", &want), 0);
  assert_int_equal(sec, want);
  /* It has a .gnu_debuglink (the debug file may or may not be installed). */
  assert_int_equal(elf_file_section(ef, ".gnu_debuglink", NULL, NULL), 0);
  elf_file_close(ef);
}

/* PREFIX/lib/libpythonX.Y.so.1.0 of an interpreter PREFIX/bin/pythonX.Y,
 * if it exists. */
static bool pyenv_libpython(const struct unit_interp *it, char *lib, size_t size) {
  char prefix[PATH_MAX];
  snprintf(prefix, sizeof prefix, "%s", it->path);
  for (int up = 0; up < 2; up++) {
    char *slash = strrchr(prefix, '/');
    if (slash == NULL) return false;
    *slash = '\0';
  }
  int n = snprintf(lib, size, "%s/lib/libpython%s.so.1.0", prefix, it->minor);
  return n > 0 && (size_t)n < size && access(lib, R_OK) == 0;
}

static void test_pyenv_libpython(void **state) {
  (void)state;
  const struct unit_interp *all;
  size_t n = unit_interp_all(&all), tested = 0;
  for (size_t i = 0; i < n; i++) {
    char lib[PATH_MAX];
    if (strncmp(all[i].label, "pyenv-", 6) != 0 || !pyenv_libpython(&all[i], lib, sizeof lib))
      continue;
    tested++;
    struct elf_file *ef = elf_file_open(lib, "");
    assert_non_null(ef);
    uint64_t v = 0, want = 0;
    int rc = elf_file_symbol(ef, "_PyRuntime", &v, NULL);
    if (nm_value(lib, "_PyRuntime", 1, &want) == 0) {
      print_message("%s: _PyRuntime = 0x%" PRIx64 "\n", lib, want);
      assert_int_equal(rc, 0);
      assert_int_equal(v, want);
    } else if (nm_value(lib, "_PyRuntime", 0, &want) == 0) {
      assert_int_equal(rc, 0);
      assert_int_equal(v, want);
    } else {
      print_message("%s: no _PyRuntime (before 3.7)\n", lib);
      assert_int_equal(rc, -1);
    }
    elf_file_close(ef);
  }
  if (tested == 0) {
    print_message("skipped: test/list-interpreters lists no pyenv interpreter "
                  "with a shared libpython (PREFIX/lib/libpythonX.Y.so.1.0)\n");
    skip();
  }
}

/* ---- separate debug files, built here --------------------------------- */

static char tmpdir[256];
static int have_lib;            /* the library below could be built */
static uint64_t hidden_value;   /* nm value of the static function */
static uint64_t exported_value; /* nm -D value of the exported one */
static char build_id[256];      /* hex */

static const char lib_source[] =
    "static int __attribute__((noinline)) elf_test_hidden_fn(int x)\n"
    "{ return x * 3 + 1; }\n"
    "int elf_test_exported_fn(int x) { return elf_test_hidden_fn(x) + 2; }\n";

static int group_setup(void **state) {
  (void)state;
  snprintf(tmpdir, sizeof tmpdir, "/tmp/test_elf_symbols.XXXXXX");
  if (mkdtemp(tmpdir) == NULL)
    return -1;
  char path[PATH_MAX + 32];
  snprintf(path, sizeof path, "%s/src.c", tmpdir);
  FILE *f = fopen(path, "w");
  if (f == NULL)
    return -1;
  fputs(lib_source, f);
  fclose(f);
  if (run("cd '%s' && gcc -g -O1 -shared -fPIC -Wl,--build-id -o orig.so "
          "src.c && objcopy --only-keep-debug orig.so libx.debug && "
          "objcopy --strip-all --add-gnu-debuglink=libx.debug orig.so "
          "libx.so",
          tmpdir) != 0) {
    print_message("cannot build the debug-link library in %s\n", tmpdir);
    return 0;
  }
  snprintf(path, sizeof path, "%s/orig.so", tmpdir);
  if (nm_value(path, "elf_test_hidden_fn", 0, &hidden_value) != 0 ||
      nm_value(path, "elf_test_exported_fn", 1, &exported_value) != 0)
    return 0;
  char *notes = capture("readelf -n '%s'", path);
  char *p = notes ? strstr(notes, "Build ID: ") : NULL;
  if (p == NULL || sscanf(p + 10, "%255[0-9a-f]", build_id) != 1 ||
      strlen(build_id) < 4) {
    free(notes);
    return 0;
  }
  free(notes);
  /* The stripped library really has no trace of the static function. */
  snprintf(path, sizeof path, "%s/libx.so", tmpdir);
  char *syms = capture("nm -a '%s' 2>&1; nm -D '%s'", path, path);
  if (syms == NULL || strstr(syms, "elf_test_hidden_fn") != NULL) {
    free(syms);
    return 0;
  }
  free(syms);
  have_lib = 1;
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  if (tmpdir[0] != '\0')
    run("rm -rf '%s'", tmpdir);
  return 0;
}

static void need_lib(void) {
  if (!have_lib) {
    print_message("skipping: the test library could not be built\n");
    skip();
  }
}

/* Create <tmpdir>/<name>/{root,lib} with lib/libx.so; return the case
 * directory in `dir`. */
static void make_case(const char *name, char *dir, size_t dirsize) {
  snprintf(dir, dirsize, "%s/%s", tmpdir, name);
  assert_int_equal(run("mkdir -p '%s/root' '%s/lib' && cp '%s/libx.so' "
                       "'%s/lib/'",
                       dir, dir, tmpdir, dir), 0);
}

/* Open <dir>/lib/libx.so (with `root`), check the exported function is
 * found without the debug file and the static one is found (through the
 * debug file at `want_debug`) or not (want_debug NULL). */
static void check_lib(const char *lib, const char *root,
                      const char *want_debug) {
  struct elf_file *ef = elf_file_open(lib, root);
  assert_non_null(ef);
  uint64_t v;
  assert_int_equal(elf_file_symbol(ef, "elf_test_exported_fn", &v, NULL), 0);
  assert_int_equal(v, exported_value);
  assert_null(elf_file_debug_path(ef)); /* not looked for yet */
  int rc = elf_file_symbol(ef, "elf_test_hidden_fn", &v, NULL);
  if (want_debug == NULL) {
    assert_int_equal(rc, -1);
    assert_null(elf_file_debug_path(ef));
  } else {
    assert_int_equal(rc, 0);
    assert_int_equal(v, hidden_value);
    assert_non_null(elf_file_debug_path(ef));
    assert_string_equal(elf_file_debug_path(ef), want_debug);
    /* A second lookup uses the same debug file. */
    assert_int_equal(elf_file_symbol(ef, "elf_test_hidden_fn", &v, NULL), 0);
    assert_string_equal(elf_file_debug_path(ef), want_debug);
  }
  elf_file_close(ef);
}

static void test_debuglink_none(void **state) {
  (void)state;
  need_lib();
  char dir[PATH_MAX], lib[PATH_MAX + 32], root[PATH_MAX + 32];
  make_case("none", dir, sizeof dir);
  snprintf(lib, sizeof lib, "%s/lib/libx.so", dir);
  snprintf(root, sizeof root, "%s/root", dir);
  check_lib(lib, root, NULL);
}

static void test_debuglink_beside(void **state) {
  (void)state;
  need_lib();
  char dir[PATH_MAX], lib[PATH_MAX + 32], root[PATH_MAX + 32],
      dbg[PATH_MAX + 32];
  make_case("beside", dir, sizeof dir);
  snprintf(lib, sizeof lib, "%s/lib/libx.so", dir);
  snprintf(root, sizeof root, "%s/root", dir);
  snprintf(dbg, sizeof dbg, "%s/lib/libx.debug", dir);
  assert_int_equal(run("cp '%s/libx.debug' '%s'", tmpdir, dbg), 0);
  check_lib(lib, root, dbg);
}

static void test_debuglink_dot_debug(void **state) {
  (void)state;
  need_lib();
  char dir[PATH_MAX], lib[PATH_MAX + 32], root[PATH_MAX + 32],
      dbg[PATH_MAX + 32];
  make_case("dotdebug", dir, sizeof dir);
  snprintf(lib, sizeof lib, "%s/lib/libx.so", dir);
  snprintf(root, sizeof root, "%s/root", dir);
  snprintf(dbg, sizeof dbg, "%s/lib/.debug/libx.debug", dir);
  assert_int_equal(run("mkdir '%s/lib/.debug' && cp '%s/libx.debug' '%s'",
                       dir, tmpdir, dbg), 0);
  check_lib(lib, root, dbg);
}

/* <root>/usr/lib/debug/<dir>/name, with a library path that already
 * carries the root prefix (as /proc/PID/root/... does). */
static void test_debuglink_usr_lib_debug(void **state) {
  (void)state;
  need_lib();
  char dir[PATH_MAX], lib[PATH_MAX + 64], root[PATH_MAX + 32],
      dbg[PATH_MAX + 128];
  make_case("usrlibdebug", dir, sizeof dir);
  snprintf(root, sizeof root, "%s/root", dir);
  snprintf(lib, sizeof lib, "%s/usr/lib/x/libx.so", root);
  snprintf(dbg, sizeof dbg, "%s/usr/lib/debug/usr/lib/x/libx.debug", root);
  assert_int_equal(run("mkdir -p '%s/usr/lib/x' '%s/usr/lib/debug/usr/lib/x' "
                       "&& cp '%s/lib/libx.so' '%s' && cp '%s/libx.debug' "
                       "'%s'",
                       root, root, dir, lib, tmpdir, dbg), 0);
  check_lib(lib, root, dbg);
}

/* A file with the right name but the wrong CRC is not the debug file. */
static void test_debuglink_bad_crc(void **state) {
  (void)state;
  need_lib();
  char dir[PATH_MAX], lib[PATH_MAX + 32], root[PATH_MAX + 32],
      dbg[PATH_MAX + 32];
  make_case("badcrc", dir, sizeof dir);
  snprintf(lib, sizeof lib, "%s/lib/libx.so", dir);
  snprintf(root, sizeof root, "%s/root", dir);
  snprintf(dbg, sizeof dbg, "%s/lib/libx.debug", dir);
  /* Still a valid ELF file, but one byte longer. */
  assert_int_equal(run("cp '%s/libx.debug' '%s' && printf x >> '%s'", tmpdir,
                       dbg, dbg), 0);
  check_lib(lib, root, NULL);
}

static void test_build_id(void **state) {
  (void)state;
  need_lib();
  char dir[PATH_MAX], lib[PATH_MAX + 32], root[PATH_MAX + 32],
      dbg[PATH_MAX + 600];
  make_case("buildid", dir, sizeof dir);
  snprintf(lib, sizeof lib, "%s/lib/libx.so", dir);
  snprintf(root, sizeof root, "%s/root", dir);
  snprintf(dbg, sizeof dbg, "%s/usr/lib/debug/.build-id/%.2s/%s.debug", root,
           build_id, build_id + 2);
  assert_int_equal(run("mkdir -p \"$(dirname '%s')\" && cp '%s/libx.debug' "
                       "'%s'",
                       dbg, tmpdir, dbg), 0);
  check_lib(lib, root, dbg);
  /* Under another root, it is not found. */
  char other[PATH_MAX + 32];
  snprintf(other, sizeof other, "%s/lib", dir);
  check_lib(lib, other, NULL);
}

static void test_debug_each_function(void **state) {
  (void)state;
  need_lib();
  char dir[PATH_MAX], lib[PATH_MAX + 32], root[PATH_MAX + 32];
  make_case("beside", dir, sizeof dir); /* reuses the debug file there */
  snprintf(lib, sizeof lib, "%s/lib/libx.so", dir);
  snprintf(root, sizeof root, "%s/root", dir);
  assert_int_equal(run("cp '%s/libx.debug' '%s/lib/'", tmpdir, dir), 0);
  struct elf_file *ef = elf_file_open(lib, root);
  assert_non_null(ef);
  struct fn_search s = {.name = "elf_test_hidden_fn"};
  assert_int_equal(elf_file_each_function(ef, fn_cb, &s), 0);
  assert_true(s.found);
  assert_int_equal(s.value, hidden_value);
  assert_non_null(elf_file_debug_path(ef));
  struct fn_search e = {.name = "elf_test_exported_fn"};
  assert_int_equal(elf_file_each_function(ef, fn_cb, &e), 0);
  assert_true(e.found);
  assert_int_equal(e.value, exported_value);
  elf_file_close(ef);
}

/* ---- malformed inputs ------------------------------------------------- */

/* Every call on a possibly broken file: none may crash. */
static void exercise(const char *path, const char *root) {
  struct elf_file *ef = elf_file_open(path, root);
  if (ef == NULL)
    return;
  uint64_t v, size, bias;
  char buf[64];
  if (elf_file_symbol(ef, "elf_test_exported_fn", &v, &size) == 0)
    (void)elf_file_read(ef, v, buf, sizeof buf);
  (void)elf_file_symbol(ef, "elf_test_hidden_fn", &v, &size);
  (void)elf_file_symbol(ef, "main", &v, NULL);
  (void)elf_file_section(ef, ".text", &v, &size);
  (void)elf_file_section(ef, ".gnu_debuglink", &v, &size);
  (void)elf_file_read(ef, 0, buf, sizeof buf);
  (void)elf_file_load_bias(ef, 0x7f0000000000ULL, 0, &bias);
  (void)elf_file_load_bias(ef, 0x7f0000001000ULL, 0x1000, &bias);
  struct fn_search s = {.name = "elf_test_hidden_fn"};
  (void)elf_file_each_function(ef, fn_cb, &s);
  (void)elf_file_debug_path(ef);
  elf_file_close(ef);
}

static char *read_whole(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc(n > 0 ? (size_t)n : 1);
  if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  *len = (size_t)n;
  return buf;
}

static void write_whole(const char *path, const char *buf, size_t len) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(buf, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
}

static void test_malformed(void **state) {
  (void)state;
  char dir[PATH_MAX + 32], path[PATH_MAX + 64];
  snprintf(dir, sizeof dir, "%s/malformed", tmpdir);
  assert_int_equal(run("mkdir -p '%s'", dir), 0);

  assert_null(elf_file_open(NULL, ""));
  snprintf(path, sizeof path, "%s/missing", dir);
  assert_null(elf_file_open(path, ""));
  assert_null(elf_file_open(dir, "")); /* a directory */

  snprintf(path, sizeof path, "%s/empty", dir);
  write_whole(path, "", 0);
  assert_null(elf_file_open(path, ""));

  snprintf(path, sizeof path, "%s/text", dir);
  const char text[] = "#!/bin/sh\necho this is not an ELF file\n";
  write_whole(path, text, sizeof text - 1);
  assert_null(elf_file_open(path, ""));

  /* Truncated copies of a real ELF file at many lengths. */
  const char *src = self_exe();
  if (have_lib) {
    static char orig[PATH_MAX + 32];
    snprintf(orig, sizeof orig, "%s/orig.so", tmpdir);
    src = orig;
  }
  size_t len;
  char *elf = read_whole(src, &len);
  assert_non_null(elf);
  const size_t cuts[] = {1, 4, 16, 52, 63, 64, 65, 100, 200, 1000, 4096,
                         len / 3, len / 2, len - 64, len - 1};
  for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
    if (cuts[i] >= len)
      continue;
    snprintf(path, sizeof path, "%s/truncated", dir);
    write_whole(path, elf, cuts[i]);
    struct elf_file *ef = elf_file_open(path, dir);
    if (ef != NULL) {
      uint64_t v;
      /* If found at all, the value is the true one. */
      if (have_lib &&
          elf_file_symbol(ef, "elf_test_hidden_fn", &v, NULL) == 0)
        assert_int_equal(v, hidden_value);
      elf_file_close(ef);
    }
    exercise(path, dir);
  }
  free(elf);
}

/* Random corruption of a real ELF file (deterministic). */
static void test_fuzzed(void **state) {
  (void)state;
  need_lib();
  char dir[PATH_MAX + 32], path[PATH_MAX + 64], orig[PATH_MAX + 32];
  snprintf(dir, sizeof dir, "%s/fuzz", tmpdir);
  assert_int_equal(run("mkdir -p '%s'", dir), 0);
  snprintf(path, sizeof path, "%s/libx.so", dir);
  const char *sources[] = {"orig.so", "libx.so", "libx.debug"};
  uint32_t seed = 12345;
  int opened = 0;
  for (size_t s = 0; s < sizeof sources / sizeof sources[0]; s++) {
    snprintf(orig, sizeof orig, "%s/%s", tmpdir, sources[s]);
    size_t len;
    char *good = read_whole(orig, &len);
    assert_non_null(good);
    assert_true(len > 64);
    char *bad = malloc(len);
    assert_non_null(bad);
    /* The section header table: e_shoff of an ELF64 header. */
    uint64_t shoff;
    memcpy(&shoff, good + 0x28, 8);
    if (shoff >= len)
      shoff = len / 2;
    for (int iter = 0; iter < 150; iter++) {
      memcpy(bad, good, len);
      int nmut = 1 + iter % 8;
      for (int m = 0; m < nmut; m++) {
        seed = seed * 1103515245u + 12345u;
        uint32_t r = seed >> 8;
        size_t pos;
        switch (r % 3) {
        case 0: pos = r % 512; break;                                /* headers */
        case 1: pos = (size_t)shoff + r % (size_t)(len - shoff); break; /* shdrs */
        default: pos = r % len; break;
        }
        if (pos >= len)
          pos = len - 1;
        seed = seed * 1103515245u + 12345u;
        bad[pos] = (char)(seed >> 16);
      }
      write_whole(path, bad, len);
      struct elf_file *ef = elf_file_open(path, dir);
      if (ef != NULL) {
        opened++;
        elf_file_close(ef);
      }
      exercise(path, dir);
    }
    free(bad);
    free(good);
  }
  print_message("fuzz: %d of %d corrupted files opened\n", opened, 3 * 150);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_self_symbols),
      cmocka_unit_test(test_self_load_bias),
      cmocka_unit_test(test_self_read),
      cmocka_unit_test(test_self_section),
      cmocka_unit_test(test_self_each_function),
      cmocka_unit_test(test_system_python),
      cmocka_unit_test(test_pyenv_libpython),
      cmocka_unit_test(test_debuglink_none),
      cmocka_unit_test(test_debuglink_beside),
      cmocka_unit_test(test_debuglink_dot_debug),
      cmocka_unit_test(test_debuglink_usr_lib_debug),
      cmocka_unit_test(test_debuglink_bad_crc),
      cmocka_unit_test(test_build_id),
      cmocka_unit_test(test_debug_each_function),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_fuzzed),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
