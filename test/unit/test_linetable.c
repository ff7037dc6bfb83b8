/* Unit tests for linetable_locate.
 *
 * 1. For every interpreter listed by test/list-interpreters (or the script
 *    named by $LIST_INTERPRETERS), run test/unit/gen-linetable-fixtures.py on
 *    it (script on stdin, so that it also works inside a chroot), and check
 *    linetable_locate against the location the interpreter gives to every
 *    instruction of every code object of the fixture. One test per
 *    interpreter, named after its label.
 * 2. Hand-written tables: known answers for each entry form, and malformed or
 *    truncated tables that must give -1 or a value, never a crash or a read
 *    outside the table (run under valgrind or -fsanitize=address). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "linetable.h"

#define MAX_REPORTED_MISMATCHES 20

struct interpreter {
  char *label;
  char *version; /* major.minor */
  char *command; /* argv separated by spaces */
};

static const char *top_srcdir(void) {
  const char *dir = getenv("top_srcdir");
  return dir != NULL && *dir != '\0' ? dir : ".";
}

static char *xstrdup(const char *s) {
  char *copy = strdup(s);
  if (copy == NULL) {
    perror("strdup");
    exit(2);
  }
  return copy;
}

static char *path_join(const char *dir, const char *rest) {
  size_t n = strlen(dir) + strlen(rest) + 2;
  char *path = malloc(n);
  if (path == NULL) {
    perror("malloc");
    exit(2);
  }
  snprintf(path, n, "%s/%s", dir, rest);
  return path;
}

/* ---- running a command ---------------------------------------------------- */

struct buffer {
  char *data;
  size_t len;
  size_t cap;
};

static int buffer_append(struct buffer *b, const char *data, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 65536;
    while (cap < b->len + n + 1)
      cap *= 2;
    char *p = realloc(b->data, cap);
    if (p == NULL)
      return -1;
    b->data = p;
    b->cap = cap;
  }
  memcpy(b->data + b->len, data, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

/* Splits `command` on spaces into a NULL-terminated argv (modifies it). */
static char **split_argv(char *command, const char *extra) {
  size_t n = 2;
  for (const char *p = command; *p; p++)
    n += *p == ' ';
  char **argv = calloc(n + 1, sizeof *argv);
  if (argv == NULL)
    return NULL;
  size_t argc = 0;
  for (char *tok = strtok(command, " "); tok != NULL; tok = strtok(NULL, " "))
    argv[argc++] = tok;
  if (extra != NULL)
    argv[argc++] = (char *)extra;
  argv[argc] = NULL;
  return argv;
}

/* Runs argv with stdin from `stdin_path` (or /dev/null), collecting stdout.
 * Returns the wait status, or -1 when the command could not be started. */
static int run_capture(char **argv, const char *stdin_path, struct buffer *out) {
  int fds[2];
  if (pipe(fds) < 0)
    return -1;
  int in = open(stdin_path != NULL ? stdin_path : "/dev/null", O_RDONLY);
  if (in < 0) {
    close(fds[0]);
    close(fds[1]);
    return -1;
  }
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    close(in);
    return -1;
  }
  if (pid == 0) {
    dup2(in, 0);
    dup2(fds[1], 1);
    close(in);
    close(fds[0]);
    close(fds[1]);
    execvp(argv[0], argv);
    fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  close(in);
  close(fds[1]);
  char chunk[65536];
  for (;;) {
    ssize_t n = read(fds[0], chunk, sizeof chunk);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    if (buffer_append(out, chunk, (size_t)n) < 0)
      break;
  }
  close(fds[0]);
  int status;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR)
      return -1;
  }
  return status;
}

static const char *status_text(int status, char *buf, size_t n) {
  if (status < 0)
    snprintf(buf, n, "could not be started");
  else if (WIFEXITED(status))
    snprintf(buf, n, "exit status %d", WEXITSTATUS(status));
  else if (WIFSIGNALED(status))
    snprintf(buf, n, "killed by signal %d", WTERMSIG(status));
  else
    snprintf(buf, n, "status %d", status);
  return buf;
}

/* ---- fixture parsing ------------------------------------------------------- */

