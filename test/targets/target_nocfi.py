"""Target whose main thread spends its time in a C function without unwind
information (test/ext/pyaustin_nocfi.c: nocfi_spin).

Usage: target_nocfi.py SECONDS IDS_FILE EXT_DIR

Until SECONDS have passed, the main thread calls hot -> pyaustin_nocfi.spin.
IDS_FILE is written (atomically) once the loop starts: "pid <pid>" and
"main <native id>".

The tests find line numbers through the "@mark" comments: do not remove them.
"""

import sys
import time

from target_ids import write_ids

sys.path.insert(0, sys.argv[3])
import pyaustin_nocfi  # noqa: E402


def hot():
    return pyaustin_nocfi.spin(2000000)  # @mark spin_call


def main(seconds, ids_file):
    deadline = time.monotonic() + seconds
    write_ids(ids_file)
    while time.monotonic() < deadline:
        hot()  # @mark hot_call


if __name__ == "__main__":
    main(float(sys.argv[1]), sys.argv[2])  # @mark main_call
