"""Target that spends its time in a C++ extension (test/ext/pyaustin_cpp.cpp).

Usage: target_cpp.py SECONDS IDS_FILE EXT_DIR

Until SECONDS have passed, the main thread calls pyaustin_cpp.spin.
IDS_FILE is written (atomically) once the loop starts: "pid <pid>" and
"main <native id>".
"""

import sys
import time

from target_ids import write_ids

sys.path.insert(0, sys.argv[3])
import pyaustin_cpp  # noqa: E402


def main(seconds, ids_file):
    deadline = time.monotonic() + seconds
    write_ids(ids_file)
    while time.monotonic() < deadline:
        pyaustin_cpp.spin(20000)


if __name__ == "__main__":
    main(float(sys.argv[1]), sys.argv[2])
