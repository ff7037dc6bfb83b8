"""austinp in the vDSO: a loop over time.monotonic(), time.time() and
time.perf_counter() spends much of its time in the kernel's vDSO
(clock_gettime), which is no file: austinp reads its image from the
target's memory, unwinds through it and names its functions.  The names
are checked against the truth: the image read here from the target's own
memory (/proc/PID/mem), its symbols by nm and its FDEs by readelf.  Every
interpreter."""

import os
import re
import subprocess
import time

import pytest

from conftest import marks, wait_ids
from test_austinp import parse, run
from test_resolve import need_tools, resolve_bin  # noqa: F401 (a fixture)
from test_where_native import where

CLOCK = "target_clock.py"
CLOCKS = ("monotonic", "wall", "perf")
# The figure: samples that are invalid, or whose native unwind
# stopped short, are fewer than 0.3% of all.
BAD_SHARE = 0.003
# Enough samples that the bound allows a few: runs of 3 s at 1 ms (about
# 2000 samples each on this machine) until there are this many, so that a
# loaded machine takes longer rather than failing.
MIN_SAMPLES = 1000
MAX_RUNS = 5


class VdsoTruth:
    """The target's vDSO image, as nm and readelf read it."""

    def __init__(self, pid, tmp_path):
        with open("/proc/%d/maps" % pid) as f:
            lo, hi = next((int(a, 16), int(b, 16)) for a, b in
                          (l.split()[0].split("-") for l in f if l.rstrip().endswith("[vdso]")))
        with open("/proc/%d/mem" % pid, "rb") as f:
            f.seek(lo)
            image = f.read(hi - lo)
        path = str(tmp_path / "vdso.so")
        with open(path, "wb") as f:
            f.write(image)
        self.lo, self.hi = lo, hi
        out = subprocess.run(["readelf", "-lW", path], stdout=subprocess.PIPE,
                             universal_newlines=True, check=True).stdout
        load = next(l.split() for l in out.splitlines() if l.split()[:1] == ["LOAD"])
        self.link_base = int(load[2], 16) - int(load[1], 16)   # VirtAddr - Offset
        out = subprocess.run(["nm", "-D", "-S", "--defined-only", path], stdout=subprocess.PIPE,
                             universal_newlines=True, check=True).stdout
        self.syms = []
        for l in out.splitlines():
            f = l.split()
            if len(f) == 4 and f[2] in "TtWw":
                self.syms.append((int(f[0], 16), int(f[1], 16), f[3].split("@")[0]))
        out = subprocess.run(["readelf", "--debug-dump=frames", path], stdout=subprocess.PIPE,
                             universal_newlines=True, check=True).stdout
        self.fdes = [(int(a, 16), int(b, 16)) for a, b in
                     re.findall(r"FDE cie=\w+ pc=([0-9a-f]+)\.\.([0-9a-f]+)", out)]
        assert self.syms and self.fdes, "no symbols or FDEs in the vDSO image"

    def names(self, pc, leaf):
        """The true names of the function holding pc (a return address
        unless leaf), and pc's offset in it: symbols first, else the FDE."""
        link = pc - self.lo + self.link_base - (0 if leaf else 1)
        found = [(n, link - a) for a, s, n in self.syms if a <= link < a + s]
        if found:
            return {n for n, _ in found}, found[0][1] + (0 if leaf else 1)
        start = next(a for a, b in self.fdes if a <= link < b)
        return {"[vdso]+0x%x" % (start - self.link_base)}, link - start + (0 if leaf else 1)


def clock_profiles(austinp_bin, interp, procs, tmp_path):
    """Runs of 3 s over the clock loop until MIN_SAMPLES: (truth, [(profile
    path, text, maps, samples)])."""
    host_ids, target_ids = interp.side_file(tmp_path)
    proc = procs.start(interp.command(CLOCK, 3 * MAX_RUNS + 30, target_ids))
    ids = wait_ids(host_ids, proc)
    truth = VdsoTruth(ids["pid"], tmp_path)
    runs = []
    while len(runs) < MAX_RUNS and sum(len(r[3]) for r in runs) < MIN_SAMPLES:
        out = tmp_path / ("out-%d.austin" % len(runs))
        res = run([austinp_bin, "-i", "1ms", "-x", 3, "-o", out, "-p", ids["pid"]])
        assert res.returncode == 0, res.stderr
        text = out.read_text()
        _, maps, samples = parse(text)
        runs.append((out, text, maps, samples))
    return truth, runs


