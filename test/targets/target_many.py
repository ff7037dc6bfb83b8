"""Target that spends its time in the many static functions of
test/ext/pyaustin_many.c (a stripped build of it, for naming tests).

Usage: target_many.py SECONDS IDS_FILE EXT_DIR

IDS_FILE is written (atomically) once the loop starts.
"""

import sys
import time

from target_ids import write_ids

sys.path.insert(0, sys.argv[3])
import pyaustin_many  # noqa: E402


def main(seconds, ids_file):
    deadline = time.monotonic() + seconds
    write_ids(ids_file)
    while time.monotonic() < deadline:
        pyaustin_many.spin(0.05)


if __name__ == "__main__":
    main(float(sys.argv[1]), sys.argv[2])