/* Next line of `*cursor` (NUL-terminated in place); NULL at the end. */
static char *next_line(char **cursor) {
  char *line = *cursor;
  if (line == NULL || *line == '\0')
    return NULL;
  char *nl = strchr(line, '\n');
  if (nl != NULL) {
    *nl = '\0';
    *cursor = nl + 1;
  } else {
    *cursor = line + strlen(line);
  }
  return line;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Decodes hex into a freshly allocated buffer of exactly the table's size (so
 * that the sanitizers catch any read past it). */
static uint8_t *decode_hex(const char *hex, size_t *len) {
  if (strcmp(hex, "-") == 0) {
    *len = 0;
    return malloc(1);
  }
  size_t n = strlen(hex);
  if (n % 2 != 0)
    return NULL;
  uint8_t *table = malloc(n / 2 ? n / 2 : 1);
  if (table == NULL)
    return NULL;
  for (size_t i = 0; i < n / 2; i++) {
    int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      free(table);
      return NULL;
    }
    table[i] = (uint8_t)(hi << 4 | lo);
  }
  *len = n / 2;
  return table;
}

static int expected_format(const char *version, enum linetable_format *format,
                           const char **name) {
  int major, minor;
  if (sscanf(version, "%d.%d", &major, &minor) != 2 || major != 3 || minor < 8)
    return -1;
  if (minor < 10) {
    *format = LINETABLE_LNOTAB;
    *name = "lnotab";
  } else if (minor == 10) {
    *format = LINETABLE_PEP626;
    *name = "pep626";
  } else {
    *format = LINETABLE_LOCATIONS;
    *name = "locations";
  }
  return 0;
}

/* ---- one test per interpreter ---------------------------------------------- */

