/* Run a fuzz target's function on files, without libFuzzer: the regression
 * corpus of every fuzz target runs this way in `make check` (under the
 * sanitizers with --enable-sanitizers). Arguments are files or directories
 * (their regular files, not recursively). Exits 1 when an input cannot be
 * read, takes longer than HANG_SECONDS (a hang fails here as under the
 * fuzzer's -timeout, rather than hold `make check`) or ends the process
 * (as libFuzzer, which reports a target that exits); a failing input
 * aborts, as under the fuzzer. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Inputs are seeds and crashes: far below this. */
#define INPUT_MAX (64u << 20)
/* Far above any input's time, even under the sanitizers on a busy machine. */
#define HANG_SECONDS 60

static const char *current; /* the input being run (NULL between inputs) */

/* Only what is safe in a signal handler. */
static void say(const char *s) {
  if (write(2, s, strlen(s)) < 0) _exit(1);
}

/* exit() called from within the target: not the replay's own end. */
static void on_exit_inside(void) {
  if (current == NULL) return;
  say("replay: the target ended the process: ");
  say(current);
  say("\n");
  _exit(1);
}

static void on_alarm(int sig) {
  (void)sig;
  say("replay: a hang (longer than 60 s): ");
  say(current);
  say("\n");
  _exit(1);
}

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return -1;
  uint8_t *buf = malloc(INPUT_MAX);
  size_t n = buf ? fread(buf, 1, INPUT_MAX, f) : 0;
  int bad = buf == NULL || ferror(f) || !feof(f);
  fclose(f);
  if (!bad) {
    /* An exact-size copy, so that the sanitizer sees any overread. */
    uint8_t *exact = malloc(n ? n : 1);
    if (exact == NULL) bad = 1;
    else {
      memcpy(exact, buf, n);
      current = path;
      alarm(HANG_SECONDS);
      LLVMFuzzerTestOneInput(exact, n);
      alarm(0);
      current = NULL;
      free(exact);
    }
  }
  free(buf);
  return bad ? -1 : 0;
}

static int by_name(const struct dirent **a, const struct dirent **b) {
  return strcmp((*a)->d_name, (*b)->d_name);
}

static int run_path(const char *path, unsigned *count) {
  struct stat st;
  if (stat(path, &st) != 0) return -1;
  if (!S_ISDIR(st.st_mode)) {
    (*count)++;
    return run_file(path);
  }
  struct dirent **names;
  int n = scandir(path, &names, NULL, by_name);
  if (n < 0) return -1;
  int rc = 0;
  for (int i = 0; i < n; i++) {
    char child[4096];
    snprintf(child, sizeof child, "%s/%s", path, names[i]->d_name);
    if (names[i]->d_name[0] != '.' && stat(child, &st) == 0 && S_ISREG(st.st_mode)) {
      (*count)++;
      if (run_file(child) != 0) rc = -1;
    }
    free(names[i]);
  }
  free(names);
  return rc;
}

int main(int argc, char **argv) {
  signal(SIGALRM, on_alarm);
  atexit(on_exit_inside);
  unsigned count = 0;
  int rc = 0;
  for (int i = 1; i < argc; i++)
    if (run_path(argv[i], &count) != 0) {
      fprintf(stderr, "%s: cannot read %s: %s\n", argv[0], argv[i], strerror(errno));
      rc = 1;
    }
  printf("%s: %u inputs\n", argv[0], count);
  return rc;
}
