// pyaustin_cpp: a small C++ extension for the tests of austinp-resolve:
// its functions are members of a class template in a namespace, so that
// their symbols are mangled and their resolved names must be demangled.
//
//   spin(n)   a hot loop in Spinner<unsigned long>::spin, calling step
//
// Built by the tests with g++ -O2 -g against one interpreter's headers.
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <cstdint>

namespace pyaustin {

template <typename T> struct Spinner {
  T rounds;

  __attribute__((noinline)) static T step(T x, T rounds) {
    for (T r = 0; r < rounds; r++) {
      x ^= x >> 31;
      x *= static_cast<T>(0x7fb5d329728ea185ull);
      x ^= x >> 27;
    }
    return x;
  }

  __attribute__((noinline)) T spin(T n) const {
    T acc = 0;
    for (T i = 0; i < n; i++) acc = step(acc + i, rounds);
    return acc;
  }
};

}  // namespace pyaustin

static PyObject *cpp_spin(PyObject *, PyObject *arg) {
  unsigned long n = PyLong_AsUnsignedLong(arg);
  if (n == static_cast<unsigned long>(-1) && PyErr_Occurred()) return nullptr;
  pyaustin::Spinner<unsigned long> s{16};
  return PyLong_FromUnsignedLong(s.spin(n));
}

static PyMethodDef cpp_methods[] = {
    {"spin", cpp_spin, METH_O, "spin(n): a hot loop in C++"},
    {nullptr, nullptr, 0, nullptr},
};

static struct PyModuleDef cpp_module = {
    PyModuleDef_HEAD_INIT, "pyaustin_cpp", "C++ test code for austinp-resolve.", -1, cpp_methods,
    nullptr, nullptr, nullptr, nullptr,
};

extern "C" PyMODINIT_FUNC PyInit_pyaustin_cpp(void) { return PyModule_Create(&cpp_module); }
