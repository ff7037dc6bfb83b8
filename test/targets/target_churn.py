"""Target that starts and ends threads all the time.

Usage: target_churn.py SECONDS IDS_FILE

The main thread starts a short-lived thread, waits for it to end, and
again, until SECONDS have passed: most of the time a new thread's state
exists before the thread runs (on 3.8-3.10 it then names its creator's
thread).  IDS_FILE is written once the loop starts.
"""

import sys
import time
import threading

from target_ids import write_ids


def short_life():
    return sum(range(2000))


def churn(deadline):
    n = 0
    while time.monotonic() < deadline:
        t = threading.Thread(target=short_life)
        t.start()  # @mark start_call
        t.join()
        n += 1
    return n


def main(seconds, ids_file):
    deadline = time.monotonic() + seconds
    write_ids(ids_file)
    churn(deadline)  # @mark churn_call


if __name__ == "__main__":
    main(float(sys.argv[1]), sys.argv[2])
