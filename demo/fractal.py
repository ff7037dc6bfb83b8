"""The native demo: a Mandelbrot set computed in C (_fractal, demo/ext),
shaded by Python callbacks, tile by tile in two threads.

Usage: fractal.py EXT_DIR [SECONDS]

austinp shows both halves in one stack: render_tile (Python) ->
escape_rows -> escape_time (C), and render_tile -> shade (C) -> palette
(Python)."""

import sys
import threading
import time

sys.path.insert(0, sys.argv[1])
import _fractal  # noqa: E402

WIDTH, HEIGHT, MAXITER = 320, 240, 400


def palette(count):
    if count >= MAXITER:
        return (0, 0, 0)
    t = count / MAXITER
    return (int(255 * t), int(255 * t * t), int(255 * (1 - t)))


def render_tile(y0, y1):
    counts = _fractal.escape_rows(y0, y1, WIDTH, HEIGHT, MAXITER)
    return _fractal.shade(palette, counts)


def render(deadline):
    frames = 0
    while time.monotonic() < deadline:
        for y in range(0, HEIGHT, 16):
            render_tile(y, min(y + 16, HEIGHT))
        frames += 1
    return frames


def main(seconds):
    deadline = time.monotonic() + seconds
    other = threading.Thread(target=render, args=(deadline,), name="renderer")
    other.start()
    n = render(deadline)
    other.join()
    print("rendered %d frames in the main thread" % n)


if __name__ == "__main__":
    main(float(sys.argv[2]) if len(sys.argv) > 2 else 3.0)
