"""Waiting target for the functional tests of austin (attach).

Usage: target_wait.py [SECONDS]

Prints its pid on a line of its own, then waits SECONDS seconds (default 60)
or until its standard input is closed, whichever comes first.
Python 3.8 and later, stdlib only.
"""

import os
import select
import sys
import time


def wait_for(seconds):
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        ready, _, _ = select.select([sys.stdin], [], [], min(left, 0.1))  # @mark wait_select
        if ready and not os.read(sys.stdin.fileno(), 4096):
            return  # standard input closed


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    print(os.getpid(), flush=True)
    wait_for(seconds)  # @mark wait_call


if __name__ == "__main__":
    main()  # @mark main_call
