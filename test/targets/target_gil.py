"""GIL target for the memory-mode tests of austin and austinp (-m, -f).

Usage: target_gil.py CYCLES IDS_FILE

A thread named "alloc" allocates SIZE bytes (touching every page) and
releases them, CYCLES times (a count, not a time: how long a cycle takes
depends on the machine's load), in pure Python: it holds the GIL all that
time, since nothing asks for it. Two threads, "hash1" and
"hash2", meanwhile spend all of it inside one call of hashlib.pbkdf2_hmac,
which runs in C without the GIL: the system shows them running, yet they
change no memory. "alloc" is started first, so that a sampler that takes
the threads in the interpreter's order (newest first) meets the two busy
ones before it.

SIZE is small (faulting pages in is slow on a loaded virtual machine:
10 to 50 us a page was seen) and every block is its own mapping: glibc's
malloc is told to map every block of 128 KiB or more, so that each release
unmaps the block (by default it would learn from the first releases to
keep such blocks in its heap, and the resident size would stop changing).

IDS_FILE gets "pid N", "size N" and the native ids of "main", "alloc",
"hash1", "hash2" once both busy threads are inside their call. After its
last cycle "alloc" ends the process at once.

The tests find line numbers through the "@mark" comments: do not remove them.
Valid on Python 3.8 and later; standard library only.
"""

import ctypes
import hashlib
import os
import sys
import threading
import time

from target_ids import write_ids

SIZE = 2 << 20
HASH_ITERATIONS = 1 << 30
M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter; setting it fixes the threshold


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


def run_alloc(go, cycles):
    go.wait()
    for _ in range(cycles):
        holder = [allocate()]  # @mark alloc_call
        spin(0.04)  # @mark hold
        release(holder)  # @mark release_call
        spin(0.04)  # @mark released
    # Leave from here with the GIL held, writing nothing (I/O lets the GIL
    # go): no other thread takes it, none ends, and the busy threads, still
    # in their call, go too.
    os._exit(0)


def run_hash(ready, ids, name):
    ids[name] = threading.get_native_id()
    ready.set()
    # Minutes of work: the call outlasts the run (which ends with os._exit),
    # so that the thread never comes back for the GIL.
    hashlib.pbkdf2_hmac("sha256", b"pyaustin", b"salt", HASH_ITERATIONS)  # @mark hash


def main():
    cycles, ids_path = int(sys.argv[1]), sys.argv[2]
    if not ctypes.CDLL(None).mallopt(M_MMAP_THRESHOLD, 128 << 10):
        sys.exit("mallopt failed")
    ids = {"main": threading.get_native_id(), "size": SIZE}
    go = threading.Event()
    alloc = threading.Thread(target=run_alloc, args=(go, cycles), name="alloc")
    alloc.start()
    ids["alloc"] = alloc.native_id
    busy = []
    for name in ("hash1", "hash2"):
        ready = threading.Event()
        t = threading.Thread(target=run_hash, args=(ready, ids, name), name=name, daemon=True)
        t.start()
        ready.wait()
        busy.append(time.pthread_getcpuclockid(t.ident))
    # Spin (from here on a thread holds the GIL, this one and then "alloc",
    # but for a little I/O) until both are inside their call: there, and
    # only there, they use CPU time by the millisecond.
    deadline = time.monotonic() + 30
    while min(time.clock_gettime(c) for c in busy) < 0.005 and time.monotonic() < deadline:
        spin(0.001)
    write_ids(ids_path, ids)
    go.set()
    alloc.join()  # it ends the process


if __name__ == "__main__":
    main()
