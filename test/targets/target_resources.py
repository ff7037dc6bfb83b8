"""Target that never stops creating new code, new threads and, on request,
new processes: the target of bench/resources and test_resources.py, which
watch a sampler's memory and descriptors while it samples this.

Usage: target_resources.py SECONDS IDS_FILE [CHILDREN]
       target_resources.py child SECONDS

For SECONDS (or until SIGTERM), in every thread that runs Python:

  * each round compiles a freshly generated module under a file name never
    used before and runs it: a chain of 3 to 40 functions, each with a name
    never used before, whose last one fans out to 2 to 12 leaves of many
    lines (new code objects, new names, new file names, new locations,
    deep and wide stacks); the module is then dropped, so that the
    target's own memory stays flat (but for the names: 3.12 keeps them
    interned for good);
  * the main thread and three long-lived threads run such rounds (one of
    them sleeping between its rounds);
  * a churn thread starts a short-lived thread that runs one round, joins
    it and starts the next, all the time;
  * with CHILDREN > 0, a spawner keeps CHILDREN child processes alive, each
    living about half a second (this script's child mode) and replaced by
    a new one as it ends.

IDS_FILE is written once every thread runs. On exit (SECONDS passed, or
SIGTERM) prints "modules N threads N children N": how many were created.
Valid on Python 3.8 and later; standard library only.
"""

import itertools
import os
import random
import signal
import subprocess
import sys
import threading
import time

from target_ids import write_ids

STOP = threading.Event()
COUNTS = {"modules": 0, "threads": 0, "children": 0}
_serial = itertools.count()
LEAF_LINES = 12


def module_source(n, rng):
    """A module whose functions are all named after n: a chain of calls
    that ends in a fan of leaves."""
    depth, width = rng.randint(3, 40), rng.randint(2, 12)
    lines = []
    for i in range(width):
        # Many lines, so that samples in one leaf land on many locations.
        lines += ["def leaf_%d_%d(k):" % (n, i), "    t = 0", "    for j in range(k):"]
        lines += ["        t += j * %d" % m for m in range(1, LEAF_LINES + 1)]
        lines += ["    return t", ""]
    fan = " + ".join("leaf_%d_%d(k)" % (n, i) for i in range(width))
    lines += ["def level_%d_%d(k):" % (n, depth), "    return %s" % fan, ""]
    for d in range(depth - 1, -1, -1):
        lines += ["def level_%d_%d(k):" % (n, d),
                  "    return level_%d_%d(k) + 1" % (n, d + 1), ""]
    return "\n".join(lines), "level_%d_0" % n


def one_round(rng, seconds=0.003):
    """Compile a new module under a new file name and run it for a few
    milliseconds."""
    n = next(_serial)
    source, root = module_source(n, rng)
    filename = "/generated/%d/round_%d/module_%d.py" % (os.getpid(), n // 1000, n)
    namespace = {}
    exec(compile(source, filename, "exec"), namespace)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        namespace[root](20)
    COUNTS["modules"] += 1


def rounds(seed, pause=0.0):
    rng = random.Random(seed)
    while not STOP.is_set():
        one_round(rng)
        if pause:
            STOP.wait(pause)


def churn():
    seed = itertools.count(1000)
    while not STOP.is_set():
        t = threading.Thread(target=one_round, args=(random.Random(next(seed)), 0.0005))
        t.start()
        t.join()
        COUNTS["threads"] += 1


def spawn_children(n, seconds):
    here = os.path.abspath(__file__)
    live = []
    while not STOP.is_set():
        live = [p for p in live if p.poll() is None]
        while len(live) < n:
            live.append(subprocess.Popen([sys.executable, here, "child", str(seconds)]))
            COUNTS["children"] += 1
        STOP.wait(0.05)
    for p in live:
        p.wait()


def run_child(seconds):
    deadline = time.monotonic() + seconds
    rng = random.Random(os.getpid())
    while time.monotonic() < deadline:
        one_round(rng)


def main(seconds, ids_file, children):
    signal.signal(signal.SIGTERM, lambda signo, frame: STOP.set())
    # Hand the GIL over more often than the default 5 ms, so that the
    # churn thread starts 30 to 50 threads a second, not a dozen.
    sys.setswitchinterval(0.0005)
    threads = [threading.Thread(target=rounds, args=(1,)),
               threading.Thread(target=rounds, args=(2,)),
               threading.Thread(target=rounds, args=(3, 0.01)),
               threading.Thread(target=churn)]
    if children > 0:
        threads.append(threading.Thread(target=spawn_children, args=(children, 0.5)))
    for t in threads:
        t.start()
    write_ids(ids_file)
    deadline = time.monotonic() + seconds
    rng = random.Random(0)
    while not STOP.is_set() and time.monotonic() < deadline:
        one_round(rng)
    STOP.set()
    for t in threads:
        t.join()
    print("modules %(modules)d threads %(threads)d children %(children)d" % COUNTS,
          flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "child":
        run_child(float(sys.argv[2]))
    else:
        main(float(sys.argv[1]), sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 0)
