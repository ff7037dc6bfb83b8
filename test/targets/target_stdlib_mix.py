"""Target whose time goes into the C code of several standard library
modules (hashlib/OpenSSL, zlib, json, re, decimal/libmpdec): in stripped
distro builds most of those functions have no symbol.

Usage: target_stdlib_mix.py SECONDS IDS_FILE
"""

import decimal
import hashlib
import json
import re
import sys
import time
import zlib

from target_ids import write_ids


def main(seconds, ids_file):
    buf = bytes(range(256)) * 4096
    doc = [{"k%d" % i: [i * 0.5, str(i), None, True]} for i in range(300)]
    text = " ".join("word%d x=%d;" % (i, i * 7) for i in range(3000))
    rx = re.compile(r"word(\d+) x=(\d+);")
    deadline = time.monotonic() + seconds
    write_ids(ids_file)
    while time.monotonic() < deadline:
        hashlib.sha256(buf).digest()
        zlib.compress(buf, 6)
        json.loads(json.dumps(doc))
        sum(int(m.group(2)) for m in rx.finditer(text))
        decimal.getcontext().prec = 200
        decimal.Decimal(2).sqrt()


if __name__ == "__main__":
    main(float(sys.argv[1]), sys.argv[2])
