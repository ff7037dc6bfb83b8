/* layout-probe: print the CPython structure layout the sampler reads, for
 * the CPython version whose headers this file is compiled against.
 *
 * Built and run by tools/gen-layouts, once per minor version, with
 *   -I<include/python3.X> [-I<multiarch pyconfig dir>]
 * The output is line based, "key value":
 *   version_hex N            PY_VERSION_HEX of the headers
 *   field NAME N             a PY_LAYOUT_FIELDS entry (-1: no such field)
 *   debug_offsets_size N     sizeof(_Py_DebugOffsets) (3.13+)
 *   dbg NAME N               byte position inside _Py_DebugOffsets of the
 *                            uint64 entry carrying NAME (-1: none) (3.13+)
 *   init NAME N              value of that entry in _Py_DebugOffsets_INIT,
 *                            where the headers let us build it (3.14+), so
 *                            the generator can cross-check offsetof against
 *                            CPython's own initialiser.
 * Only offsetof/sizeof of the real structures are used: nothing here runs
 * interpreter code. */
#define Py_BUILD_CORE 1
#include <Python.h>

#include <stddef.h>
#include <stdio.h>

#if PY_VERSION_HEX < 0x03080000
#error "layout-probe: CPython 3.8 or newer needed"
#endif

#if PY_VERSION_HEX < 0x03090000
#include "internal/pycore_pystate.h" /* _PyRuntimeState, struct _is */
#else
#include "internal/pycore_interp.h"
#include "internal/pycore_runtime.h"
#endif

#if PY_VERSION_HEX >= 0x030B0000
#include "internal/pycore_frame.h" /* _PyInterpreterFrame */
#include "internal/pycore_code.h"
#else
#include "frameobject.h" /* PyFrameObject */
#endif

#if PY_VERSION_HEX >= 0x030E0000
#include "internal/pycore_debug_offsets.h"
#define HAVE_DEBUG_OFFSETS 1
#define HAVE_DEBUG_OFFSETS_INIT 1
#elif PY_VERSION_HEX >= 0x030D0000
/* 3.13: _Py_DebugOffsets lives in pycore_runtime.h, and its initialiser is
 * inlined into _PyRuntimeState_INIT, which we cannot instantiate here. */
#define HAVE_DEBUG_OFFSETS 1
#endif

#define FIELD(name, expr) printf("field %s %ld\n", #name, (long)(expr))
#define ABSENT(name) printf("field %s -1\n", #name)

