"""A sampler's own resources while it samples a target that never stops
creating code objects, names, file names, threads and (for -C) child
processes: test/targets/target_resources.py.

Its open descriptors do not grow with the threads and processes it has
seen, and its memory does not grow with the strings and frames its MOJO
writer has defined: the writer forgets them past a bound, lowered here
(PYAUSTIN_MOJO_MAX_BYTES) so that a run of a few seconds passes it many
times. A writer that kept them would grow by at least the bytes of the
definitions it wrote for the first time in the second half of the run,
which the test counts from the output; bench/resources runs the same for
minutes, with the real bound.

The names contain bounded_memory: the sanitizer pass leaves them out
(ASan's quarantine grows with what is freed).
"""

import os
import statistics
import subprocess
import time

import pytest

import mojo
from conftest import wait_ids

SECONDS = 8
PERIOD = 0.2
MOJO_MAX_BYTES = 64 << 10  # passed many times over in a run
# What a writer that never forgets holds per definition, at least: the
# copy (a string with the pid before it; a frame's seven integers) and
# malloc's overhead, without its hash table.
STRING_COST = 8 + 16
FRAME_COST = 56 + 16


def reading(pid):
    st = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k == "VmRSS":
                st["rss"] = int(v.split()[0]) * 1024
    if "rss" not in st:
        raise OSError("process %d has ended" % pid)  # a zombie has no VmRSS
    st["fds"] = len(os.listdir("/proc/%d/fd" % pid))
    return st


def run_watched(cmd, out_path):
    """Run the sampler to its end, reading its RSS, its descriptors and the
    size of its output every PERIOD."""
    env = dict(os.environ, PYAUSTIN_MOJO_MAX_BYTES=str(MOJO_MAX_BYTES))
    readings = []
    with open(out_path, "wb") as out:
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, env=env)
        start = time.monotonic()
        try:
            while p.poll() is None:
                time.sleep(PERIOD)
                try:
                    r = reading(p.pid)
                except OSError:
                    break  # it has just ended
                r["t"] = time.monotonic() - start
                r["out"] = os.path.getsize(out_path)
                readings.append(r)
            err = p.communicate(timeout=30)[1].decode(errors="replace")
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert p.returncode == 0, "%s exited %s: %s" % (cmd, p.returncode, err)
    return readings


def definitions(data):
    """(offset, event, fields) of the STACK (pid), STRING (key, bytes) and
    FRAME (seven integers) events of a MOJO stream, the others skipped: a
    pass over a few megabytes in a fraction of the time mojo.events takes.
    (Signs are ignored: no field read here is negative.)"""
    def uint(i):
        b = data[i]
        v, shift, i = b & 0x3F, 6, i + 1
        while b & 0x80:
            b = data[i]
            v, shift, i = v | (b & 0x7F) << shift, shift + 7, i + 1
        return v, i

    def skip_int(i):
        while data[i] & 0x80:
            i += 1
        return i + 1

    def skip_str(i):
        return data.index(0, i) + 1

    one_int = (mojo.FRAME_REF, mojo.TIME, mojo.MEMORY, mojo.STRING_REF)
    _, i = uint(3)
    while i < len(data):
        start, ev, i = i, data[i], i + 1
        if ev == mojo.STACK:
            pid, i = uint(i)
            yield start, ev, pid
            i = skip_str(skip_int(i))
        elif ev == mojo.STRING:
            key, i = uint(i)
            end = data.index(0, i)
            yield start, ev, (key, data[i:end])
            i = end + 1
        elif ev == mojo.FRAME:
            fields = []
            for _ in range(7):
                v, i = uint(i)
                fields.append(v)
            yield start, ev, fields
        elif ev in one_int:
            i = skip_int(i)
        elif ev == mojo.METADATA:
            i = skip_str(skip_str(i))
        elif ev == mojo.KERNEL:
            i = skip_str(i)
        elif ev not in (mojo.INVALID, mojo.GC, mojo.IDLE):
            raise mojo.MojoError("unknown event %d at offset %d" % (ev, start))


def new_definition_bytes(data, from_offset):
    """What a writer that never forgets would have added for the
    definitions first written at or after from_offset (a writer that
    forgets writes the same ones again: only the first counts)."""
    seen, strings, added = set(), {}, 0
    pid = None
    for offset, ev, fields in definitions(data):
        if ev == mojo.STACK:
            pid = fields
            continue
        if ev == mojo.STRING:
            strings[(pid, fields[0])] = fields[1]
            what, cost = ("s", pid, fields[1]), STRING_COST + len(fields[1])
        else:
            names = (strings.get((pid, fields[1])), strings.get((pid, fields[2])))
            what, cost = ("f", pid, names, tuple(fields[3:])), FRAME_COST
        if what not in seen:
            seen.add(what)
            added += cost if offset >= from_offset else 0
    return added


def check_bounded(binary, flags, children, interp, procs, tmp_path):
    ids_host, ids_target = interp.side_file(tmp_path)
    target = procs.start(interp.command("target_resources.py", SECONDS + 30, ids_target,
                                        children))
    pid = wait_ids(ids_host, target)["pid"]
    out_path = str(tmp_path / "out.mojo")
    readings = run_watched([binary, "-b", "-i", "1ms", "-x", str(SECONDS)] + flags +
                           ["-p", str(pid)], out_path)
    assert len(readings) >= 20, "too few readings: %r" % readings
    # The first half warms up (symbol tables and debug files are opened as
    # first needed, caches fill); the second half is judged.
    half = readings[-1]["t"] / 2
    mid = next(r for r in readings if r["t"] >= half)
    second = [r for r in readings if r["t"] >= half]

    # Descriptors: no more in the second half than in the first, and as
    # many all along but for a few (a directory being scanned, -k: a
    # thread starting or just ended), however many threads and processes
    # came and went meanwhile.
    fds = [r["fds"] for r in readings]
    first_max = max(r["fds"] for r in readings if r["t"] < half)
    second_fds = [r["fds"] for r in second]
    assert max(second_fds) <= first_max + 2 and max(second_fds) - min(second_fds) <= 4, \
        "open descriptors grew: %r" % fds

    # Memory: the growth over the second half against what a writer that
    # kept every definition would have added meanwhile. Medians of five
    # readings: a child being discovered reads an interpreter's symbol
    # table, a passing spike of half a megabyte.
    at_mid = readings.index(mid)
    growth = (statistics.median(r["rss"] for r in readings[-5:]) -
              statistics.median(r["rss"] for r in readings[at_mid - 2:at_mid + 3]))
    with open(out_path, "rb") as f:
        data = f.read()
    leak = new_definition_bytes(data, mid["out"])
    assert leak >= 4 * MOJO_MAX_BYTES, \
        "the target made too few new frames for a leak to show (%d bytes)" % leak
    assert growth < leak, \
        "RSS grew by %d bytes over the second half; a writer that kept every definition " \
        "would have grown by %d: %r" % (growth, leak, [r["rss"] for r in readings])


# austin follows the target's children, which come and go (-C).
@pytest.mark.interpreters("pyenv-3.12", "sid-3.14")
def test_austin_children_bounded_memory_and_fds(austin_bin, interp, procs, tmp_path):
    check_bounded(austin_bin, ["-C"], 2, interp, procs, tmp_path)


# -k: a kernel stack file is kept open for each thread while it lives.
@pytest.mark.interpreters("pyenv-3.12")
def test_austinp_kernel_bounded_memory_and_fds(austinp_bin, interp, procs, tmp_path):
    check_bounded(austinp_bin, ["-k"], 0, interp, procs, tmp_path)
