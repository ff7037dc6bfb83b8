"""Column target for the functional tests of austin (MOJO locations).

Usage: target_columns.py SECONDS POSITIONS_FILE

Writes POSITIONS_FILE (atomically) with the truth the tests compare the
MOJO frames with: a JSON object mapping the names "spread" and "combine"
to their code objects' co_firstlineno ("first") and own co_positions()
("positions": 3.11+, an empty list before),
then, for SECONDS seconds, calls combine() from a call that spans four
lines, so that the caller's frame is at a multi-line location.

The tests find line numbers through the "@mark" comments: do not remove them.
Valid on Python 3.8 and later; standard library only.
"""

import json
import os
import sys
import time


def combine(a, b):
    return (a * b + 7) % 1009  # @mark combine


def spread(n):
    total = 0
    for i in range(n):
        total += combine(  # @mark spread_call
            i,
            i * 3,
        )
    return total


def truth_of(code):
    positions = code.co_positions() if hasattr(code, "co_positions") else []
    return {"first": code.co_firstlineno, "positions": [list(p) for p in positions]}


def main():
    seconds, path = float(sys.argv[1]), sys.argv[2]
    truth = {"spread": truth_of(spread.__code__), "combine": truth_of(combine.__code__)}
    with open(path + ".tmp", "w") as f:
        json.dump(truth, f)
    os.rename(path + ".tmp", path)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        spread(500)


if __name__ == "__main__":
    main()
