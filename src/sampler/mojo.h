/* MOJO, Austin's binary format (version 3): the encoding shared by the
 * emitter (emit_mojo.c, austin -b and austinp -b) and austinp-resolve,
 * which reads one stream and writes another.
 *
 * A stream is "MOJ" and the version, then events: one byte naming the
 * event and its fields. Integers are variable-length: the first byte holds
 * six bits of the magnitude (0x3f), the sign (0x40) and a continuation
 * flag (0x80); each further byte holds seven more bits (0x7f) and the
 * continuation flag, least significant group first. Strings end with NUL.
 *
 * Strings and frames are defined once per process (STRING: key, text;
 * FRAME: key, file key, name key, line, end line, column, end column) and
 * then referred to by key; a mojo_writer hands out the keys and writes
 * each definition the first time its key is asked for. */
#ifndef MOJO_H
#define MOJO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mojo_event {
  MOJO_METADATA = 1,
  MOJO_STACK = 2,
  MOJO_FRAME = 3,
  MOJO_FRAME_INVALID = 4,
  MOJO_FRAME_REF = 5,
  MOJO_FRAME_KERNEL = 6,
  MOJO_GC = 7,
  MOJO_IDLE = 8,
  MOJO_METRIC_TIME = 9,
  MOJO_METRIC_MEMORY = 10,
  MOJO_STRING = 11,
  MOJO_STRING_REF = 12,
};

#define MOJO_VERSION 3

/* String keys 0 and 1 are taken by readers ("" and "<unknown>"). */
#define MOJO_FIRST_STRING_KEY 2
#define MOJO_FIRST_FRAME_KEY 1
/* Definitions a writer keeps before it forgets them all (and defines
 * them again when next used): keeps keys within four varint bytes.
 * Smaller in the fuzz builds (test/fuzz). */
#ifndef MOJO_INTERN_MAX
#define MOJO_INTERN_MAX (1u << 20)
#endif
/* ... and the memory they may take (copies and hash tables). The count
 * alone let a writer fed names never seen before (generated code) reach
 * 186 MiB, and strings of up to 16 KiB could take far more; 16 MiB hold
 * some 100,000 definitions, many times what a program's profile names,
 * and forgetting costs only their definitions written again. (While a
 * table doubles, its old and new slots live together for a moment.) */
#define MOJO_INTERN_MAX_BYTES (16u << 20)
/* What malloc takes beyond each copy (its header and rounding). */
#define MOJO_INTERN_ENTRY_OVERHEAD 16

/* The longest integer: 6 + 9 * 7 = 69 bits hold 64. */
#define MOJO_INT_MAX_BYTES 10

/* The bytes of an integer in buf (MOJO_INT_MAX_BYTES); their number. */
size_t mojo_encode_int(uint8_t *buf, uint64_t magnitude, bool negative);

/* An integer from the n bytes at p: the number of bytes it took, 0 when
 * the n bytes end before it does, -1 when it is longer than
 * MOJO_INT_MAX_BYTES or does not fit in 64 bits. */
int mojo_decode_int(const uint8_t *p, size_t n, uint64_t *magnitude, bool *negative);

/* An open-addressing set of byte strings, each with the key it was given. */
struct mojo_intern {
  struct mojo_intern_slot *slots;
  uint32_t cap, count;
  size_t bytes; /* copies and slots, for MOJO_INTERN_MAX_BYTES */
};

typedef void (*mojo_write_fn)(void *sink, const void *p, size_t n);

struct mojo_writer {
  mojo_write_fn write;
  void *sink;
  struct mojo_intern strings, frames;
  uint32_t next_string, next_frame;
  /* Incremented each time every definition is forgotten, so that a
   * caller may cache keys along with the generation they belong to
   * (never 0). */
  uint32_t generation;
  size_t max_bytes; /* MOJO_INTERN_MAX_BYTES unless lowered (the tests) */
};

void mojo_writer_init(struct mojo_writer *w, mojo_write_fn write, void *sink);
void mojo_writer_free(struct mojo_writer *w);
/* Forget every definition (keys start again from the first). */
void mojo_writer_forget_all(struct mojo_writer *w);
/* Definitions held now. */
static inline uint32_t mojo_writer_live(const struct mojo_writer *w) {
  return w->strings.count + w->frames.count;
}
/* Should the writer forget everything before a sample that may define up
 * to `room` more? (Keys of one sample must not be forgotten in its
 * middle, so the bounds may be passed by one sample's definitions.) */
static inline bool mojo_writer_full(const struct mojo_writer *w, uint32_t room) {
  return mojo_writer_live(w) + (uint64_t)room > MOJO_INTERN_MAX ||
         w->strings.bytes + w->frames.bytes >= w->max_bytes;
}

void mojo_put_magic(struct mojo_writer *w); /* "MOJ" and the version */
void mojo_put_event(struct mojo_writer *w, enum mojo_event ev);
void mojo_put_uint(struct mojo_writer *w, uint64_t v);
void mojo_put_sint(struct mojo_writer *w, int64_t v);
void mojo_put_str(struct mojo_writer *w, const char *s); /* with its NUL */

/* The key of string s (len bytes, no NUL in them) in process pid,
 * defined (STRING event) when new; 1 ("<unknown>") when out of memory. */
uint32_t mojo_string_key(struct mojo_writer *w, int64_t pid, const char *s, size_t len);

/* The key of a frame of process pid, defined (FRAME event) when new:
 * file and name are string keys, loc the line, end line, column and end
 * column (written 0 when not positive). 0 when out of memory. */
uint32_t mojo_frame_key(struct mojo_writer *w, int64_t pid, uint32_t file, uint32_t name,
                        const int64_t loc[4]);

#endif
