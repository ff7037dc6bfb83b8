/* A stdio stream (fopencookie) that keeps serving ptrace while it waits. */
#define _GNU_SOURCE
#include "traced_output.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include "clock.h"
#include "sampler_loop.h"

/* Pipes and terminals accept a write of up to PIPE_BUF bytes once poll
 * says there is room; larger writes could block again. */
#define CHUNK 4096
#define WAIT_MS 10
#define GIVE_UP_AFTER_STOP_US 1000000

struct traced_output {
  int fd, close_fd;
  struct ptrace_set *ps;
};

static ssize_t out_write(void *cookie, const char *buf, size_t len) {
  struct traced_output *t = cookie;
  size_t done = 0;
  uint64_t stop_seen = 0;
  while (done < len) {
    struct pollfd p = {.fd = t->fd, .events = POLLOUT};
    int r = poll(&p, 1, WAIT_MS);
    if (r < 0 && errno != EINTR) return -1;
    if (r > 0 && (p.revents & (POLLERR | POLLHUP | POLLNVAL)) && !(p.revents & POLLOUT)) {
      errno = EPIPE;
      return -1;
    }
    if (r > 0) {
      size_t n = len - done < CHUNK ? len - done : CHUNK;
      ssize_t w = write(t->fd, buf + done, n);
      if (w < 0 && errno != EINTR && errno != EAGAIN) return -1;
      if (w > 0) done += (size_t)w;
      continue;
    }
    /* No room yet: the target must not wait for our reader. */
    ptrace_set_poll(t->ps);
    if (sampler_stop_requested) {
      uint64_t now = clock_us();
      if (stop_seen == 0) stop_seen = now;
      else if (now - stop_seen > GIVE_UP_AFTER_STOP_US) {
        errno = EPIPE;
        return -1;
      }
    }
  }
  return (ssize_t)done;
}

static int out_close(void *cookie) {
  struct traced_output *t = cookie;
  int r = t->close_fd ? close(t->fd) : 0;
  free(t);
  return r;
}

FILE *traced_output_open(int fd, int close_fd, struct ptrace_set *ps) {
  struct traced_output *t = malloc(sizeof *t);
  if (t == NULL) return NULL;
  *t = (struct traced_output){fd, close_fd, ps};
  cookie_io_functions_t io = {.write = out_write, .close = out_close};
  FILE *f = fopencookie(t, "w", io);
  if (f == NULL) free(t);
  return f;
}
