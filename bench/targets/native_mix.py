"""Bench target for austinp-resolve: Python code that runs through many C
functions of the interpreter and of its extension modules (json, re, zlib,
hashlib, decimal, sorting, struct, datetime), so that a profile of it names
many distinct native addresses, as profiles of real programs do.

Usage: native_mix.py SECONDS IDS_FILE [EXT_DIR]   (the ids file as for
test/targets/target_ext.py; EXT_DIR: also run test/ext's pyaustin_ext)
"""

import datetime
import decimal
import hashlib
import json
import os
import random
import re
import struct
import sys
import threading
import time
import zlib

ext = None
if len(sys.argv) > 3:
    sys.path.insert(0, sys.argv[3])
    import pyaustin_ext as ext


def work(rng):
    data = [{"k%d" % i: [rng.random(), str(i), None, True]} for i in range(200)]
    text = json.dumps(data)
    json.loads(text)
    re.findall(r"k(\d+)\D+([0-9.]+)", text)
    packed = zlib.compress(text.encode(), 6)
    zlib.decompress(packed)
    hashlib.sha256(packed).hexdigest()
    hashlib.md5(text.encode()).digest()
    sorted(rng.random() for _ in range(2000))
    sum(decimal.Decimal(i) / decimal.Decimal(7) for i in range(200))
    struct.unpack("<%dd" % 100, struct.pack("<%dd" % 100, *range(100)))
    datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")
    "-".join(str(x) for x in range(500)).split("-")
    if ext is not None:
        ext.spin(20000)


def main(seconds, ids_file):
    deadline = time.monotonic() + seconds
    tmp = ids_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("pid %d\nmain %d\n" % (os.getpid(), threading.get_native_id()))
    os.rename(tmp, ids_file)
    rng = random.Random(0)
    while time.monotonic() < deadline:
        work(rng)


if __name__ == "__main__":
    main(float(sys.argv[1]), sys.argv[2])
