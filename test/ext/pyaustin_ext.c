/* pyaustin_ext: a small CPython extension for the native tests of austinp
 * and austinp-resolve, and for the demo.
 *
 *   spin(n)             a hot loop in C; most of its time is spent in
 *                       ext_mix, which is always inlined into ext_spin_loop
 *   call_back(fn, n)    a C loop that calls fn(i) for i in range(n): the
 *                       callback's stacks read Python, C, Python
 *
 * Built at test time against each interpreter's own headers, -O2 -g:
 * ext_spin_loop and ext_call_loop are kept out of line so that they are
 * frames of their own, under the module functions that Python calls. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

/* A few rounds of a 64-bit mixer: enough work per call that most samples
 * of spin() land inside it, i.e. in an inlined frame. */
static inline __attribute__((always_inline)) uint64_t ext_mix(uint64_t x) {
  for (int r = 0; r < 8; r++) {
    x ^= x >> 31;
    x *= UINT64_C(0x7fb5d329728ea185);
    x ^= x >> 27;
    x *= UINT64_C(0x81dadef4bc2dd44d);
    x ^= x >> 33;
  }
  return x;
}

__attribute__((noinline)) static uint64_t ext_spin_loop(uint64_t n) {
  uint64_t acc = 0;
  for (uint64_t i = 0; i < n; i++) acc = ext_mix(acc + i);
  return acc;
}

static PyObject *ext_spin(PyObject *self, PyObject *arg) {
  (void)self;
  unsigned long long n = PyLong_AsUnsignedLongLong(arg);
  if (n == (unsigned long long)-1 && PyErr_Occurred()) return NULL;
  return PyLong_FromUnsignedLongLong(ext_spin_loop(n));
}

/* Calls fn(i) n times and sums the integer results. */
__attribute__((noinline)) static PyObject *ext_call_loop(PyObject *fn, long n) {
  long long total = 0;
  for (long i = 0; i < n; i++) {
    PyObject *arg = PyLong_FromLong(i);
    if (arg == NULL) return NULL;
    PyObject *r = PyObject_CallFunctionObjArgs(fn, arg, NULL);
    Py_DECREF(arg);
    if (r == NULL) return NULL;
    total += PyLong_AsLongLong(r);
    Py_DECREF(r);
    if (PyErr_Occurred()) return NULL;
  }
  return PyLong_FromLongLong(total);
}

static PyObject *ext_call_back(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *fn;
  long n;
  if (!PyArg_ParseTuple(args, "Ol:call_back", &fn, &n)) return NULL;
  return ext_call_loop(fn, n);
}

static PyMethodDef ext_methods[] = {
    {"spin", ext_spin, METH_O, "spin(n): a hot loop in C"},
    {"call_back", ext_call_back, METH_VARARGS, "call_back(fn, n): fn(i) for i in range(n)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef ext_module = {
    PyModuleDef_HEAD_INIT, "pyaustin_ext", "Native test code for austinp.", -1, ext_methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit_pyaustin_ext(void) { return PyModule_Create(&ext_module); }
