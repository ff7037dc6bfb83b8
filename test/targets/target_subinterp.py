"""Sub-interpreter target for the functional tests of austin (3.12+).

Usage: target_subinterp.py SECONDS IDS_FILE

Runs a busy loop for SECONDS seconds in a sub-interpreter (in a thread of
its own) while the main interpreter's thread busies itself too. IDS_FILE
gets "pid N", "main TID", "sub TID", "subiid N" once both run.

The tests find line numbers through the "@mark" comments: do not remove them.
"""

import os
import sys
import threading
import time

try:
    import _interpreters as interpreters  # 3.13+
except ImportError:
    import _xxsubinterpreters as interpreters  # 3.12

SUB_CODE = """
import time
def sub_busy(seconds):
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        n = (n * 7 + 1) % 1009
sub_busy(SECONDS)
"""


def main_busy(seconds):
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        n = (n * 7 + 1) % 1009  # @mark main_busy


def main():
    seconds, ids = float(sys.argv[1]), sys.argv[2]
    iid = interpreters.create()
    sub_tid = []

    def run_sub():
        sub_tid.append(threading.get_native_id())
        interpreters.run_string(iid, SUB_CODE.replace("SECONDS", repr(seconds)))

    t = threading.Thread(target=run_sub)
    t.start()
    while not sub_tid:
        time.sleep(0.01)
    tmp = ids + ".tmp"
    with open(tmp, "w") as f:
        f.write("pid %d\nmain %d\nsub %d\nsubiid %d\n"
                % (os.getpid(), threading.get_native_id(), sub_tid[0], int(iid)))
    os.rename(tmp, ids)
    main_busy(seconds)
    t.join()


if __name__ == "__main__":
    main()