#ifdef HAVE_DEBUG_OFFSETS
#define DBG(name, member)                                                   \
  printf("dbg %s %ld\n", #name, (long)offsetof(_Py_DebugOffsets, member))
#define DBG_ABSENT(name) printf("dbg %s -1\n", #name)
#endif

#ifdef HAVE_DEBUG_OFFSETS_INIT
static const _Py_DebugOffsets debug_init = _Py_DebugOffsets_INIT(_Py_Debug_Cookie);
#define INIT(name, member)                                                  \
  printf("init %s %ld\n", #name, (long)debug_init.member)
#endif

int main(void) {
  printf("version_hex %ld\n", (long)PY_VERSION_HEX);

  /* _PyRuntimeState */
  FIELD(runtime_interpreters_head, offsetof(_PyRuntimeState, interpreters.head));
#if PY_VERSION_HEX < 0x03090000
  FIELD(runtime_gc_collecting, offsetof(_PyRuntimeState, gc.collecting));
#else
  ABSENT(runtime_gc_collecting);
#endif
#if PY_VERSION_HEX < 0x030C0000
  /* One GIL for the whole runtime (3.9 and 3.10 built with
   * EXPERIMENTAL_ISOLATED_SUBINTERPRETERS, which we do not support, move it). */
  FIELD(runtime_gil_locked, offsetof(_PyRuntimeState, ceval.gil.locked));
  FIELD(runtime_gil_holder, offsetof(_PyRuntimeState, ceval.gil.last_holder));
#else
  ABSENT(runtime_gil_locked);
  ABSENT(runtime_gil_holder);
#endif

  /* PyInterpreterState */
  FIELD(interp_size, sizeof(PyInterpreterState));
  FIELD(interp_id, offsetof(PyInterpreterState, id));
  FIELD(interp_next, offsetof(PyInterpreterState, next));
#if PY_VERSION_HEX < 0x030B0000 /* threads.head from 3.11 */
  FIELD(interp_threads_head, offsetof(PyInterpreterState, tstate_head));
#else
  FIELD(interp_threads_head, offsetof(PyInterpreterState, threads.head));
#endif
#if PY_VERSION_HEX < 0x03090000
  ABSENT(interp_gc_collecting);
#else
  FIELD(interp_gc_collecting, offsetof(PyInterpreterState, gc.collecting));
#endif
#if PY_VERSION_HEX >= 0x030C0000
  /* From 3.12 each interpreter points at the GIL it uses: its own _gil, or
   * the main interpreter's when it shares it. */
  FIELD(interp_gil, offsetof(PyInterpreterState, ceval.gil));
  FIELD(interp_own_gil, offsetof(PyInterpreterState, _gil));
  FIELD(interp_gil_locked, offsetof(PyInterpreterState, _gil.locked));
  FIELD(interp_gil_holder, offsetof(PyInterpreterState, _gil.last_holder));
#else
  ABSENT(interp_gil);
  ABSENT(interp_own_gil);
  ABSENT(interp_gil_locked);
  ABSENT(interp_gil_holder);
#endif

  /* PyThreadState */
  FIELD(tstate_size, sizeof(PyThreadState));
  FIELD(tstate_next, offsetof(PyThreadState, next));
  FIELD(tstate_interp, offsetof(PyThreadState, interp));
#if PY_VERSION_HEX < 0x030B0000
  FIELD(tstate_frame, offsetof(PyThreadState, frame));
#elif PY_VERSION_HEX < 0x030D0000
  FIELD(tstate_frame, offsetof(PyThreadState, cframe));
#else
  FIELD(tstate_frame, offsetof(PyThreadState, current_frame));
#endif
  FIELD(tstate_thread_id, offsetof(PyThreadState, thread_id));
#if PY_VERSION_HEX >= 0x030B0000
  FIELD(tstate_native_thread_id, offsetof(PyThreadState, native_thread_id));
  FIELD(tstate_datastack_chunk, offsetof(PyThreadState, datastack_chunk));
  FIELD(tstate_datastack_top, offsetof(PyThreadState, datastack_top));
#else
  ABSENT(tstate_native_thread_id);
  ABSENT(tstate_datastack_chunk);
  ABSENT(tstate_datastack_top);
#endif
#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030D0000
  FIELD(cframe_current_frame, offsetof(_PyCFrame, current_frame));
#else
  ABSENT(cframe_current_frame);
#endif

  /* frames */
#if PY_VERSION_HEX < 0x030B0000
  FIELD(frame_size, sizeof(PyFrameObject));
  FIELD(frame_previous, offsetof(PyFrameObject, f_back));
  FIELD(frame_code, offsetof(PyFrameObject, f_code));
  FIELD(frame_instr, offsetof(PyFrameObject, f_lasti));
  ABSENT(frame_owner);
  ABSENT(frame_is_entry);
#if PY_VERSION_HEX < 0x030A0000
  FIELD(frame_state, offsetof(PyFrameObject, f_executing));
#else
  FIELD(frame_state, offsetof(PyFrameObject, f_state));
#endif
#else
  FIELD(frame_size, sizeof(_PyInterpreterFrame));
  FIELD(frame_previous, offsetof(_PyInterpreterFrame, previous));
#if PY_VERSION_HEX < 0x030D0000
  FIELD(frame_code, offsetof(_PyInterpreterFrame, f_code));
  FIELD(frame_instr, offsetof(_PyInterpreterFrame, prev_instr));
#else
  FIELD(frame_code, offsetof(_PyInterpreterFrame, f_executable));
  FIELD(frame_instr, offsetof(_PyInterpreterFrame, instr_ptr));
#endif
  FIELD(frame_owner, offsetof(_PyInterpreterFrame, owner));
#if PY_VERSION_HEX < 0x030C0000
  FIELD(frame_is_entry, offsetof(_PyInterpreterFrame, is_entry));
#else
  ABSENT(frame_is_entry);
#endif
  ABSENT(frame_state);
#endif

  /* PyCodeObject */
  FIELD(code_size, sizeof(PyCodeObject));
  FIELD(code_filename, offsetof(PyCodeObject, co_filename));
  FIELD(code_name, offsetof(PyCodeObject, co_name));
#if PY_VERSION_HEX >= 0x030B0000
  FIELD(code_qualname, offsetof(PyCodeObject, co_qualname));
#else
  ABSENT(code_qualname);
#endif
  FIELD(code_firstlineno, offsetof(PyCodeObject, co_firstlineno));
#if PY_VERSION_HEX < 0x030A0000
  FIELD(code_linetable, offsetof(PyCodeObject, co_lnotab));
#else
  FIELD(code_linetable, offsetof(PyCodeObject, co_linetable));
#endif
#if PY_VERSION_HEX >= 0x030B0000
  FIELD(code_adaptive, offsetof(PyCodeObject, co_code_adaptive));
#else
  ABSENT(code_adaptive);
#endif

  /* objects */
  FIELD(object_type, offsetof(PyObject, ob_type));
  FIELD(unicode_state, offsetof(PyASCIIObject, state));
  FIELD(unicode_length, offsetof(PyASCIIObject, length));
  FIELD(unicode_ascii_size, sizeof(PyASCIIObject));
  FIELD(unicode_compact_size, sizeof(PyCompactUnicodeObject));
  FIELD(bytes_size, offsetof(PyBytesObject, ob_base.ob_size));
  FIELD(bytes_data, offsetof(PyBytesObject, ob_sval));

#ifdef HAVE_DEBUG_OFFSETS
  printf("debug_offsets_size %ld\n", (long)sizeof(_Py_DebugOffsets));
  DBG(runtime_interpreters_head, runtime_state.interpreters_head);
  DBG_ABSENT(runtime_gc_collecting);
  DBG_ABSENT(runtime_gil_locked);
  DBG_ABSENT(runtime_gil_holder);
  DBG(interp_size, interpreter_state.size);
  DBG(interp_id, interpreter_state.id);
  DBG(interp_next, interpreter_state.next);
  DBG(interp_threads_head, interpreter_state.threads_head);
  /* interpreter_state.gc + gc.collecting: no single entry */
  DBG_ABSENT(interp_gc_collecting);
  DBG(interp_gil, interpreter_state.ceval_gil);
  DBG(interp_own_gil, interpreter_state.gil_runtime_state);
  DBG(interp_gil_locked, interpreter_state.gil_runtime_state_locked);
  DBG(interp_gil_holder, interpreter_state.gil_runtime_state_holder);
  DBG(tstate_size, thread_state.size);
  DBG(tstate_next, thread_state.next);
  DBG(tstate_interp, thread_state.interp);
  DBG(tstate_frame, thread_state.current_frame);
  DBG(tstate_thread_id, thread_state.thread_id);
  DBG(tstate_native_thread_id, thread_state.native_thread_id);
  DBG(tstate_datastack_chunk, thread_state.datastack_chunk);
  DBG_ABSENT(tstate_datastack_top);
  DBG_ABSENT(cframe_current_frame);
  DBG(frame_size, interpreter_frame.size);
  DBG(frame_previous, interpreter_frame.previous);
  DBG(frame_code, interpreter_frame.executable);
  DBG(frame_instr, interpreter_frame.instr_ptr);
  DBG(frame_owner, interpreter_frame.owner);
  DBG_ABSENT(frame_is_entry);
  DBG_ABSENT(frame_state);
  DBG(code_size, code_object.size);
  DBG(code_filename, code_object.filename);
  DBG(code_name, code_object.name);
  DBG(code_qualname, code_object.qualname);
  DBG(code_firstlineno, code_object.firstlineno);
  DBG(code_linetable, code_object.linetable);
  DBG(code_adaptive, code_object.co_code_adaptive);
  DBG(object_type, pyobject.ob_type);
  DBG(unicode_state, unicode_object.state);
  DBG(unicode_length, unicode_object.length);
  DBG(unicode_ascii_size, unicode_object.asciiobject_size);
#if PY_VERSION_HEX >= 0x030F0000
  DBG(unicode_compact_size, unicode_object.compactunicodeobject_size);
#else
  DBG_ABSENT(unicode_compact_size);
#endif
  DBG(bytes_size, bytes_object.ob_size);
  DBG(bytes_data, bytes_object.ob_sval);
#endif

#ifdef HAVE_DEBUG_OFFSETS_INIT
  INIT(runtime_interpreters_head, runtime_state.interpreters_head);
  INIT(interp_size, interpreter_state.size);
  INIT(interp_id, interpreter_state.id);
  INIT(interp_next, interpreter_state.next);
  INIT(interp_threads_head, interpreter_state.threads_head);
  INIT(interp_gil, interpreter_state.ceval_gil);
  INIT(interp_own_gil, interpreter_state.gil_runtime_state);
  INIT(interp_gil_locked, interpreter_state.gil_runtime_state_locked);
  INIT(interp_gil_holder, interpreter_state.gil_runtime_state_holder);
  INIT(tstate_size, thread_state.size);
  INIT(tstate_next, thread_state.next);
  INIT(tstate_interp, thread_state.interp);
  INIT(tstate_frame, thread_state.current_frame);
  INIT(tstate_thread_id, thread_state.thread_id);
  INIT(tstate_native_thread_id, thread_state.native_thread_id);
  INIT(tstate_datastack_chunk, thread_state.datastack_chunk);
  INIT(frame_size, interpreter_frame.size);
  INIT(frame_previous, interpreter_frame.previous);
  INIT(frame_code, interpreter_frame.executable);
  INIT(frame_instr, interpreter_frame.instr_ptr);
  INIT(frame_owner, interpreter_frame.owner);
  INIT(code_size, code_object.size);
  INIT(code_filename, code_object.filename);
  INIT(code_name, code_object.name);
  INIT(code_qualname, code_object.qualname);
  INIT(code_firstlineno, code_object.firstlineno);
  INIT(code_linetable, code_object.linetable);
  INIT(code_adaptive, code_object.co_code_adaptive);
  INIT(object_type, pyobject.ob_type);
  INIT(unicode_state, unicode_object.state);
  INIT(unicode_length, unicode_object.length);
  INIT(unicode_ascii_size, unicode_object.asciiobject_size);
#if PY_VERSION_HEX >= 0x030F0000
  INIT(unicode_compact_size, unicode_object.compactunicodeobject_size);
#endif
  INIT(bytes_size, bytes_object.ob_size);
  INIT(bytes_data, bytes_object.ob_sval);
#endif
  return 0;
}
