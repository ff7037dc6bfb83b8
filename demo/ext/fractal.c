/* _fractal: the C half of the native demo (demo/fractal.py).
 *
 *   escape_rows(y0, y1, width, height, maxiter) -> list of escape counts
 *       the Mandelbrot iteration over rows y0..y1-1: a hot loop in C
 *   shade(fn, counts) -> list
 *       calls the Python function fn on every count: C calling Python
 *
 * scripts/demo builds it with -O2 -g against the system python3. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* Iterations before z = z^2 + c leaves the disc of radius 2. Kept out of
 * line so that it is a frame of its own in the demo's stacks. */
__attribute__((noinline)) static int escape_time(double cr, double ci, int maxiter) {
  double zr = 0.0, zi = 0.0;
  int n = 0;
  while (n < maxiter && zr * zr + zi * zi <= 4.0) {
    double t = zr * zr - zi * zi + cr;
    zi = 2.0 * zr * zi + ci;
    zr = t;
    n++;
  }
  return n;
}

static PyObject *escape_rows(PyObject *self, PyObject *args) {
  (void)self;
  int y0, y1, width, height, maxiter;
  if (!PyArg_ParseTuple(args, "iiiii:escape_rows", &y0, &y1, &width, &height, &maxiter))
    return NULL;
  if (width <= 0 || height <= 0 || y0 < 0 || y1 > height || y0 > y1) {
    PyErr_SetString(PyExc_ValueError, "bad geometry");
    return NULL;
  }
  size_t n = (size_t)(y1 - y0) * (size_t)width;
  int *counts = PyMem_RawMalloc(n * sizeof *counts + 1);
  if (counts == NULL) return PyErr_NoMemory();
  /* The computation needs no Python object: other threads run meanwhile. */
  Py_BEGIN_ALLOW_THREADS
  size_t k = 0;
  for (int y = y0; y < y1; y++) {
    double ci = -1.2 + 2.4 * y / height;
    for (int x = 0; x < width; x++) counts[k++] = escape_time(-2.1 + 3.0 * x / width, ci, maxiter);
  }
  Py_END_ALLOW_THREADS
  PyObject *out = PyList_New((Py_ssize_t)n);
  for (size_t i = 0; out != NULL && i < n; i++) {
    PyObject *v = PyLong_FromLong(counts[i]);
    if (v == NULL) Py_CLEAR(out);
    else PyList_SET_ITEM(out, (Py_ssize_t)i, v);
  }
  PyMem_RawFree(counts);
  return out;
}

static PyObject *shade(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *fn, *counts;
  if (!PyArg_ParseTuple(args, "OO!:shade", &fn, &PyList_Type, &counts)) return NULL;
  Py_ssize_t n = PyList_GET_SIZE(counts);
  PyObject *out = PyList_New(n);
  if (out == NULL) return NULL;
  for (Py_ssize_t i = 0; i < n; i++) {
    PyObject *r = PyObject_CallFunctionObjArgs(fn, PyList_GET_ITEM(counts, i), NULL);
    if (r == NULL) {
      Py_DECREF(out);
      return NULL;
    }
    PyList_SET_ITEM(out, i, r);
  }
  return out;
}

static PyMethodDef methods[] = {
    {"escape_rows", escape_rows, METH_VARARGS, "Mandelbrot escape counts of some rows."},
    {"shade", shade, METH_VARARGS, "fn(count) for every count."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_fractal", "The C half of the native demo.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__fractal(void) { return PyModule_Create(&module); }