def test_clock_loop_unwinds_through_vdso(austinp_bin, resolve_bin, interp, procs, tmp_path):
    need_tools("nm", "readelf")
    truth, runs = clock_profiles(austinp_bin, interp, procs, tmp_path)
    for _, _, maps, _ in runs:
        vdso = [(lo, hi) for lo, hi, path in maps if path == "[vdso]"]
        assert vdso == [(truth.lo, truth.hi)], "the [vdso] map line: %r" % vdso
    samples = [s for r in runs for s in r[3]]

    n = len(samples)
    bad = [s for s in samples if s[3]]
    assert n >= MIN_SAMPLES, "only %d samples" % n
    assert len(bad) <= BAD_SHARE * n, "%d of %d samples invalid or stopped short, e.g. %r" % (
        len(bad), n, [s[2][-6:] for s in bad[:3]])

    mk = marks(CLOCK)
    path = interp.target(CLOCK)
    in_vdso, leaves, by_clock = 0, 0, set()
    for _, _, frames, invalid in samples:
        here = [k for k, f in enumerate(frames) if f.native and truth.lo <= f.pc < truth.hi]
        if not here or invalid:   # the invalid ones are bounded above
            continue
        in_vdso += 1
        for k in here:
            leaf = k == len(frames) - 1
            names, offset = truth.names(frames[k].pc, leaf)
            assert frames[k].name in names and frames[k].line == offset, \
                "vDSO frame %#x named %s+%d, truly %s+%d" % (
                    frames[k].pc, frames[k].name, frames[k].line, names, offset)
        # The vDSO is the leaf end of the stack: nothing but vDSO below it.
        assert here == list(range(here[0], len(frames))), frames
        leaves += 1
        # The Python frames that called the clock are all there, woven.
        py = [(f.file, f.name, f.line) for f in frames if not f.native]
        # <module>, main, then the clock function at its clock's line; or
        # main's own loop condition (a time.monotonic() too).
        calls = {mk["monotonic_call"], mk["time_call"], mk["perf_counter_call"]}
        clocks = {(path, "monotonic", mk["monotonic"]), (path, "wall", mk["time"]),
                  (path, "perf", mk["perf_counter"])}
        assert py[0] == (path, "<module>", mk["main_call"]), py
        assert py[1:] == [(path, "main", mk["loop"])] or (
            len(py) == 3 and py[1][:2] == (path, "main") and py[1][2] in calls
            and py[2] in clocks), py
        by_clock.add(py[-1][1])
    assert in_vdso > 0, "no sample in the vDSO"
    # Each clock goes through the vDSO (by its share of the loop, each is
    # in hundreds of samples: none can be missing).
    assert by_clock >= set(CLOCKS), by_clock

    # austinp-resolve leaves the vDSO's frames as austinp named them.
    raw, text = runs[0][0], runs[0][1]
    res = subprocess.run([resolve_bin, str(raw)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         universal_newlines=True, timeout=120)
    assert res.returncode == 0, res.stderr
    vd = re.compile(r"native@0x([0-9a-f]+):[^;]+:\d+")
    raw_frames = [m.group(0) for m in vd.finditer(text) if truth.lo <= int(m.group(1), 16) < truth.hi]
    res_frames = [m.group(0) for m in vd.finditer(res.stdout)
                  if truth.lo <= int(m.group(1), 16) < truth.hi]
    assert raw_frames and res_frames == raw_frames, (raw_frames[:3], res_frames[:3])


def test_clock_loop_binary(austinp_bin, any_interp, procs, tmp_path):
    """-b: the same vDSO frames in MOJO, and its [vdso] map metadata."""
    import mojo
    host_ids, target_ids = any_interp.side_file(tmp_path)
    proc = procs.start(any_interp.command(CLOCK, 30, target_ids))
    ids = wait_ids(host_ids, proc)
    out = tmp_path / "out.mojo"
    res = run([austinp_bin, "-b", "-i", "1ms", "-x", 2, "-o", out, "-p", ids["pid"]])
    assert res.returncode == 0, res.stderr
    prof = mojo.decode(out.read_bytes())
    vdso = [tuple(int(x, 16) for x in v.split()[0].split("-"))
            for k, v in prof.metadata if k == "map" and v.endswith(" [vdso]")]
    assert len(vdso) == 1, prof.metadata[:8]
    lo, hi = vdso[0]
    lines = prof.text_lines()
    named = [m.group(2) for l in lines for m in re.finditer(r";native@0x([0-9a-f]+):([^;:]+):\d+", l)
             if lo <= int(m.group(1), 16) < hi]
    assert named and "??" not in named, named[:20]
    bad = [l for l in lines if ":INVALID:" in l or ";native:[unwind stopped (" in l]
    assert len(bad) <= BAD_SHARE * len(lines), (len(bad), len(lines), bad[:3])


def test_where_names_vdso_frames(austinp_bin, any_interp, procs, tmp_path):
    """-w: a thread caught in the vDSO shows its functions, named as the
    image says, under the Python frames that called the clock. The thread
    is there a third of its time or more: forty tries cannot all miss."""
    need_tools("nm", "readelf")
    host_ids, target_ids = any_interp.side_file(tmp_path)
    proc = procs.start(any_interp.command(CLOCK, 60, target_ids))
    ids = wait_ids(host_ids, proc)
    truth = VdsoTruth(ids["pid"], tmp_path)
    every = {n for _, _, n in truth.syms} | {"[vdso]+0x%x" % (a - truth.link_base)
                                            for a, _ in truth.fdes}
    for _ in range(40):
        threads = where(austinp_bin, ids["pid"])
        _, _, frames = threads[ids["main"]]
        vd = [f for f in frames if f[0] == "c" and f[2] == "[vdso]"]
        if vd:
            break
    else:
        pytest.fail("the thread was never caught in the vDSO in 40 tries")
    for f in vd:
        name, _, off = f[1].rpartition("+0x")
        assert name in every and int(off, 16) >= 0, (f, every)
    k = frames.index(vd[0])
    assert [f for f in frames[k:] if f[0] != "c" or f[2] != "[vdso]"] == [], frames
    assert any(f[0] == "py" and f[1] in CLOCKS + ("main",) for f in frames[:k]), frames
