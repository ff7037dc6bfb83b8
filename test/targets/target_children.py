"""Multi-process target for the functional tests of austin -C.

Usage:
  target_children.py pool SECONDS IDS_FILE
      A multiprocessing pool of 4 workers, each running one task
      (pool_task) for SECONDS seconds while the parent waits in run_pool.
      IDS_FILE gets "parent <pid>", one "worker <pid>" per pool process and
      one "task <pid>" per task run, once every task has started.
  target_children.py chain DEPTH SECONDS IDS_FILE
      A chain of DEPTH+1 Python processes: each starts the next one and
      runs level<N> (N its depth, at most 2) for SECONDS seconds. The first child is started
      directly, the deeper ones through "sh -c '...; true'" (a shell that
      stays, so that the chain crosses a process that is not Python).
      Each level appends "level<N> <pid>" to IDS_FILE.

Valid on Python 3.8 and later; standard library only.
"""

import multiprocessing
import os
import shlex
import subprocess
import sys
import time


def spin(seconds):
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        n += 1  # @mark spin
    return n


def pool_task(arg):
    seconds, started = arg
    started.put(os.getpid())
    spin(seconds)  # @mark pool_task
    return os.getpid()


def run_pool(seconds, ids_file):
    ctx = multiprocessing.get_context()
    with ctx.Manager() as manager:
        started = manager.Queue()
        with ctx.Pool(4) as pool:
            result = pool.map_async(pool_task, [(seconds, started)] * 4, chunksize=1)
            tasks = [started.get(timeout=60) for _ in range(4)]
            workers = [p.pid for p in pool._pool]
            write_ids(ids_file, ["parent %d" % os.getpid()]
                      + ["worker %d" % p for p in workers]
                      + ["task %d" % p for p in tasks])
            result.get(timeout=120)  # @mark pool_wait


def write_ids(path, lines):
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.rename(tmp, path)


# One function per level, so that each process's stacks are its own.
def level0(seconds):
    spin(seconds)  # @mark level0


def level1(seconds):
    spin(seconds)  # @mark level1


def level2(seconds):
    spin(seconds)  # @mark level2


def chain_level(level, seconds):
    [level0, level1, level2][level](seconds)


def run_chain(depth, seconds, ids_file, level=0):
    child = None
    if depth > 0:
        argv = [sys.executable, os.path.abspath(__file__), "chain", str(depth - 1),
                str(seconds), ids_file, str(level + 1)]
        if level > 0:
            argv = ["sh", "-c", " ".join(shlex.quote(a) for a in argv) + "; true"]
        child = subprocess.Popen(argv)
    with open(ids_file, "a") as f:
        f.write("level%d %d\n" % (level, os.getpid()))
    chain_level(level, seconds)
    if child is not None:
        child.wait()


if __name__ == "__main__":
    if sys.argv[1] == "pool":
        run_pool(float(sys.argv[2]), sys.argv[3])
    else:
        level = int(sys.argv[5]) if len(sys.argv) > 5 else 0
        run_chain(int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], level)
