"""Target that ends while it is sampled.

Usage: target_exit.py MODE SECONDS IDS_FILE

Runs a busy main thread and a busy worker thread.  After SECONDS:
  clean        the main thread returns normally (the worker has ended)
  thread-exit  the worker calls os._exit(3) while the main thread is busy
IDS_FILE is written (atomically) once both threads run.
"""

import os
import sys
import threading
import time

from target_ids import write_ids


def spin(deadline):
    x = 0
    while time.monotonic() < deadline:
        for i in range(1000):
            x = (x * 31 + i) % 1000003
    return x


def main(mode, seconds, ids_file):
    deadline = time.monotonic() + seconds
    ready = threading.Barrier(2)

    def worker():
        ready.wait()
        spin(deadline)
        if mode == "thread-exit":
            os._exit(3)

    t = threading.Thread(target=worker)
    t.start()
    ready.wait()
    write_ids(ids_file)
    spin(deadline + (60 if mode == "thread-exit" else 0))
    t.join()


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), sys.argv[3])
