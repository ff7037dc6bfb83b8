/* Test target for the native unwinder: two threads, each parked at the end
 * of a chain of distinct non-inlined functions, until killed.
 *
 *   main thread:  main -> level_a -> level_b -> level_c -> wait_here
 *   extra thread: start_thread -> thread_x -> thread_y -> thread_z -> wait_here
 *
 * With NESTED_VIA_LIB defined the chains go through a shared library
 * (lib_hop, in nested_lib.c built at test time) between level_b/thread_y
 * and level_c/thread_z:  level_b -> lib_hop -> level_c.
 *
 * Prints "ready" once both threads are in place. With "spin" as the first
 * argument the threads spin in wait_here instead of blocking in pause(). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Distinct frames: neither inlined nor cloned (.constprop/.isra). */
#if defined(__GNUC__) && !defined(__clang__)
#define NOINLINE __attribute__((noinline, noclone))
#else
#define NOINLINE __attribute__((noinline))
#endif

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int arrived;
static int spin;
volatile unsigned long sink;

#ifdef NESTED_VIA_LIB
int lib_hop(int (*next)(int), int depth);
#endif

NOINLINE int wait_here(int depth) {
  pthread_mutex_lock(&lock);
  if (++arrived == 2) {
    /* The second thread to arrive announces both. */
    printf("ready\n");
    fflush(stdout);
  }
  pthread_mutex_unlock(&lock);
  if (spin) {
    for (;;)
      sink += (unsigned long)depth;
  }
  for (;;)
    pause();
  return depth; /* not reached */
}

/* Each level adds to its result after the call so that the call is not a
 * tail call and the frame stays on the stack. */
NOINLINE int level_c(int d) { return wait_here(d + 1) + 3; }
NOINLINE int level_b(int d) {
#ifdef NESTED_VIA_LIB
  return lib_hop(level_c, d + 1) + 2;
#else
  return level_c(d + 1) + 2;
#endif
}
NOINLINE int level_a(int d) { return level_b(d + 1) + 1; }

NOINLINE int thread_z(int d) { return wait_here(d + 1) + 6; }
NOINLINE int thread_y(int d) {
#ifdef NESTED_VIA_LIB
  return lib_hop(thread_z, d + 1) + 5;
#else
  return thread_z(d + 1) + 5;
#endif
}
NOINLINE int thread_x(int d) { return thread_y(d + 1) + 4; }

static void *thread_main(void *arg) {
  sink += (unsigned long)thread_x(arg != NULL);
  return NULL;
}

int main(int argc, char **argv) {
  spin = argc > 1 && strcmp(argv[1], "spin") == 0;
  pthread_t t;
  if (pthread_create(&t, NULL, thread_main, NULL) != 0)
    return 1;
  return level_a(argc) == 0;
}
