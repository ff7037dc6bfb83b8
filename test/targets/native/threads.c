/* A target for the ptrace tests: busy threads, sleeping threads, a thread
 * that creates and joins short-lived threads in a loop, and a count of the
 * SIGUSR1 it receives.
 *
 *   threads [-b N] [-s M] [-c] [-e] [-t SECONDS]
 *     -b N  N threads that spin
 *     -s M  M threads that sleep (20 ms at a time)
 *     -c    thread churn: create and join a short-lived thread, nap 1 ms, again
 *     -e    write '.' on stdout for every SIGUSR1 handled
 *     -t S  exit (status 0) after S seconds (default 10)
 *
 * Once every thread runs it writes "ready <pid>\n" on stdout. On SIGUSR2 it
 * writes "usr1 <signals> churn <threads created and joined>\n". */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile int usr1_count;
static volatile long churn_count;
static volatile int echo;
static volatile int started;

static void put(const char *s, size_t n) {
  while (n > 0) {
    ssize_t w = write(STDOUT_FILENO, s, n);
    if (w <= 0) return;
    s += w;
    n -= (size_t)w;
  }
}

static char *put_long(char *p, long v) {
  char tmp[24];
  int k = 0;
  do {
    tmp[k++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (k) *p++ = tmp[--k];
  return p;
}

static void on_usr1(int sig) {
  (void)sig;
  __atomic_add_fetch(&usr1_count, 1, __ATOMIC_SEQ_CST);
  if (echo) put(".", 1);
}

static void on_usr2(int sig) {
  (void)sig;
  char buf[96], *p = buf;
  memcpy(p, "usr1 ", 5);
  p = put_long(p + 5, __atomic_load_n(&usr1_count, __ATOMIC_SEQ_CST));
  memcpy(p, " churn ", 7);
  p = put_long(p + 7, __atomic_load_n(&churn_count, __ATOMIC_RELAXED));
  *p++ = '\n';
  put(buf, (size_t)(p - buf));
}

static void nap_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

static void *busy(void *arg) {
  (void)arg;
  __atomic_add_fetch(&started, 1, __ATOMIC_SEQ_CST);
  volatile unsigned long x = 0;
  for (;;) x++;
  return NULL;
}

static void *sleeper(void *arg) {
  (void)arg;
  __atomic_add_fetch(&started, 1, __ATOMIC_SEQ_CST);
  for (;;) nap_ms(20);
  return NULL;
}

static void *short_lived(void *arg) {
  volatile unsigned long x = 0;
  for (int i = 0; i < 20000; i++) x += (unsigned long)i;
  return arg;
}

static void *churn(void *arg) {
  (void)arg;
  __atomic_add_fetch(&started, 1, __ATOMIC_SEQ_CST);
  for (;;) {
    pthread_t t;
    if (pthread_create(&t, NULL, short_lived, NULL) == 0) {
      pthread_join(t, NULL);
      __atomic_add_fetch(&churn_count, 1, __ATOMIC_RELAXED);
    }
    nap_ms(1);
  }
  return NULL;
}

int main(int argc, char **argv) {
  int nbusy = 0, nsleep = 0, do_churn = 0, opt;
  long seconds = 10;
  while ((opt = getopt(argc, argv, "b:s:cet:")) != -1) {
    switch (opt) {
    case 'b': nbusy = atoi(optarg); break;
    case 's': nsleep = atoi(optarg); break;
    case 'c': do_churn = 1; break;
    case 'e': echo = 1; break;
    case 't': seconds = atol(optarg); break;
    default:
      fprintf(stderr, "usage: %s [-b N] [-s M] [-c] [-e] [-t SECONDS]\n", argv[0]);
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sa.sa_handler = on_usr1;
  sigaction(SIGUSR1, &sa, NULL);
  sa.sa_handler = on_usr2;
  sigaction(SIGUSR2, &sa, NULL);

  pthread_t t;
  for (int i = 0; i < nbusy; i++) pthread_create(&t, NULL, busy, NULL);
  for (int i = 0; i < nsleep; i++) pthread_create(&t, NULL, sleeper, NULL);
  if (do_churn) pthread_create(&t, NULL, churn, NULL);
  int want = nbusy + nsleep + do_churn;
  while (__atomic_load_n(&started, __ATOMIC_SEQ_CST) < want) nap_ms(1);

  char buf[48], *p = buf;
  memcpy(p, "ready ", 6);
  p = put_long(p + 6, (long)getpid());
  *p++ = '\n';
  put(buf, (size_t)(p - buf));

  struct timespec end;
  clock_gettime(CLOCK_MONOTONIC, &end);
  end.tv_sec += seconds;
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &end, NULL) != 0) {
  }
  exit(0);
}
