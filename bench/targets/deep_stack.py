"""A busy thread 60 calls deep whose leaf calls come and go: the target of
bench/heap. Usage: deep_stack.py SECONDS"""
import sys
import time


def leaf(x):
    return x * x


def descend(depth, deadline):
    if depth:
        return descend(depth - 1, deadline)
    n = 0
    while time.monotonic() < deadline:
        n += leaf(n) & 1
    return n


descend(60, time.monotonic() + float(sys.argv[1]))
