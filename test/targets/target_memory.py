"""Memory target for the functional tests of austin (-m, -f).

Usage: target_memory.py SECONDS COUNTS_FILE

For SECONDS seconds, and at least four cycles: allocate SIZE bytes (touching every page) in
allocate(), hold them while sleeping, release them in release() and keep
running there for a while, so that the drop is seen while release() is on
the stack. At the end COUNTS_FILE gets "size N", "allocs N", "releases N".

The tests find line numbers through the "@mark" comments: do not remove them.
Valid on Python 3.8 and later; standard library only.
"""

import os
import sys
import time

SIZE = 32 << 20


def spin(seconds):
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        n += 1
    return n


def allocate():
    return b"\x01" * SIZE  # @mark alloc


def release(holder):
    holder.clear()  # @mark release
    spin(0.03)  # @mark after_release


def main():
    seconds, counts = float(sys.argv[1]), sys.argv[2]
    allocs = releases = 0
    deadline = time.monotonic() + seconds
    # At least four cycles, however slow the machine (the tests need three).
    while time.monotonic() < deadline or allocs < 4:
        holder = [allocate()]
        allocs += 1
        time.sleep(0.05)
        release(holder)
        releases += 1
        time.sleep(0.05)
    tmp = counts + ".tmp"
    with open(tmp, "w") as f:
        f.write("size %d\nallocs %d\nreleases %d\n" % (SIZE, allocs, releases))
    os.rename(tmp, counts)


if __name__ == "__main__":
    main()
