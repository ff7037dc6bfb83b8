"""Garbage-collector target for the functional tests of austin (-g).

Usage: target_gc.py SECONDS

Keeps a large graph of live containers (so that every full collection has
much to traverse) and, for SECONDS seconds, makes cyclic garbage and
collects it explicitly.

The tests find line numbers through the "@mark" comments: do not remove them.
Valid on Python 3.8 and later; standard library only.
"""

import gc
import sys
import time


class Node:
    def __init__(self):
        self.other = None


def make_cycles(n):
    for _ in range(n):
        a, b = Node(), Node()
        a.other, b.other = b, a


def main():
    seconds = float(sys.argv[1])
    live = [[i] for i in range(300000)]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        make_cycles(20000)
        gc.collect()  # @mark collect
    return len(live)


if __name__ == "__main__":
    main()
