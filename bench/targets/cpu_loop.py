"""One-thread CPU-bound target for the austin benchmarks.

Runs a fixed amount of pure-Python work (a few call levels deep, so that
samples have a real stack) and prints its own wall time.  Standard library
only; valid on CPython 3.8 and later.

    python3 cpu_loop.py [N]

N is the number of outer iterations (default 100000).  Output, on stdout:

    cpu_loop: start
    cpu_loop: wall_s <seconds> n <N> result <checksum>
"""

import sys
import time


def leaf(x):
    s = 0
    for k in range(16):
        s += (x * k) % 7
    return s


def middle(x):
    return leaf(x) + leaf(x + 3)


def outer(n):
    total = 0
    for i in range(n):
        total += middle(i)
    return total


def main(argv):
    n = int(argv[1]) if len(argv) > 1 else 100000
    print("cpu_loop: start", flush=True)
    t0 = time.perf_counter()
    result = outer(n)
    elapsed = time.perf_counter() - t0
    print("cpu_loop: wall_s %.6f n %d result %d" % (elapsed, n, result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
