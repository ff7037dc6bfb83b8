/* Reading Python str and bytes objects from the target. */
#ifndef PY_STRINGS_H
#define PY_STRINGS_H

#include <stddef.h>
#include <stdint.h>

#include "py_layout.h"
#include "remote.h"

/* Longest string we read (in characters) and longest bytes object. */
#define PY_STR_MAX 4096
#define PY_BYTES_MAX (1u << 20)

/* Read the str object at addr as UTF-8 into a new string (malloc). NULL
 * when it cannot be read or is not a compact str of sane length. */
char *py_str_read(struct remote *r, const struct py_layout *l, uint64_t addr);

/* Read the bytes object at addr into a new buffer (malloc); *len receives
 * its size. NULL on failure. */
uint8_t *py_bytes_read(struct remote *r, const struct py_layout *l,
                       uint64_t addr, size_t *len);

#endif