static void test_interpreter(void **state) {
  struct interpreter *interp = *state;
  enum linetable_format format = LINETABLE_LNOTAB;
  const char *format_name = "";
  if (expected_format(interp->version, &format, &format_name) < 0)
    fail_msg("%s: unsupported version %s", interp->label, interp->version);

  char *script = path_join(top_srcdir(), "test/unit/gen-linetable-fixtures.py");
  char *command = xstrdup(interp->command);
  char **argv = split_argv(command, "-");
  assert_non_null(argv);
  struct buffer out = {0};
  int status = run_capture(argv, script, &out);
  char why[64];
  if (status != 0)
    fail_msg("%s: fixture generator (%s < %s) failed: %s", interp->label,
             interp->command, script, status_text(status, why, sizeof why));
  if (out.data == NULL)
    fail_msg("%s: fixture generator wrote nothing", interp->label);

  char *cursor = out.data;
  char *line = next_line(&cursor);
  char version[16];
  if (line == NULL || sscanf(line, "version %15s", version) != 1)
    fail_msg("%s: fixture: no version line", interp->label);
  if (strcmp(version, interp->version) != 0)
    fail_msg("%s: fixture is for %s, interpreter listed as %s", interp->label,
             version, interp->version);
  line = next_line(&cursor);
  char fmt[16];
  if (line == NULL || sscanf(line, "format %15s", fmt) != 1 ||
      strcmp(fmt, format_name) != 0)
    fail_msg("%s: fixture: bad format line (expected %s)", interp->label,
             format_name);

  long codes = 0, instructions = 0, mismatches = 0, declared = -1;
  while ((line = next_line(&cursor)) != NULL) {
    if (strncmp(line, "end ", 4) == 0) {
      declared = strtol(line + 4, NULL, 10);
      break;
    }
    char name[512], hex_start[2];
    int firstlineno, consumed = 0;
    long nlocs;
    if (sscanf(line, "code %511s %d %ld %1s%n", name, &firstlineno, &nlocs,
               hex_start, &consumed) != 4)
      fail_msg("%s: fixture: bad line after %ld code objects: %.80s",
               interp->label, codes, line);
    const char *hex = strrchr(line, ' ') + 1;
    size_t len;
    uint8_t *table = decode_hex(hex, &len);
    if (table == NULL)
      fail_msg("%s: fixture: bad table for %s", interp->label, name);
    codes++;

    uint64_t last = 0;
    for (long i = 0; i < nlocs; i++) {
      char *loc = next_line(&cursor);
      unsigned long long offset;
      struct linetable_location want, got;
      if (loc == NULL || sscanf(loc, "%llu %d %d %d %d", &offset, &want.line,
                                &want.end_line, &want.column,
                                &want.end_column) != 5)
        fail_msg("%s: fixture: truncated record for %s", interp->label, name);
      instructions++;
      last = offset;
      memset(&got, 0x55, sizeof got);
      int rc = linetable_locate(format, table, len, firstlineno, offset, &got);
      if (rc != 0 || got.line != want.line || got.end_line != want.end_line ||
          got.column != want.column || got.end_column != want.end_column) {
        if (++mismatches <= MAX_REPORTED_MISMATCHES) {
          if (rc != 0)
            print_error("%s (%s) %s first line %d offset %llu: expected "
                        "(line, end_line, col, end_col) = (%d, %d, %d, %d), got rc %d\n",
                        interp->label, version, name, firstlineno, offset,
                        want.line, want.end_line, want.column, want.end_column,
                        rc);
          else
            print_error("%s (%s) %s first line %d offset %llu: expected "
                        "(line, end_line, col, end_col) = (%d, %d, %d, %d), got "
                        "(%d, %d, %d, %d)\n",
                        interp->label, version, name, firstlineno, offset,
                        want.line, want.end_line, want.column, want.end_column,
                        got.line, got.end_line, got.column, got.end_column);
        }
      }
    }
    /* Past the last instruction: the 3.10+ tables cover the bytecode exactly. */
    if (format != LINETABLE_LNOTAB && nlocs > 0) {
      struct linetable_location got;
      int rc = linetable_locate(format, table, len, firstlineno, last + 2, &got);
      if (rc != -1 && ++mismatches <= MAX_REPORTED_MISMATCHES)
        print_error("%s (%s) %s: offset %llu past the code is covered (line %d)\n",
                    interp->label, version, name,
                    (unsigned long long)(last + 2), got.line);
    }
    free(table);
  }
  if (declared != codes)
    fail_msg("%s: fixture truncated: %ld code objects read, %ld declared",
             interp->label, codes, declared);
  print_message("%s (Python %s, %s): %ld code objects, %ld instructions "
                "checked, %ld mismatches\n",
                interp->label, version, format_name, codes, instructions,
                mismatches);
  if (mismatches > 0)
    fail_msg("%s: %ld mismatches", interp->label, mismatches);
  if (codes == 0 || instructions == 0)
    fail_msg("%s: nothing checked", interp->label);

  free(out.data);
  free(argv);
  free(command);
  free(script);
}

/* ---- hand-written tables ----------------------------------------------------- */

static int locate(enum linetable_format format, const uint8_t *bytes,
                  size_t len, int firstlineno, uint64_t offset,
                  struct linetable_location *out) {
  /* Exact-size heap copy so that over-reads are caught by the sanitizers. */
  uint8_t *copy = malloc(len ? len : 1);
  assert_non_null(copy);
  if (len)
    memcpy(copy, bytes, len);
  int rc = linetable_locate(format, len ? copy : NULL, len, firstlineno,
                            offset, out);
  free(copy);
  return rc;
}

static void expect_loc(enum linetable_format format, const uint8_t *bytes,
                       size_t len, int firstlineno, uint64_t offset, int line,
                       int end_line, int column, int end_column) {
  struct linetable_location got;
  assert_int_equal(locate(format, bytes, len, firstlineno, offset, &got), 0);
  assert_int_equal(got.line, line);
  assert_int_equal(got.end_line, end_line);
  assert_int_equal(got.column, column);
  assert_int_equal(got.end_column, end_column);
}

static void expect_fail(enum linetable_format format, const uint8_t *bytes,
                        size_t len, uint64_t offset) {
  struct linetable_location got;
  assert_int_equal(locate(format, bytes, len, 1, offset, &got), -1);
}

