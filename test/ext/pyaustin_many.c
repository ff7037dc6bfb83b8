/* A C extension of many static functions, for naming tests against truth
 * (test_native_names.py): built -O2 -g, then stripped (`strip --strip-all`
 * keeps only .dynsym, where none of these functions is) for the target
 * to load, its unstripped twin kept as the truth of every address.
 *
 * Besides 48 plain static functions (called through a table, so that the
 * compiler neither inlines nor clones them), a few that GCC cuts into
 * pieces: a cold part (split_me.cold, reached through a call of a cold
 * function that the caller makes often at run time), a constant-propagated
 * clone (scaled.constprop.N), a scalar-replaced one (field_sum.isra.N) and
 * a partially inlined one (maybe_heavy.part.N). Which pieces a compiler
 * makes is its choice: the test reports what it found, never assumes it.
 *
 * many.spin(seconds): runs them all, round after round, for that long. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <time.h>

/* One static function: a loop the sampler catches it in, with its own
 * constants so that no two are merged (identical code folding). */
#define F(n)                                                                   \
  static __attribute__((noinline)) uint64_t f##n(uint64_t x) {                \
    for (int i = 0; i < 3000 + 37 * (n); i++) {                                \
      x = x * 6364136223846793005ull + (2 * (n) + 1);                          \
      x ^= x >> ((n) % 13 + 3);                                                \
      __asm__ volatile("" : "+r"(x));                                          \
    }                                                                          \
    return x;                                                                  \
  }

F(0) F(1) F(2) F(3) F(4) F(5) F(6) F(7) F(8) F(9) F(10) F(11)
F(12) F(13) F(14) F(15) F(16) F(17) F(18) F(19) F(20) F(21) F(22) F(23)
F(24) F(25) F(26) F(27) F(28) F(29) F(30) F(31) F(32) F(33) F(34) F(35)
F(36) F(37) F(38) F(39) F(40) F(41) F(42) F(43) F(44) F(45) F(46) F(47)

static uint64_t (*const table[])(uint64_t) = {
    f0,  f1,  f2,  f3,  f4,  f5,  f6,  f7,  f8,  f9,  f10, f11, f12, f13, f14, f15,
    f16, f17, f18, f19, f20, f21, f22, f23, f24, f25, f26, f27, f28, f29, f30, f31,
    f32, f33, f34, f35, f36, f37, f38, f39, f40, f41, f42, f43, f44, f45, f46, f47};
#define NFUNCS (sizeof table / sizeof table[0])

/* A chain of direct calls: return addresses inside static functions. */
static __attribute__((noinline)) uint64_t chain_c(uint64_t x, unsigned k) {
  x = table[k % NFUNCS](x);
  __asm__ volatile("" : "+r"(x));
  return x + 1;
}

static __attribute__((noinline)) uint64_t chain_b(uint64_t x, unsigned k) {
  x = chain_c(x ^ 0x5555, k + 7);
  __asm__ volatile("" : "+r"(x));
  return x + 3;
}

static __attribute__((noinline)) uint64_t chain_a(uint64_t x, unsigned k) {
  x = chain_b(x * 3, k + 11);
  __asm__ volatile("" : "+r"(x));
  return x + 5;
}

/* The cold part: the call of rare_work is on a path GCC deems never taken
 * (it calls a cold function), so it goes to split_me.cold; at run time it
 * is taken every other round, and samples in rare_work return into it. */
static __attribute__((cold, noinline)) uint64_t rare_work(uint64_t x) {
  for (int i = 0; i < 20000; i++) {
    x = x * 2862933555777941757ull + 3037000493ull;
    __asm__ volatile("" : "+r"(x));
  }
  return x;
}

static __attribute__((noinline)) uint64_t split_me(uint64_t x, int rare) {
  for (int i = 0; i < 2000; i++) {
    x = (x << 7) ^ (x >> 3) ^ (uint64_t)i;
    __asm__ volatile("" : "+r"(x));
  }
  if (__builtin_expect(rare, 0)) {
    x = rare_work(x) ^ (x >> 11);
    x = rare_work(x + 17) * 5;
  }
  return x;
}

/* A constant argument at every call: scaled.constprop.N. */
static __attribute__((noinline)) uint64_t scaled(uint64_t x, int k) {
  for (int i = 0; i < 4000; i++) {
    x = x * (uint64_t)k + (x >> k);
    __asm__ volatile("" : "+r"(x));
  }
  return x;
}

/* Only one field of a large structure used: field_sum.isra.N. */
struct blob {
  uint64_t a, pad[32];
};

static __attribute__((noinline)) uint64_t field_sum(struct blob b, uint64_t x) {
  for (int i = 0; i < 4000; i++) {
    x = x * 31 + b.a;
    __asm__ volatile("" : "+r"(x));
  }
  return x;
}

/* A cheap early exit and a long body: partial inlining makes
 * maybe_heavy.part.N of the body. */
static uint64_t maybe_heavy(uint64_t x, int heavy) {
  if (!heavy) return x + 1;
  for (int i = 0; i < 5000; i++) {
    x = x * 0x9E3779B97F4A7C15ull + (uint64_t)i;
    x ^= x >> 29;
    x = x * 0xBF58476D1CE4E5B9ull;
    x ^= x >> 32;
    __asm__ volatile("" : "+r"(x));
  }
  for (int i = 0; i < 64; i++) x += (x >> (i % 31)) * (uint64_t)i;
  return x;
}

static uint64_t round_of(uint64_t x, unsigned round) {
  for (unsigned k = 0; k < NFUNCS; k++) x = chain_a(x, k + round);
  x = split_me(x, (int)(round & 1));
  x = scaled(x, 7) + scaled(x ^ 1, 7);
  struct blob b = {.a = x};
  x = field_sum(b, x) ^ field_sum(b, x + 1);
  x = maybe_heavy(x, (int)(round & 1)) + maybe_heavy(x, 1);
  return x;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static PyObject *spin(PyObject *self, PyObject *args) {
  (void)self;
  double seconds;
  if (!PyArg_ParseTuple(args, "d", &seconds)) return NULL;
  uint64_t x = 1;
  double end = now() + seconds;
  for (unsigned round = 0; now() < end; round++) x = round_of(x, round);
  return PyLong_FromUnsignedLongLong(x);
}

static PyMethodDef methods[] = {
    {"spin", spin, METH_VARARGS, "Run the static functions for the given seconds."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "pyaustin_many", NULL, -1, methods};

PyMODINIT_FUNC PyInit_pyaustin_many(void) { return PyModule_Create(&module); }
