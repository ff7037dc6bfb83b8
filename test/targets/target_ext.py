"""Target that spends its time in a C extension (test/ext/pyaustin_ext.c).

Usage: target_ext.py SECONDS IDS_FILE EXT_DIR

Until SECONDS have passed, the main thread alternates between a hot loop in
C (hot -> pyaustin_ext.spin) and a C loop that calls back into Python
(with_callback -> pyaustin_ext.call_back -> leaf).  IDS_FILE is written
(atomically) once the loop starts: "pid <pid>" and "main <native id>".

The tests find line numbers through the "@mark" comments: do not remove them.
"""

import sys
import time

from target_ids import write_ids

sys.path.insert(0, sys.argv[3])
import pyaustin_ext  # noqa: E402


def leaf(i):
    acc = 0
    for k in range(200):
        acc += (i * k) % 7  # @mark leaf_work
    return acc


def hot():
    return pyaustin_ext.spin(300000)  # @mark spin_call


def with_callback():
    return pyaustin_ext.call_back(leaf, 300)  # @mark call_back_call


def main(seconds, ids_file):
    deadline = time.monotonic() + seconds
    write_ids(ids_file)
    while time.monotonic() < deadline:
        hot()  # @mark hot_call
        with_callback()  # @mark with_callback_call


if __name__ == "__main__":
    main(float(sys.argv[1]), sys.argv[2])  # @mark main_call
