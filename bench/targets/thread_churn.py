"""Target that starts and ends threads about a thousand times a second.

Usage: thread_churn.py SECONDS READY_FILE

Each short-lived thread runs a little Python and returns; the main thread
starts the next one as soon as the last has ended. READY_FILE is written
once the churn has begun. Prints how many threads it started.
"""

import sys
import threading
import time


def work():
    return sum(i * i for i in range(50))


def main(seconds, ready):
    deadline = time.monotonic() + seconds
    started = 0
    while time.monotonic() < deadline:
        t = threading.Thread(target=work)
        t.start()
        t.join()
        started += 1
        if started == 100:
            with open(ready, "w") as f:
                f.write("ready\n")
        time.sleep(0.0005)
    print(started)


main(float(sys.argv[1]), sys.argv[2])
