"""Target with threads blocked in system calls, for austinp -k.

Usage: target_kernel.py SECONDS [IDS_FILE] [BLOCKED]

Starts BLOCKED threads (default 4) that wait in the kernel, taking in turn
the kinds "sleep" (time.sleep), "lock" (threading.Lock.acquire with a
timeout, on a lock the main thread holds), "recv" (socket.recv on a
blocking socketpair that nobody writes to) and "select" (select.select on
such a socket, with a timeout), and one thread "busy" that runs pure Python
and makes no system call. Every wait is longer than the run, so the blocked
threads never wake (and never take the GIL from the busy one) while the
target lives. The main thread sleeps for SECONDS, then exits.

When IDS_FILE is given, once every thread is in place it is written
(atomically) with "pid <pid>", "main <tid>", "busy <tid>" and one
"<kind>_<i> <tid>" line per blocked thread.

Valid on Python 3.8 and later; standard library only.
"""

import select
import socket
import sys
import threading
import time

from target_ids import write_ids

KINDS = ("sleep", "lock", "recv", "select")
FOREVER = 3600.0


def blocked_sleep(ctx):
    while True:
        time.sleep(FOREVER)


def blocked_lock(ctx):
    while True:
        ctx["lock"].acquire(timeout=FOREVER)


def blocked_recv(ctx):
    a, b = socket.socketpair()
    ctx["keep"].append(b)
    while True:
        a.recv(16)


def blocked_select(ctx):
    a, b = socket.socketpair()
    ctx["keep"].append(b)
    while True:
        select.select([a], [], [], FOREVER)


def busy(ctx):
    x = 0
    while True:
        for i in range(1000):
            x = (x * 31 + i) % 1000003


def main(seconds, ids_file, blocked):
    ctx = {"lock": threading.Lock(), "keep": []}
    ctx["lock"].acquire()
    ids = {"main": threading.get_native_id()}
    ready = threading.Barrier(blocked + 2)
    guard = threading.Lock()

    def body(name, fn):
        with guard:
            ids[name] = threading.get_native_id()
        ready.wait()
        fn(ctx)

    jobs = [("%s_%d" % (KINDS[i % len(KINDS)], i // len(KINDS)),
             globals()["blocked_" + KINDS[i % len(KINDS)]]) for i in range(blocked)]
    jobs.append(("busy", busy))
    for name, fn in jobs:
        threading.Thread(name=name, target=body, args=(name, fn), daemon=True).start()
    ready.wait()
    if ids_file:
        write_ids(ids_file, ids)
    time.sleep(seconds)


if __name__ == "__main__":
    main(float(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] else None,
         int(sys.argv[3]) if len(sys.argv) > 3 else 4)
