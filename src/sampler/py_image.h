/* Recorded memory images of a Python process, for the interpreter reader.
 *
 * An image holds the ranges of target memory that one walk of every
 * thread read (thread states, frames, code objects, strings, line tables,
 * _Py_DebugOffsets), with what the walker must know besides: the version,
 * the address of _PyRuntime and of PyCode_Type, and (before 3.11) where
 * glibc keeps the tid in a thread's struct pthread. The reader then runs
 * on it through remote_open_image, with no live process: this is what the
 * fuzz harness mutates.
 *
 * File format (host byte order, x86-64 little-endian):
 *     "PYAIMG01"                          magic, 8 bytes
 *     u32 major, u32 minor
 *     u64 runtime_addr, u64 code_type_addr
 *     i32 tid_offset (-1: unknown), u32 nranges
 *     nranges times: u64 addr, u32 len, len bytes
 * A hostile file is parsed without trusting any count or length. */
#ifndef PY_IMAGE_H
#define PY_IMAGE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "remote.h"

#define PY_IMAGE_MAGIC "PYAIMG01"
#define PY_IMAGE_MAX_RANGES 65536u

struct py_image {
  int major, minor;
  uint64_t runtime_addr, code_type_addr;
  int32_t tid_offset;
  size_t nranges;
  struct remote_range *ranges; /* point into the parsed buffer */
};

/* Parse an image held in buf (which must outlive the image). A range that
 * runs past the end of buf is cut there and ends the list. 0 on success,
 * -1 when buf is not an image (bad magic, short header, out of memory). */
int py_image_parse(const uint8_t *buf, size_t len, struct py_image *out);
void py_image_free(struct py_image *im);

/* A remote that reads through `inner` and keeps a copy of every range it
 * read successfully, for py_image_write. Closing it does not close inner. */
struct remote *remote_open_recorder(struct remote *inner);

/* Write what a recorder read as an image (overlapping and touching ranges
 * merged, later reads winning). 0 on success, -1 on a write error. */
int py_image_write(struct remote *recorder, FILE *out, int major, int minor,
                   uint64_t runtime_addr, uint64_t code_type_addr,
                   int32_t tid_offset);

#endif
