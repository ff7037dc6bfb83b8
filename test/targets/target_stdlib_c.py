"""Target whose time goes into C code of the standard library.

Usage: target_stdlib_c.py SECONDS IDS_FILE

Until SECONDS have passed, compresses a 1 MiB buffer with zlib (level 9)
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
    # 1 MiB over a 16-letter alphabet, made in C (a loaded machine must not
    # spend the run building it): deflate works hard on it at level 9.
    n = 1 << 20
    raw = random.Random(42).getrandbits(8 * n).to_bytes(n, "little")
    data = raw.translate(bytes(b"abcdefghij   \n.," [i % 16] for i in range(256)))
    deadline = time.monotonic() + seconds
    write_ids(ids_file)
    while time.monotonic() < deadline:
        compress_it(data)  # @mark compress_it_call


if __name__ == "__main__":
    main(float(sys.argv[1]), sys.argv[2])
