"""Target whose time goes into C code of the standard library.

Usage: target_stdlib_c.py SECONDS IDS_FILE

Until SECONDS have passed, compresses a 4 MiB buffer with zlib (level 9)
from compress_it.  IDS_FILE is written (atomically) once the loop starts:
"pid <pid>" and "main <native id>".
"""

import random
import sys
import time
import zlib

from target_ids import write_ids


def compress_it(data):
    return zlib.compress(data, 9)  # @mark compress_call


def main(seconds, ids_file):
    rnd = random.Random(42)
    words = [bytes(rnd.choice(b"abcdefghij") for _ in range(rnd.randint(3, 9))) for _ in range(500)]
    data = b" ".join(rnd.choice(words) for _ in range(700000))[: 4 << 20]
    deadline = time.monotonic() + seconds
    write_ids(ids_file)
    while time.monotonic() < deadline:
        compress_it(data)  # @mark compress_it_call


if __name__ == "__main__":
    main(float(sys.argv[1]), sys.argv[2])
