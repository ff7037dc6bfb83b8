#include <stdlib.h>
#include <string.h>

#include "py_code.h"
#include "py_strings.h"

void py_code_cache_init(struct py_code_cache *c) { memset(c, 0, sizeof *c); }

static void code_free(struct py_code *code) {
  if (code == NULL) return;
  free(code->filename);
  free(code->name);
  free(code->linetable);
  free(code);
}

void py_code_cache_sweep(struct py_code_cache *c) {
  for (size_t i = 0; i < c->nevicted; i++) code_free(c->evicted[i]);
  c->nevicted = 0;
}

void py_code_cache_free(struct py_code_cache *c) {
  py_code_cache_sweep(c);
  free(c->evicted);
  for (size_t i = 0; i < PY_CODE_CACHE_SLOTS; i++) code_free(c->slots[i]);
  memset(c, 0, sizeof *c);
}

static int evict(struct py_code_cache *c, struct py_code *code) {
  if (code == NULL) return 0;
  if (c->nevicted == c->evicted_cap) {
    size_t cap = c->evicted_cap ? 2 * c->evicted_cap : 64;
    struct py_code **grown = realloc(c->evicted, cap * sizeof *grown);
    if (grown == NULL) return -1;
    c->evicted = grown;
    c->evicted_cap = cap;
  }
  c->evicted[c->nevicted++] = code;
  return 0;
}

static size_t slot_of(uint64_t addr) {
  uint64_t h = addr >> 4;
  h ^= h >> 17;
  h *= 0x9e3779b97f4a7c15ull;
  return (size_t)(h >> 40) % PY_CODE_CACHE_SLOTS;
}

static uint64_t field_u64(const uint8_t *head, int32_t off) {
  uint64_t v;
  memcpy(&v, head + off, sizeof v);
  return v;
}

size_t py_code_head_length(const struct py_layout *l) {
  int32_t fields[] = {l->object_type,    l->code_filename, l->code_name,
                      l->code_qualname,  l->code_firstlineno,
                      l->code_linetable};
  int32_t max = 0;
  for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
    if (fields[i] > max) max = fields[i];
  return (size_t)max + 8;
}

struct py_code *py_code_from_head(struct py_code_cache *c, struct remote *r,
                                  const struct py_runtime *rt, uint64_t addr,
                                  const uint8_t *head) {
  const struct py_layout *l = &rt->layout;
  if (rt->code_type_addr != 0 &&
      field_u64(head, l->object_type) != rt->code_type_addr)
    return NULL;

  int32_t name_off = l->code_qualname >= 0 ? l->code_qualname : l->code_name;
  uint64_t filename_ptr = field_u64(head, l->code_filename);
  uint64_t name_ptr = field_u64(head, name_off);
  uint64_t linetable_ptr = field_u64(head, l->code_linetable);
  int32_t firstlineno;
  memcpy(&firstlineno, head + l->code_firstlineno, sizeof firstlineno);

  size_t slot = slot_of(addr);
  struct py_code *code = c->slots[slot];
  if (code != NULL && code->addr == addr && code->filename_ptr == filename_ptr &&
      code->name_ptr == name_ptr && code->linetable_ptr == linetable_ptr &&
      code->firstlineno == firstlineno) {
    c->hits++;
    return code;
  }
  c->misses++;

  struct py_code *fresh = calloc(1, sizeof *fresh);
  if (fresh == NULL) return NULL;
  fresh->addr = addr;
  fresh->filename_ptr = filename_ptr;
  fresh->name_ptr = name_ptr;
  fresh->linetable_ptr = linetable_ptr;
  fresh->firstlineno = firstlineno;
  fresh->last_offset = UINT64_MAX;
  fresh->filename = py_str_read(r, l, filename_ptr);
  fresh->name = py_str_read(r, l, name_ptr);
  fresh->linetable = py_bytes_read(r, l, linetable_ptr, &fresh->linetable_len);
  /* No compiled code object has an empty name or file name: one read as
   * empty was caught half made (seen while site imports ran) and would
   * write a frame that no reader can parse. */
  if (fresh->filename == NULL || fresh->name == NULL || fresh->filename[0] == '\0' ||
      fresh->name[0] == '\0') {
    code_free(fresh);
    return NULL;
  }
  /* 3.12+ runs some calls (__init__ cleanup) through a trampoline code
   * object of its own; tracebacks do not show it and neither do we. */
  fresh->hidden = strcmp(fresh->filename, "<shim>") == 0;
  if (evict(c, code) != 0) {
    code_free(fresh);
    return NULL;
  }
  c->slots[slot] = fresh;
  return fresh;
}

static enum linetable_format format_of(const struct py_layout *l) {
  switch (l->frames) {
  case FRAMES_OBJECT_LNOTAB: return LINETABLE_LNOTAB;
  case FRAMES_OBJECT_LINETABLE: return LINETABLE_PEP626;
  default: return LINETABLE_LOCATIONS;
  }
}

int py_code_locate(struct py_code *code, const struct py_layout *l,
                   int64_t offset, struct linetable_location *loc) {
  if (offset < 0) offset = 0; /* a frame that has not started yet */
  if ((uint64_t)offset == code->last_offset) {
    *loc = code->last_loc;
    return 0;
  }
  if (code->linetable == NULL ||
      linetable_locate(format_of(l), code->linetable, code->linetable_len,
                       code->firstlineno, (uint64_t)offset, loc) != 0)
    return -1;
  code->last_offset = (uint64_t)offset;
  code->last_loc = *loc;
  return 0;
}
