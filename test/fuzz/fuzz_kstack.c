/* Fuzz target: the kernel stack parser (kstack_parse, austinp -k). Every
 * name it returns must lie in its pool and hold nothing that would break
 * a collapsed stack (';', ':', control characters). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kstack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "fuzz_kstack: %s\n", what);
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static struct kstack k;
  size_t n = kstack_parse((const char *)data, size, &k);
  require(n == k.n && n <= KSTACK_MAX_FRAMES, "more frames than the kernel prints");
  for (size_t i = 0; i < n; i++) {
    const char *name = k.names[i];
    require(name >= k.pool && name < k.pool + KSTACK_POOL, "a name outside the pool");
    size_t len = strnlen(name, (size_t)(k.pool + KSTACK_POOL - name));
    require(name + len < k.pool + KSTACK_POOL, "a name not NUL-ended in the pool");
    require(len > 0, "an empty name");
    for (size_t j = 0; j < len; j++) {
      unsigned char c = (unsigned char)name[j];
      require(c != ';' && c != ':' && c >= 0x20 && c != 0x7f, "a separator in a name");
    }
  }
  kstack_in_ptrace_stop(&k);
  return 0;
}