static void test_lnotab_known(void **state) {
  (void)state;
  /* +6 bytes +1 line; +0 bytes +127 lines; +255 bytes +0; +4 bytes -3 lines */
  const uint8_t t[] = {6, 1, 0, 127, 255, 0, 4, 0xfd};
  expect_loc(LINETABLE_LNOTAB, t, sizeof t, 10, 0, 10, 10, -1, -1);
  expect_loc(LINETABLE_LNOTAB, t, sizeof t, 10, 4, 10, 10, -1, -1);
  expect_loc(LINETABLE_LNOTAB, t, sizeof t, 10, 6, 138, 138, -1, -1);
  expect_loc(LINETABLE_LNOTAB, t, sizeof t, 10, 264, 138, 138, -1, -1);
  expect_loc(LINETABLE_LNOTAB, t, sizeof t, 10, 265, 135, 135, -1, -1);
  expect_loc(LINETABLE_LNOTAB, t, sizeof t, 10, 100000, 135, 135, -1, -1);
  expect_loc(LINETABLE_LNOTAB, NULL, 0, 7, 12, 7, 7, -1, -1);
  expect_fail(LINETABLE_LNOTAB, t, 3, 0); /* odd length */
}

static void test_pep626_known(void **state) {
  (void)state;
  /* [0,6) line+1; empty +127; [6,260) +0 (same line, split); [260,264) no
   * line; [264,268) -3 */
  const uint8_t t[] = {6, 1, 0, 127, 254, 0, 0, 0, 4, 0x80, 4, 0xfd};
  expect_loc(LINETABLE_PEP626, t, sizeof t, 10, 0, 11, 11, -1, -1);
  expect_loc(LINETABLE_PEP626, t, sizeof t, 10, 4, 11, 11, -1, -1);
  expect_loc(LINETABLE_PEP626, t, sizeof t, 10, 6, 138, 138, -1, -1);
  expect_loc(LINETABLE_PEP626, t, sizeof t, 10, 258, 138, 138, -1, -1);
  expect_loc(LINETABLE_PEP626, t, sizeof t, 10, 260, 0, 0, -1, -1);
  expect_loc(LINETABLE_PEP626, t, sizeof t, 10, 264, 135, 135, -1, -1);
  expect_fail(LINETABLE_PEP626, t, sizeof t, 268); /* past the end */
  expect_fail(LINETABLE_PEP626, t, sizeof t - 1, 0); /* odd length */
  expect_fail(LINETABLE_PEP626, NULL, 0, 0);
}

static void test_locations_known(void **state) {
  (void)state;
  const uint8_t t[] = {
      0x80 | 0 << 3 | 1, 0x12,       /* short 0: 2 units, cols 1-3 */
      0x80 | 9 << 3 | 0, 0x7f,       /* short 9: cols 79-94 */
      0x80 | 11 << 3 | 2, 100, 127,  /* one line +1: 3 units, cols 100-127 */
      0x80 | 13 << 3 | 0, 0x03,      /* no columns, line -1 */
      0x80 | 14 << 3 | 7, 0x50, 0x1f, /* long: 8 units, line +1000 (svarint) */
      0x02,                          /*   end line +2 */
      0x41, 0x04,                    /*   column+1 = 257 */
      0x00,                          /*   end column unknown */
      0x80 | 15 << 3 | 0,            /* no location */
      0x80 | 12 << 3 | 0, 5, 6,      /* one line +2 */
  };
  const int first = 50;
  expect_loc(LINETABLE_LOCATIONS, t, sizeof t, first, 0, 50, 50, 1, 3);
  expect_loc(LINETABLE_LOCATIONS, t, sizeof t, first, 2, 50, 50, 1, 3);
  expect_loc(LINETABLE_LOCATIONS, t, sizeof t, first, 4, 50, 50, 79, 94);
  expect_loc(LINETABLE_LOCATIONS, t, sizeof t, first, 6, 51, 51, 100, 127);
  expect_loc(LINETABLE_LOCATIONS, t, sizeof t, first, 10, 51, 51, 100, 127);
  expect_loc(LINETABLE_LOCATIONS, t, sizeof t, first, 12, 50, 50, -1, -1);
  expect_loc(LINETABLE_LOCATIONS, t, sizeof t, first, 14, 1050, 1052, 256, -1);
  expect_loc(LINETABLE_LOCATIONS, t, sizeof t, first, 28, 1050, 1052, 256, -1);
  expect_loc(LINETABLE_LOCATIONS, t, sizeof t, first, 30, 0, 0, -1, -1);
  expect_loc(LINETABLE_LOCATIONS, t, sizeof t, first, 32, 1052, 1052, 5, 6);
  expect_fail(LINETABLE_LOCATIONS, t, sizeof t, 34);
  expect_fail(LINETABLE_LOCATIONS, NULL, 0, 0);
  /* Odd offsets fall in the entry of their code unit. */
  expect_loc(LINETABLE_LOCATIONS, t, sizeof t, first, 5, 50, 50, 79, 94);
}

