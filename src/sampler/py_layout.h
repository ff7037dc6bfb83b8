/* The layout of the CPython structures we read, as data.
 *
 * One struct py_layout describes one minor version: byte offsets of the
 * fields the walker needs, read by name. For 3.8 to 3.12 the values come
 * from tables generated from the real CPython headers (py_layout_data.c,
 * written by tools/gen-layouts). From 3.13 on they are read at run time
 * from the target's own _Py_DebugOffsets; the generated data then only
 * says where each value sits inside that structure for the minor version.
 * A field that a version does not have is -1. */
#ifndef PY_LAYOUT_H
#define PY_LAYOUT_H

#include <stdint.h>

#include "remote.h"

/* How frames are represented, which decides how to walk and how to turn
 * the instruction pointer into a line. */
enum frame_model {
  FRAMES_OBJECT_LNOTAB,    /* 3.8, 3.9: PyFrameObject, f_lasti in bytes, co_lnotab */
  FRAMES_OBJECT_LINETABLE, /* 3.10: PyFrameObject, f_lasti in code units, PEP 626 table */
  FRAMES_INTERP_311,       /* 3.11: _PyInterpreterFrame via cframe, prev_instr, is_entry */
  FRAMES_INTERP_312,       /* 3.12: via cframe, prev_instr, owner 3 = C stack shim */
  FRAMES_INTERP_313,       /* 3.13+: current_frame, instr_ptr, owner >= 3 not Python */
};

/* Every offset the walker reads, by name. Keep in sync with
 * PY_LAYOUT_FIELDS below (used to generate and to print the tables). */
#define PY_LAYOUT_FIELDS(X)                                                 \
  /* _PyRuntimeState */                                                     \
  X(runtime_interpreters_head)                                              \
  X(runtime_gc_collecting) /* 3.8 only: gc state lives in the runtime */    \
  X(runtime_gil_locked)   /* 3.8-3.11: the one GIL, _PyRuntime.ceval.gil */ \
  X(runtime_gil_holder)   /* its last_holder: a PyThreadState address */    \
  /* PyInterpreterState */                                                  \
  X(interp_size)                                                            \
  X(interp_id)                                                              \
  X(interp_next)                                                            \
  X(interp_threads_head)                                                    \
  X(interp_gc_collecting) /* from interp (3.9+) or the runtime (3.8) */     \
  X(interp_gil)           /* 3.12+: ceval.gil, the GIL it runs under */     \
  X(interp_own_gil)       /* 3.12+: _gil, its own (used unless shared) */   \
  X(interp_gil_locked)    /* 3.12+: _gil.locked */                          \
  X(interp_gil_holder)    /* 3.12+: _gil.last_holder */                     \
  /* PyThreadState */                                                       \
  X(tstate_size)                                                            \
  X(tstate_next)                                                            \
  X(tstate_interp)                                                          \
  X(tstate_frame)   /* frame (3.8-3.10), cframe (3.11-3.12), current_frame */\
  X(tstate_thread_id)                                                       \
  X(tstate_native_thread_id)                                                \
  X(tstate_datastack_chunk)                                                 \
  X(tstate_datastack_top) /* 3.11+: first free word of the current chunk */ \
  X(cframe_current_frame) /* 3.11, 3.12 */                                  \
  /* frames: PyFrameObject (3.8-3.10) or _PyInterpreterFrame */             \
  X(frame_size)                                                             \
  X(frame_previous)                                                         \
  X(frame_code)                                                             \
  X(frame_instr)    /* f_lasti, prev_instr or instr_ptr */                  \
  X(frame_owner)                                                            \
  X(frame_is_entry) /* 3.11 */                                              \
  X(frame_state)    /* before 3.11: f_executing (3.8, 3.9), f_state (3.10) */ \
  /* PyCodeObject */                                                        \
  X(code_size)                                                              \
  X(code_filename)                                                          \
  X(code_name)                                                              \
  X(code_qualname)                                                          \
  X(code_firstlineno)                                                       \
  X(code_linetable) /* co_lnotab before 3.10 */                             \
  X(code_adaptive)  /* co_code_adaptive, 3.11+ */                           \
  /* objects */                                                             \
  X(object_type)                                                            \
  X(unicode_state)                                                          \
  X(unicode_length)                                                         \
  X(unicode_ascii_size)   /* sizeof(PyASCIIObject) */                       \
  X(unicode_compact_size) /* sizeof(PyCompactUnicodeObject) */              \
  X(bytes_size)                                                             \
  X(bytes_data)

struct py_layout {
  int major, minor;
  enum frame_model frames;
#define PY_LAYOUT_DECLARE(name) int32_t name;
  PY_LAYOUT_FIELDS(PY_LAYOUT_DECLARE)
#undef PY_LAYOUT_DECLARE
};

/* Where each layout value sits inside _Py_DebugOffsets (3.13+): byte
 * positions of the uint64 entries, -1 where the structure has none. The
 * fields it lacks keep the value of the header-derived py_layouts entry of
 * the same minor version; those it has are always taken from the target. */
struct py_debug_offsets_map {
  int major, minor;
  uint32_t size; /* sizeof(_Py_DebugOffsets) for this minor version */
  enum frame_model frames;
#define PY_LAYOUT_DECLARE(name) int32_t name;
  PY_LAYOUT_FIELDS(PY_LAYOUT_DECLARE)
#undef PY_LAYOUT_DECLARE
};

/* Generated tables (py_layout_data.c): py_layouts has one entry per minor
 * version 3.8 to 3.15, derived from that version's headers. */
extern const struct py_layout py_layouts[];
extern const unsigned py_layouts_count;
extern const struct py_debug_offsets_map py_debug_offsets_maps[];
extern const unsigned py_debug_offsets_maps_count;

/* The header-derived layout for a minor version, or NULL. */
const struct py_layout *py_layout_for(int major, int minor);

/* The debug-offsets map for a minor version (3.13+), or NULL. */
const struct py_debug_offsets_map *py_debug_offsets_map_for(int major, int minor);

/* Fill a layout from the target's _Py_DebugOffsets at addr (the start of
 * _PyRuntime). Checks the cookie and that the version matches major.minor;
 * hexversion receives the target's PY_VERSION_HEX. 0 on success, -1 when
 * the cookie is wrong or the structure cannot be read, -2 when the minor
 * version has no known map. */
int py_layout_from_debug_offsets(struct remote *r, uint64_t addr, int major,
                                 int minor, struct py_layout *out,
                                 uint64_t *hexversion);

#endif
