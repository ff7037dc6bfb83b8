"""Sleeping target for the functional tests of austin.

Usage: target_sleep.py SECONDS [IDS_FILE]

The main thread and two threads named "napper" and "dozer" all sleep (in
time.sleep loops) for SECONDS seconds.  IDS_FILE is written as by
target_busy.py once the three threads run.  Line numbers are found by the
tests through the "@mark" comments.  Python 3.8 and later, stdlib only.
"""

import sys
import threading
import time

from target_ids import write_ids


class Napper:
    def nap(self, deadline):
        while time.monotonic() < deadline:
            time.sleep(0.05)  # @mark napper_sleep


def make_dozer():
    def doze(deadline):
        while time.monotonic() < deadline:
            time.sleep(0.05)  # @mark dozer_sleep
    return doze


def idle(deadline):
    while time.monotonic() < deadline:
        time.sleep(0.05)  # @mark main_sleep


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

    napper = threading.Thread(name="napper", target=thread_body, args=("napper", Napper().nap))
    dozer = threading.Thread(name="dozer", target=thread_body, args=("dozer", make_dozer()))
    napper.start()
    dozer.start()
    started.wait()
    if ids_file:
        write_ids(ids_file, ids)
    idle(deadline)  # @mark idle_call
    napper.join()
    dozer.join()


if __name__ == "__main__":
    main(float(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else None)  # @mark main_call