static void test_locations_malformed(void **state) {
  (void)state;
  struct linetable_location got;
  /* First byte without the high bit. */
  const uint8_t no_marker[] = {0x08, 0x00};
  expect_fail(LINETABLE_LOCATIONS, no_marker, sizeof no_marker, 0);
  /* Short form missing its second byte. */
  const uint8_t short_trunc[] = {0x80};
  expect_fail(LINETABLE_LOCATIONS, short_trunc, sizeof short_trunc, 0);
  /* Second byte with the high bit set (the start of the next entry). */
  const uint8_t short_bad[] = {0x80, 0x80, 0x00};
  expect_fail(LINETABLE_LOCATIONS, short_bad, sizeof short_bad, 0);
  /* One-line form truncated. */
  const uint8_t one_trunc[] = {0x80 | 10 << 3, 5};
  expect_fail(LINETABLE_LOCATIONS, one_trunc, sizeof one_trunc, 0);
  /* Varint that runs to the end of the table. */
  const uint8_t var_open[] = {0x80 | 13 << 3, 0x41, 0x41, 0x41};
  expect_fail(LINETABLE_LOCATIONS, var_open, sizeof var_open, 0);
  /* Varint too long for 32 bits. */
  const uint8_t var_long[] = {0x80 | 13 << 3, 0x7f, 0x7f, 0x7f, 0x7f,
                              0x7f, 0x7f, 0x7f, 0x01};
  expect_fail(LINETABLE_LOCATIONS, var_long, sizeof var_long, 0);
  /* Line overflowing int: firstlineno INT_MAX - 1, +2 lines. */
  const uint8_t overflow[] = {0x80 | 13 << 3, 0x04};
  assert_int_equal(linetable_locate(LINETABLE_LOCATIONS, overflow,
                                    sizeof overflow, 0x7ffffffe, 0, &got),
                   -1);
  /* Long form: every truncation of a valid entry fails, never over-reads. */
  const uint8_t longform[] = {0x80 | 14 << 3, 0x50, 0x1f, 0x02, 0x41, 0x04, 0x00};
  for (size_t n = 1; n < sizeof longform; n++)
    expect_fail(LINETABLE_LOCATIONS, longform, n, 0);
  expect_loc(LINETABLE_LOCATIONS, longform, sizeof longform, 1, 0, 1001, 1003,
             256, -1);
  /* An entry in front of a broken one is still found; the broken one not. */
  const uint8_t then_broken[] = {0x80, 0x00, 0x80 | 14 << 3, 0x41};
  expect_loc(LINETABLE_LOCATIONS, then_broken, sizeof then_broken, 3, 0, 3, 3,
             0, 0);
  expect_fail(LINETABLE_LOCATIONS, then_broken, sizeof then_broken, 2);
}

/* Deterministic pseudo-random tables: any answer is fine, a crash or an
 * over-read (under ASan/valgrind) is not. */
static void test_random_tables(void **state) {
  (void)state;
  uint64_t seed = 0x9e3779b97f4a7c15ull;
  long found = 0;
  for (int round = 0; round < 20000; round++) {
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    size_t len = (size_t)(seed % 64);
    uint8_t *table = malloc(len ? len : 1);
    assert_non_null(table);
    uint64_t s = seed;
    for (size_t i = 0; i < len; i++) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      table[i] = (uint8_t)(s >> 56);
      /* Bias towards valid-looking location entries half the time. */
      if ((round & 1) && i > 0 && (s & 3))
        table[i] &= 0x7f;
    }
    for (int format = LINETABLE_LNOTAB; format <= LINETABLE_LOCATIONS; format++) {
      for (uint64_t offset = 0; offset < 64; offset += 3) {
        struct linetable_location out;
        int rc = linetable_locate((enum linetable_format)format, table, len,
                                  (int)(seed % 5000), offset, &out);
        assert_true(rc == 0 || rc == -1);
        found += rc == 0;
      }
    }
    free(table);
  }
  assert_true(found > 0);
}

