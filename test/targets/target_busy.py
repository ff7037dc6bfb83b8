"""Busy target for the functional tests of austin.

Usage: target_busy.py SECONDS [IDS_FILE]

Runs a deterministic busy loop for SECONDS seconds in the main thread and in a
thread named "worker", while a thread named "sleeper" sleeps in one call that
outlasts the run (a daemon thread: the process ends without waking it).  When
IDS_FILE is given, once all three threads run it is written (atomically) with
one line per thread: "name native_id", preceded by "pid <pid>".

The tests find line numbers through the "@mark" comments: do not remove them.
Valid on Python 3.8 and later; standard library only.
"""

import functools
import sys
import threading
import time

from target_ids import write_ids


def make_inner():
    def inner(x):
        return (x * x) % 1009  # @mark busy_inner
    return inner


class Cruncher:
    def __init__(self):
        self.inner = make_inner()

    def crunch(self, n):
        inner = self.inner
        total = 0
        for i in range(n):
            total += inner(i)  # @mark inner_call
        return total


def run_busy(deadline):
    cruncher = Cruncher()
    rounds = 0
    while time.monotonic() < deadline:
        rounds += sum(cruncher.crunch(k) for k in (200, 300))  # @mark crunch_call
    return rounds


class Worker:
    def run(self, deadline):
        scale = lambda v: (v * 3 + 1) % 1013  # @mark worker_lambda
        while time.monotonic() < deadline:
            self.churn(scale)  # @mark worker_churn_call

    def churn(self, fn):
        acc = 0
        for i in range(500):
            acc += fn(i)  # @mark worker_fn_call
        return acc


def sleeper(deadline, asleep):
    # One sleep, never woken while the process lives: the thread is never
    # runnable (state R) once in it, so Austin sees it idle in every sample
    # there, whatever the machine's load. A loop of short sleeps would make
    # it runnable, waiting for a CPU and the GIL, after each one. The ids
    # file is written once it is about to sleep (main waits for asleep).
    seconds = deadline - time.monotonic() + 3600
    asleep.set()
    time.sleep(seconds)  # @mark sleeper_sleep


def main(seconds, ids_file):
    deadline = time.monotonic() + seconds
    ids = {"main": threading.get_native_id()}
    lock = threading.Lock()
    started = threading.Barrier(3)

    def thread_body(name, fn):
        with lock:
            ids[name] = threading.get_native_id()
        started.wait()
        fn(deadline)

    worker = threading.Thread(name="worker", target=thread_body, args=("worker", Worker().run))
    asleep = threading.Event()
    sleeping = threading.Thread(name="sleeper", target=thread_body,
                                args=("sleeper", functools.partial(sleeper, asleep=asleep)),
                                daemon=True)
    worker.start()
    sleeping.start()
    started.wait()
    asleep.wait()
    if ids_file:
        write_ids(ids_file, ids)
    run_busy(deadline)  # @mark run_busy_call
    worker.join()


if __name__ == "__main__":
    main(float(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else None)  # @mark main_call
