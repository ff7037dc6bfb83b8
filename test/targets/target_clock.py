"""Target that reads the clocks in a loop, as event loops, timers and
loggers do: time.monotonic(), time.time() and time.perf_counter() in turn.
On Linux each is a clock_gettime that the C library serves from the vDSO.

Usage: target_clock.py SECONDS IDS_FILE

IDS_FILE is written (atomically) once the loop starts: "pid <pid>" and
"main <native id>".

The tests find line numbers through the "@mark" comments: do not remove them.
"""

import sys
import time

from target_ids import write_ids


def monotonic(n):
    for _ in range(n):
        time.monotonic()  # @mark monotonic


def wall(n):
    for _ in range(n):
        time.time()  # @mark time


def perf(n):
    for _ in range(n):
        time.perf_counter()  # @mark perf_counter


def main(seconds, ids_file):
    deadline = time.monotonic() + seconds
    write_ids(ids_file)
    while time.monotonic() < deadline:  # @mark loop
        monotonic(3000)  # @mark monotonic_call
        wall(3000)  # @mark time_call
        perf(3000)  # @mark perf_counter_call


if __name__ == "__main__":
    main(float(sys.argv[1]), sys.argv[2])  # @mark main_call
