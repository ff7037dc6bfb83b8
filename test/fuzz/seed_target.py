"""Target whose memory images seed the interpreter reader's fuzzing.

Usage: seed_target.py READY_FILE

Runs threads in every state the reader meets: a busy thread in a deep
recursion through a method, a generator and a closure; a thread asleep; a
thread running a function whose names need two and four bytes per
character (non-ASCII strings of every kind). READY_FILE is written once
they all run. Standard library only; Python 3.8 and later.
"""

import sys
import threading
import time


class Walker:
    def descend(self, depth):
        if depth == 0:
            return sum(self.leaves())
        return self.descend(depth - 1) + 1

    def leaves(self):
        for i in range(1000):
            yield (i * i) % 7


def busy():
    spin = lambda: Walker().descend(40)  # noqa: E731
    while True:
        spin()


def sleeper():
    while True:
        time.sleep(0.05)


def wide_names():
    while True:
        time.sleep(0.01)


# Names of two-byte (UCS-2) and four-byte (UCS-4) characters.
WIDE = "\u0444\u0443\u043d\u043a\u0446\u0438\u044f"
names = {"co_name": WIDE, "co_filename": "\U0001f40d/seed.py"}
if sys.version_info >= (3, 11):
    names["co_qualname"] = WIDE
code = wide_names.__code__.replace(**names)
wide = type(wide_names)(code, globals())


def main():
    for fn in (busy, sleeper, wide):
        threading.Thread(target=fn, daemon=True).start()
    time.sleep(0.3)
    with open(sys.argv[1], "w") as f:
        f.write("ready\n")
    busy()


main()