static void test_unknown_format(void **state) {
  (void)state;
  const uint8_t t[] = {0, 0};
  struct linetable_location out;
  assert_int_equal(linetable_locate((enum linetable_format)42, t, sizeof t, 1,
                                    0, &out),
                   -1);
  assert_int_equal(linetable_locate(LINETABLE_LNOTAB, t, sizeof t, 1, 0, NULL),
                   -1);
}

/* ---- interpreter list ----------------------------------------------------- */

static void test_interpreters_listed(void **state) {
  const char *problem = *state;
  if (problem != NULL)
    fail_msg("%s", problem);
}

static size_t list_interpreters(struct interpreter **list, char **problem) {
  const char *env = getenv("LIST_INTERPRETERS");
  char *script = env != NULL && *env != '\0'
                     ? xstrdup(env)
                     : path_join(top_srcdir(), "test/list-interpreters");
  char *argv[] = {script, NULL};
  struct buffer out = {0};
  int status = run_capture(argv, NULL, &out);
  static char msg[512];
  *list = NULL;
  *problem = NULL;
  if (status != 0) {
    char why[64];
    snprintf(msg, sizeof msg, "%s: %s", script,
             status_text(status, why, sizeof why));
    *problem = msg;
    free(script);
    free(out.data);
    return 0;
  }
  size_t n = 0, cap = 0;
  char *cursor = out.data, *line;
  while ((line = next_line(&cursor)) != NULL) {
    if (*line == '#' || *line == '\0')
      continue;
    char *tab1 = strchr(line, '\t');
    char *tab2 = tab1 ? strchr(tab1 + 1, '\t') : NULL;
    if (tab2 == NULL)
      continue;
    *tab1 = *tab2 = '\0';
    if (n == cap) {
      cap = cap ? cap * 2 : 16;
      *list = realloc(*list, cap * sizeof **list);
      if (*list == NULL) {
        perror("realloc");
        exit(2);
      }
    }
    (*list)[n].label = xstrdup(line);
    (*list)[n].version = xstrdup(tab1 + 1);
    (*list)[n].command = xstrdup(tab2 + 1);
    n++;
  }
  if (n == 0) {
    snprintf(msg, sizeof msg, "%s listed no interpreter", script);
    *problem = msg;
  }
  free(script);
  free(out.data);
  return n;
}

int main(void) {
  struct interpreter *interps;
  char *problem;
  size_t n = list_interpreters(&interps, &problem);

  const struct CMUnitTest fixed[] = {
      cmocka_unit_test(test_lnotab_known),
      cmocka_unit_test(test_pep626_known),
      cmocka_unit_test(test_locations_known),
      cmocka_unit_test(test_locations_malformed),
      cmocka_unit_test(test_random_tables),
      cmocka_unit_test(test_unknown_format),
      cmocka_unit_test_prestate(test_interpreters_listed, problem),
  };
  size_t nfixed = sizeof fixed / sizeof fixed[0];
  struct CMUnitTest *tests = calloc(nfixed + n, sizeof *tests);
  if (tests == NULL) {
    perror("calloc");
    return 2;
  }
  memcpy(tests, fixed, sizeof fixed);
  for (size_t i = 0; i < n; i++) {
    tests[nfixed + i].name = interps[i].label;
    tests[nfixed + i].test_func = test_interpreter;
    tests[nfixed + i].initial_state = &interps[i];
  }
  int failed = _cmocka_run_group_tests("linetable", tests, nfixed + n, NULL, NULL);
  for (size_t i = 0; i < n; i++) {
    free(interps[i].label);
    free(interps[i].version);
    free(interps[i].command);
  }
  free(interps);
  free(tests);
  return failed;
}
