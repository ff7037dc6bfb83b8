/* Layout lookup, and layouts read from the target's _Py_DebugOffsets.
 *
 * The tables themselves are generated (py_layout_data.c). Everything read
 * from the target is hostile: a value is accepted only if it is a plausible
 * offset or size, and the resulting layout must be self-consistent (every
 * member offset inside its structure) before it is returned. */
#include "py_layout.h"

#include <stddef.h>
#include <string.h>

/* Offsets inside any structure we read are below this; so are the sizes of
 * every structure but the interpreter state (which exceeds 200 KiB from
 * 3.12 on and is never read whole). */
#define LAYOUT_OFFSET_MAX (64u * 1024u)
#define LAYOUT_INTERP_SIZE_MAX REMOTE_READ_MAX

/* Our own copy of the largest _Py_DebugOffsets we know, with room to grow. */
#define DEBUG_OFFSETS_MAX 4096u

#define DEBUG_COOKIE "xdebugpy"
#define DEBUG_COOKIE_LEN 8
#define DEBUG_VERSION_POS 8
#define DEBUG_FREE_THREADED_POS 16

const struct py_layout *py_layout_for(int major, int minor) {
  for (unsigned i = 0; i < py_layouts_count; i++)
    if (py_layouts[i].major == major && py_layouts[i].minor == minor)
      return &py_layouts[i];
  return NULL;
}

const struct py_debug_offsets_map *py_debug_offsets_map_for(int major,
                                                            int minor) {
  for (unsigned i = 0; i < py_debug_offsets_maps_count; i++)
    if (py_debug_offsets_maps[i].major == major &&
        py_debug_offsets_maps[i].minor == minor)
      return &py_debug_offsets_maps[i];
  return NULL;
}

static uint64_t load_u64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

/* A member at offset off (-1: absent) of a structure of size size must lie
 * inside it. */
static int inside(int32_t off, int32_t size) {
  return off < 0 || (size > 0 && off < size);
}

/* Structural checks on a complete layout: every value in range, and every
 * member inside the structure it belongs to. */
static int layout_plausible(const struct py_layout *l) {
#define PY_LAYOUT_RANGE(name)                                                \
  if (l->name < -1 || (l->name >= 0 && (uint32_t)l->name >= LAYOUT_OFFSET_MAX \
                       && &l->name != &l->interp_size))                      \
    return 0;
  PY_LAYOUT_FIELDS(PY_LAYOUT_RANGE)
#undef PY_LAYOUT_RANGE
  if (l->interp_size <= 0 || (uint32_t)l->interp_size > LAYOUT_INTERP_SIZE_MAX)
    return 0;
  if (l->tstate_size <= 0 || l->frame_size <= 0 || l->code_size <= 0)
    return 0;

  if (!inside(l->interp_id, l->interp_size) ||
      !inside(l->interp_next, l->interp_size) ||
      !inside(l->interp_threads_head, l->interp_size) ||
      !inside(l->interp_gc_collecting, l->interp_size))
    return 0;
  if (!inside(l->tstate_next, l->tstate_size) ||
      !inside(l->tstate_interp, l->tstate_size) ||
      !inside(l->tstate_frame, l->tstate_size) ||
      !inside(l->tstate_thread_id, l->tstate_size) ||
      !inside(l->tstate_native_thread_id, l->tstate_size) ||
      !inside(l->tstate_datastack_chunk, l->tstate_size))
    return 0;
  if (!inside(l->frame_previous, l->frame_size) ||
      !inside(l->frame_code, l->frame_size) ||
      !inside(l->frame_instr, l->frame_size) ||
      !inside(l->frame_owner, l->frame_size) ||
      !inside(l->frame_is_entry, l->frame_size))
    return 0;
  /* co_code_adaptive is a trailing array: it may start at sizeof. */
  if (!inside(l->code_filename, l->code_size) ||
      !inside(l->code_name, l->code_size) ||
      !inside(l->code_qualname, l->code_size) ||
      !inside(l->code_firstlineno, l->code_size) ||
      !inside(l->code_linetable, l->code_size) ||
      !inside(l->code_adaptive, l->code_size + 1))
    return 0;
  /* Strings: the header fields come before the character data. */
  if (l->unicode_ascii_size <= 0 ||
      l->unicode_compact_size < l->unicode_ascii_size ||
      !inside(l->unicode_state, l->unicode_ascii_size) ||
      !inside(l->unicode_length, l->unicode_ascii_size))
    return 0;
  if (l->object_type < 0 || l->bytes_size < 0 || l->bytes_data < 0 ||
      l->bytes_size >= l->bytes_data)
    return 0;
  return 1;
}

