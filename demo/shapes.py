"""A small program with a few clear hot spots, for the quick start."""
import math
import threading


class Mandelbrot:
    def __init__(self, size):
        self.size = size

    def escape_time(self, c, limit=60):
        z = 0j
        for n in range(limit):
            z = z * z + c
            if abs(z) > 2.0:
                return n
        return limit

    def render(self):
        rows = []
        for y in range(self.size):
            row = []
            for x in range(self.size):
                c = complex(3.0 * x / self.size - 2.0, 2.0 * y / self.size - 1.0)
                row.append(self.escape_time(c))
            rows.append(row)
        return rows


def primes(limit):
    sieve = [True] * limit
    for i in range(2, int(math.sqrt(limit)) + 1):
        if sieve[i]:
            for j in range(i * i, limit, i):
                sieve[j] = False
    return [i for i in range(2, limit) if sieve[i]]


def background():
    total = 0
    for _ in range(150):
        total += len(primes(60000))
    return total


def main():
    worker = threading.Thread(target=background, name="primes")
    worker.start()
    for _ in range(10):
        Mandelbrot(120).render()
    worker.join()


if __name__ == "__main__":
    main()
