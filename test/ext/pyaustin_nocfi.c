/* pyaustin_nocfi: a CPython extension whose hot loop no unwinder can leave,
 * for the tests of austinp's samples whose native unwind stops short.
 *
 *   spin(n)   runs nocfi_spin(n), a loop written in assembly without CFI
 *             directives (no .eh_frame entry describes it) that, while it
 *             runs, keeps 0 in rbp and on the top of its stack: neither a
 *             frame-pointer chain nor a return address on top of the stack
 *             leads to its caller. Samples caught in it must still carry
 *             the Python frames that called spin, with the marker where
 *             native unwinding stopped.
 *
 * x86_64 only (the loop is assembly): elsewhere the module has no spin and
 * the tests skip. Built at test time like pyaustin_ext (test/ext/build-ext,
 * EXT_NAME=pyaustin_nocfi). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#if defined(__x86_64__)
uint64_t nocfi_spin(uint64_t n);
__asm__(".text\n"
        ".p2align 4\n"
        ".globl nocfi_spin\n"
        ".hidden nocfi_spin\n"
        ".type nocfi_spin, @function\n"
        "nocfi_spin:\n"
        "  push %rbp\n"
        "  sub $32, %rsp\n"
        "  movq $0, (%rsp)\n"
        "  movq $0, 8(%rsp)\n"
        "  xor %ebp, %ebp\n"
        "  mov %rdi, %rcx\n"
        "  xor %eax, %eax\n"
        "  test %rcx, %rcx\n"
        "  jz 2f\n"
        "1:\n"
        "  add %rcx, %rax\n"
        "  imul $0x2545f491, %rax, %rax\n"
        "  ror $7, %rax\n"
        "  dec %rcx\n"
        "  jnz 1b\n"
        "2:\n"
        "  add $32, %rsp\n"
        "  pop %rbp\n"
        "  ret\n"
        ".size nocfi_spin, .-nocfi_spin\n");

static PyObject *nocfi_spin_py(PyObject *self, PyObject *arg) {
  (void)self;
  unsigned long long n = PyLong_AsUnsignedLongLong(arg);
  if (n == (unsigned long long)-1 && PyErr_Occurred()) return NULL;
  return PyLong_FromUnsignedLongLong(nocfi_spin(n));
}
#endif

static PyMethodDef methods[] = {
#if defined(__x86_64__)
    {"spin", nocfi_spin_py, METH_O, "A loop without unwind information."},
#endif
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "pyaustin_nocfi", NULL, -1, methods,
                                    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit_pyaustin_nocfi(void) { return PyModule_Create(&module); }