/* The locked flag (an int) and the last holder (a pointer) of a GIL lie in
 * its first bytes, apart. */
#define GIL_FIELDS_SPAN 256

static int disjoint(int32_t a, int32_t alen, int32_t b, int32_t blen) {
  return a + alen <= b || b + blen <= a;
}

/* The GIL fields taken from the target: all or none, inside the
 * interpreter state, the flag and the holder inside the GIL's first bytes
 * and apart. */
static int gil_plausible(const struct py_layout *l) {
  const int32_t f[] = {l->interp_gil, l->interp_own_gil, l->interp_gil_locked,
                       l->interp_gil_holder};
  int present = 0;
  for (size_t i = 0; i < sizeof f / sizeof *f; i++) {
    if (f[i] >= 0 && !inside(f[i], l->interp_size)) return 0;
    present += f[i] >= 0;
  }
  if (present == 0) return 1;
  if (present != 4) return 0;
  int32_t locked = l->interp_gil_locked - l->interp_own_gil;
  int32_t holder = l->interp_gil_holder - l->interp_own_gil;
  return locked >= 0 && locked <= GIL_FIELDS_SPAN - 4 && holder >= 0 &&
         holder <= GIL_FIELDS_SPAN - 8 && disjoint(locked, 4, holder, 8) &&
         disjoint(l->interp_gil, 8, l->interp_own_gil, GIL_FIELDS_SPAN);
}

int py_layout_from_debug_offsets(struct remote *r, uint64_t addr, int major,
                                 int minor, struct py_layout *out,
                                 uint64_t *hexversion) {
  const struct py_debug_offsets_map *map = py_debug_offsets_map_for(major, minor);
  const struct py_layout *base = py_layout_for(major, minor);
  if (map == NULL || base == NULL) return -2;
  if (map->size < DEBUG_FREE_THREADED_POS + 8 || map->size > DEBUG_OFFSETS_MAX)
    return -1;

  uint8_t buf[DEBUG_OFFSETS_MAX];
  if (remote_read(r, addr, buf, map->size) != 0) return -1;
  if (memcmp(buf, DEBUG_COOKIE, DEBUG_COOKIE_LEN) != 0) return -1;

  uint64_t version = load_u64(buf + DEBUG_VERSION_POS);
  if (hexversion != NULL) *hexversion = version;
  if ((int)(version >> 24) != major || (int)((version >> 16) & 0xff) != minor)
    return -1;

  struct py_layout l = *base;
  l.frames = map->frames;

  /* Every field with an entry in _Py_DebugOffsets comes from the target.
   * The position is trusted (generated data) but still bounds-checked. */
#define PY_LAYOUT_TAKE(name)                                                  \
  if (map->name >= 0) {                                                       \
    if ((uint32_t)map->name > map->size - 8) return -1;                       \
    uint64_t v = load_u64(buf + map->name);                                   \
    if (v >= (&l.name == &l.interp_size ? LAYOUT_INTERP_SIZE_MAX + 1ull        \
                                        : (uint64_t)LAYOUT_OFFSET_MAX))       \
      return -1;                                                              \
    l.name = (int32_t)v;                                                      \
  }
  PY_LAYOUT_FIELDS(PY_LAYOUT_TAKE)
#undef PY_LAYOUT_TAKE

  /* When the target has no compact-object size (3.13, 3.14), derive it
   * from its own ASCII size: PyCompactUnicodeObject adds the same fields to
   * PyASCIIObject in every build, free-threaded or not. */
  if (map->unicode_compact_size < 0 && map->unicode_ascii_size >= 0)
    l.unicode_compact_size = l.unicode_ascii_size +
                             (base->unicode_compact_size - base->unicode_ascii_size);

  /* A free-threaded build lays out the GC state differently from the
   * headers the table was made from, and _Py_DebugOffsets has no single
   * entry for it: say we do not know rather than read the wrong word. */
  if (load_u64(buf + DEBUG_FREE_THREADED_POS) != 0 && map->interp_gc_collecting < 0)
    l.interp_gc_collecting = -1;

  /* Without the GIL the sampler still works (the memory delta falls back to
   * a running thread): implausible GIL entries are dropped, not fatal. */
  if (!gil_plausible(&l))
    l.interp_gil = l.interp_own_gil = l.interp_gil_locked = l.interp_gil_holder = -1;
  if (!layout_plausible(&l)) return -1;
  *out = l;
  return 0;
}
