"""Modes: -m (memory), -f (full), -g (GC), -b (MOJO), -P (pipe).

Every interpreter for the modes whose data comes from the interpreter or
the process (-m, -f, -g, -b); one for -P, which only concerns the output.
Text runs are also checked against their MOJO copy by run_austin."""

import json
import os
import re
import select
import signal
import subprocess
import time

import pytest

import mojo
from conftest import (
    ABSENT, AUSTIN, INTERPRETERS, marks, parse_profile, run_austin, wait_ids,
)

BUSY = "target_busy.py"
MEMORY = "target_memory.py"
GC = "target_gc.py"
COLUMNS = "target_columns.py"


def read_counts(path, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        assert time.monotonic() < deadline, "the target wrote no %s" % path
        time.sleep(0.02)
    with open(path) as f:
        counts = {k: int(v) for k, v in (line.split() for line in f)}
    os.unlink(path)
    return counts


def in_function(sample, path, function):
    return any(f[0] == path and f[1] == function for f in sample.frames)


# --------------------------------------------------------------------------
# -m


def test_memory(austin_bin, interp, tmp_path):
    """Resident memory deltas: positive where the target allocates, negative
    where it releases, of the size it allocates."""
    host_counts, target_counts = interp.side_file(tmp_path)
    path = interp.target(MEMORY)
    res = run_austin(["-m", "-i", "1ms", "-t", "5000"]
                     + interp.command(MEMORY, 2, target_counts), timeout=60)
    assert res.returncode == 0, res
    counts = read_counts(host_counts)
    prof = parse_profile(res.stdout)
    assert prof.header["mode"] == "memory", prof.header
    assert int(prof.header["memory"]) > 0, prof.header
    assert all(s.metric != 0 for s in prof.samples), "memory mode wrote a zero delta"

    size, allocs = counts["size"], counts["allocs"]
    assert allocs >= 3, counts
    grown = sum(s.metric for s in prof.samples if in_function(s, path, "allocate"))
    released = sum(s.metric for s in prof.samples if in_function(s, path, "release"))
    leaf_lines = {s.frames[-1][2] for s in prof.samples
                  if s.frames and in_function(s, path, "allocate")}
    assert marks(MEMORY)["alloc"] in leaf_lines, leaf_lines
    # Each cycle grows by size in allocate() and drops by size in release();
    # what a round misses shows in the next one.
    assert 0.5 * allocs * size <= grown <= 1.5 * allocs * size, (grown, counts)
    assert -1.5 * allocs * size <= released <= -0.5 * (allocs - 1) * size, (released, counts)
    biggest = max(abs(s.metric) for s in prof.samples)
    assert biggest <= 2 * size, "a delta of %d bytes for %d-byte blocks" % (biggest, size)


# --------------------------------------------------------------------------
# -f, and -m: idle flags; the delta goes to the thread holding the GIL


GIL = "target_gil.py"
GIL_CYCLES = 8
# A sample line of austin or austinp, memory (-m) or full (-f) metrics.
ANY_SAMPLE_RE = re.compile(r"^P\d+;T\d+:(\d+)((?:;[^;]+)*) (-?\d+)(?:,([01]),(-?\d+))?$")
PY_FRAME_RE = re.compile(r"^(.+):([^:]+):(\d+)$")


def memory_samples(text):
    """(tid, Python frames, idle or None, memory delta) of each sample line,
    austinp's native and kernel frames left out."""
    out = []
    for line in text.splitlines():
        if not line.startswith("P"):
            continue
        m = ANY_SAMPLE_RE.match(line)
        assert m, "malformed sample %r" % line[-300:]
        frames = [PY_FRAME_RE.match(f).groups() for f in (m.group(2) or ";")[1:].split(";")
                  if f and not f.startswith(("native@", "kernel:", ":"))]
        frames = [(f, n, int(l)) for f, n, l in frames]
        full = m.group(4) is not None
        out.append((int(m.group(1)), frames, m.group(4) == "1" if full else None,
                    int(m.group(5) if full else m.group(3))))
    return out


def run_alloc_line(frames, path):
    """The line of run_alloc (target_gil.py) in a stack, or None."""
    return next((f[2] for f in frames if f[0] == path and f[1] == "run_alloc"), None)


def check_gil_deltas(samples, ids, path, lines):
    """The deltas of target_gil.py go to the allocating thread (it holds
    the GIL), where it allocates and releases (lines); none to the threads
    running in C without the GIL."""
    size, cycles = ids["size"], GIL_CYCLES
    significant = size // 8
    mk = marks(GIL)
    cycle_lines = range(mk["alloc_call"], mk["released"] + 1)
    # From the first sample in the cycles to the last. Before, the threads
    # start and wait (the GIL is free at times: the delta goes to a thread
    # found running); after, the process exits and its memory goes.
    cycle = [i for i, (tid, frames, _, _) in enumerate(samples)
             if tid == ids["alloc"] and run_alloc_line(frames, path) in cycle_lines]
    assert cycle, "no sample of the allocating thread in its cycles (-m: no delta went to it)"
    during = samples[cycle[0]:cycle[-1] + 1]

    busy = [d for tid, _, _, d in during if tid in (ids["hash1"], ids["hash2"]) and d]
    assert not [d for d in busy if abs(d) >= significant], \
        "deltas of threads busy in C without the GIL: %r" % busy
    assert sum(abs(d) for d in busy) < size // 4, busy
    at = [(run_alloc_line(frames, path), d) for tid, frames, _, d in during
          if tid == ids["alloc"]]
    total = sum(abs(d) for _, _, _, d in during)
    assert sum(abs(d) for _, d in at) >= 0.9 * total, (at, total)
    # Each cycle grows by size and drops by size; what a round misses shows
    # in the next one. On a loaded machine the sampler may start late, or
    # miss a whole cycle in one late round (austinp's rounds, which wait for
    # each thread to stop, more so): at least one cycle is seen.
    grown = sum(d for _, d in at if d > 0)
    released = sum(d for _, d in at if d < 0)
    seen = "%d samples, %d in the cycles, of which %d of alloc: %r" % (
        len(samples), len(during), len(at), [x for x in at if x[1]])
    assert 0.9 * size <= grown <= 1.5 * cycles * size, (grown, seen)
    assert -1.5 * cycles * size <= released <= -0.9 * size, (released, seen)
    if not lines:
        return
    # Growth while allocating or holding the block, drops while releasing
    # it or just after.
    grown_at = sum(d for line, d in at if d > 0 and line in (mk["alloc_call"], mk["hold"]))
    released_at = sum(d for line, d in at
                      if d < 0 and line in (mk["release_call"], mk["released"]))
    biggest = sorted(at, key=lambda x: -abs(x[1]))[:20]
    assert grown_at >= 0.5 * grown, (grown_at, mk, biggest)
    assert released_at <= 0.5 * released, (released_at, mk, biggest)


def check_idle_flags(samples, ids, path):
    """-f's idle flag (Austin's: the thread is not in state R) where the
    target makes it certain: hash1 and hash2, inside their C call without
    the GIL, wait for nothing, so they are never idle there. (Two threads
    taking turns with one GIL would each be idle about half of the time, a
    share no bound can check: the target has none.) Only the cycles count:
    the process ends at os._exit, and its threads, dying one by one, can be
    read meanwhile. A round reads hash1 and hash2 before alloc (newest
    first), so every round up to alloc's last sample in its cycles read
    them before alloc ended the process. (The idle side: test_sleepless.)"""
    mk = marks(GIL)
    cycle_lines = range(mk["alloc_call"], mk["released"] + 1)
    cycle = [i for i, (tid, frames, _, _) in enumerate(samples)
             if tid == ids["alloc"] and run_alloc_line(frames, path) in cycle_lines]
    assert cycle, "no sample of the allocating thread in its cycles"
    during = samples[cycle[0]:cycle[-1] + 1]
    in_call = (path, "run_hash", mk["hash"])
    for name in ("hash1", "hash2"):
        seen = [idle for tid, frames, idle, _ in during
                if tid == ids[name] and frames and frames[-1] == in_call]
        # The premise of check_gil_deltas too: a rule that gave the delta
        # to the first thread found running would have given it to them.
        assert len(seen) >= 20, (name, len(seen))
        assert not any(seen), "%s, running C code, idle in %d of %d samples" % (
            name, sum(seen), len(seen))


def test_memory_gil_holder(austin_bin, interp, tmp_path):
    """-f: time, idle flag and memory delta on every sample, idle as the
    threads' states make certain; each round's memory delta goes to the
    thread holding the GIL, not to threads that the system shows running
    but that run C code without the GIL (Austin 3.7's rule), and never to
    an idle sample."""
    host_ids, target_ids = interp.side_file(tmp_path)
    path = interp.target(GIL)
    res = run_austin(["-f", "-i", "1ms", "-t", "5000"]
                     + interp.command(GIL, GIL_CYCLES, target_ids), timeout=60)
    assert res.returncode == 0, res
    ids = wait_ids(host_ids, None, timeout=5)
    prof = parse_profile(res.stdout)
    assert prof.header["mode"] == "full", prof.header
    for s in prof.samples:
        assert s.time is not None and s.time >= 0 and s.idle is not None, s
    samples = memory_samples(res.stdout)
    check_idle_flags(samples, ids, path)
    assert not [s for s in samples if s[2] and s[3]], "an idle sample took a memory delta"
    check_gil_deltas(samples, ids, path, lines=True)


@pytest.mark.parametrize("label", ["pyenv-3.12", "sid-3.14"])
def test_memory_gil_holder_austinp(austinp_bin, label, tmp_path):
    """austinp -m: the same rule, the GIL read while each thread is stopped.
    Where in its cycle the allocating thread was is not checked: austinp's
    rounds come late on a loaded machine (a thread stops only once it gets
    a CPU), and a stack caught in a system call is not always woven."""
    interp = INTERPRETERS.get(label)
    if interp is None:
        pytest.skip("interpreter %s absent: %s" % (label, ABSENT.get(label, "?")))
    host_ids, target_ids = interp.side_file(tmp_path)
    path = interp.target(GIL)
    res = run_austin(["-m", "-i", "2ms", "-t", "5000"]
                     + interp.command(GIL, GIL_CYCLES, target_ids),
                     timeout=60, binary=austinp_bin)
    assert res.returncode == 0, res
    ids = wait_ids(host_ids, None, timeout=5)
    samples = memory_samples(res.stdout)
    assert samples and all(d != 0 for _, _, _, d in samples), "memory mode wrote a zero delta"
    check_gil_deltas(samples, ids, path, lines=False)


# --------------------------------------------------------------------------
# -g


def test_gc(austin_bin, interp, tmp_path):
    """:GC: marks the samples taken while the collector runs, and only with -g."""
    path = interp.target(GC)
    res = run_austin(["-g", "-i", "1ms", "-t", "5000"] + interp.command(GC, 1.5), timeout=60)
    assert res.returncode == 0, res
    prof = parse_profile(res.stdout)
    gc_samples = [s for s in prof.samples if s.gc]
    assert len(gc_samples) >= 5, "%d samples with :GC: of %d" % (
        len(gc_samples), len(prof.samples))
    # The explicit collections are the longest: most marked samples are in them.
    collect_line = marks(GC)["collect"]
    in_collect = [s for s in gc_samples
                  if s.frames and s.frames[-1] == (path, "main", collect_line)]
    assert len(in_collect) >= 0.5 * len(gc_samples), (len(in_collect), len(gc_samples))

    res = run_austin(["-i", "1ms", "-t", "5000"] + interp.command(GC, 1), timeout=60)
    assert res.returncode == 0, res
    prof = parse_profile(res.stdout)
    assert not any(s.gc for s in prof.samples), "':GC:' without -g"
    assert "gc" not in prof.footer, "'# gc:' without -g: %r" % prof.footer
    assert any(s.frames and s.frames[-1] == (path, "main", collect_line)
               for s in prof.samples), "the collections were not sampled"


class GcSample:
    def __init__(self, gc, time):
        self.gc, self.time = gc, time


def check_gc_time(gc_us, samples):
    """Austin 3.7's "# gc:" is the sum of the time metrics of the written
    samples marked as taken during a collection, in microseconds."""
    assert gc_us == sum(s.time for s in samples if s.gc), (
        gc_us, sum(s.time for s in samples if s.gc))
    assert 0 < gc_us, "no time in the collector for a target that collects"


@pytest.mark.parametrize("tool", ["austin", "austinp"])
def test_gc_time_footer(austin_bin, austinp_bin, interp, tool):
    """-g: the footer gives the time spent in the collector ("# gc: <us>",
    after the duration), in text and in MOJO, as Austin 3.7 does."""
    binary = austinp_bin if tool == "austinp" else austin_bin
    res = run_austin(["-g", "-i", "1ms", "-t", "5000"] + interp.command(GC, 1.5),
                     timeout=60, binary=binary)
    assert res.returncode == 0, res
    tail = res.stdout.rstrip("\n").split("\n")[-7:]
    # austinp may say, before the duration, where native unwinds stopped
    # (man austinp): a metadata line of its own, not Austin's.
    tail = [t for t in tail if not t.startswith("# unwind_stopped: ")][-6:]
    assert tail[0] == "" and tail[1].startswith("# duration: "), tail
    assert re.fullmatch(r"# gc: \d+", tail[2]), tail
    if tool == "austin":
        assert parse_profile(res.stdout).footer["gc"] == tail[2][len("# gc: "):]
    # austinp's samples carry native frames (and its header maps): only
    # the marker and the metric matter here.
    samples = []
    for line in res.stdout.split("\n"):
        if line and not line.startswith("#"):
            stack, metric = line.rsplit(" ", 1)
            samples.append(GcSample(stack.endswith(";:GC:"), int(metric)))
    check_gc_time(int(tail[2][len("# gc: "):]), samples)

    res = subprocess.run([binary, "-b", "-g", "-i", "1ms", "-t", "5000"]
                         + [str(a) for a in interp.command(GC, 1.5)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=60)
    assert res.returncode == 0, res
    prof = mojo.decode(res.stdout)
    keys = [k for k, _ in prof.metadata]
    assert keys[-5:] == ["duration", "gc", "sampling", "saturation", "errors"], keys
    check_gc_time(int(prof.meta["gc"]), prof.samples)


# --------------------------------------------------------------------------
# -b


def run_mojo(args, timeout=60):
    res = subprocess.run([AUSTIN] + [str(a) for a in args], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    assert res.returncode == 0, res
    return mojo.decode(res.stdout)


def test_mojo_columns(austin_bin, interp, tmp_path):
    """A MOJO run of the busy target: the stacks of the text format, and
    column-level locations on 3.11+, none before."""
    host_ids, target_ids = interp.side_file(tmp_path)
    path = interp.target(BUSY)
    prof = run_mojo(["-b", "-i", "1ms", "-t", "5000"] + interp.command(BUSY, 1.5, target_ids))
    ids = wait_ids(host_ids, None, timeout=5)
    meta = prof.meta
    assert meta["austin"] == "3.7.0" and meta["mode"] == "wall", meta
    assert meta["python"] == interp.full_version, meta
    assert [k for k, _ in prof.metadata][-4:] == ["duration", "sampling", "saturation", "errors"]
    main = prof_of = [s for s in prof.samples if s.tid == ids["main"] and not s.invalid]
    assert prof_of, "no valid samples of the main thread"
    inner_line = marks(BUSY)["busy_inner"]
    leaves = [s.frames[-1] for s in main if s.frames and s.frames[-1].filename == path]
    at_inner = [f for f in leaves if f.line == inner_line]
    assert at_inner, "no sample at the busy line %d: %r" % (inner_line, leaves[:5])
    frames = [f for s in prof.samples for f in s.frames]
    if interp.version_info >= (3, 11):
        f = at_inner[0]
        with open(os.path.join(os.path.dirname(__file__), "..", "targets", BUSY)) as src:
            text = src.read().split("\n")[inner_line - 1]
        assert f.end_line == inner_line, f
        # "(x * x) % 1009" or a part of it: the columns (1-based, as
        # Austin 3.7 writes them) lie in the line.
        assert 1 < f.column < f.end_column <= len(text) + 1, (f, text)
        assert text[f.column - 1:f.end_column - 1].strip(), (f, text)
    else:
        assert all(f.end_line == f.column == f.end_column == 0 for f in frames), \
            [f for f in frames if f.column][:3]


def test_mojo_columns_truth(austin_bin, interp, tmp_path):
    """MOJO locations are Austin 3.7's: on 3.11+ each Python frame is at one
    of its code object's own co_positions() (read by the target itself),
    columns plus one (1-based), None written 0, with the real end line of
    a call that spans lines; before 3.11, no end line and no columns."""
    host, side = interp.side_file(tmp_path)
    path = interp.target(COLUMNS)
    prof = run_mojo(["-b", "-i", "1ms", "-t", "5000"] + interp.command(COLUMNS, 1.5, side))
    with open(host) as f:
        truth = json.load(f)
    call_line, leaf_line = marks(COLUMNS)["spread_call"], marks(COLUMNS)["combine"]
    frames = [f for s in prof.samples if not s.invalid for f in s.frames
              if f.filename == path and f.name in truth]
    assert frames, "no frame of %s" % path
    if interp.version_info < (3, 11):
        assert all(f.end_line == f.column == f.end_column == 0 for f in frames), \
            [f for f in frames if f.end_line or f.column or f.end_column][:3]
        return
    expected = {}
    for name, t in truth.items():
        expected[name] = {(l, el or 0, 0 if c is None else c + 1, 0 if ec is None else ec + 1)
                          for l, el, c, ec in t["positions"] if l is not None}
        # A frame caught before its first instruction, or at one without a
        # line, is written where its function starts (no columns).
        expected[name].add((t["first"], t["first"], 0, 0))
    for f in frames:
        assert (f.line, f.end_line, f.column, f.end_column) in expected[f.name], (
            f, sorted(p for p in expected[f.name] if p[0] == f.line))
    calls = [f for f in frames if f.name == "spread" and f.line == call_line]
    assert calls, "no sample of the call at line %d" % call_line
    # The call "combine(...)" spans four lines: its end is the ")" line.
    assert any(f.end_line == call_line + 3 and f.column > 1 for f in calls), calls[:3]
    assert any(f.line == leaf_line and f.column > 1 for f in frames if f.name == "combine")


@pytest.mark.parametrize("flags, mode", [
    (["-s"], "cpu"), (["-m"], "memory"), (["-f"], "full"), (["-g"], "wall"),
])
def test_mojo_modes(austin_bin, any_interp, tmp_path, flags, mode):
    """MOJO events in every mode: the metrics each mode asks for, in
    Austin's order, and flags only where they belong."""
    interp = any_interp
    target = GC if "-g" in flags else MEMORY
    host, side = interp.side_file(tmp_path)
    args = [target] + ([1] if target == GC else [1, side])
    prof = run_mojo(["-b"] + flags + ["-i", "1ms", "-t", "5000"] + interp.command(*args))
    assert prof.meta["mode"] == mode, prof.meta
    assert ("memory" in prof.meta) == (mode in ("memory", "full")), prof.meta
    assert prof.samples
    expected = {"wall": ["time"], "cpu": ["time"], "memory": ["memory"],
                "full": ["time", "memory"]}[mode]
    for s in prof.samples:
        metrics = [e for e in s.order if e in ("time", "memory")]
        assert metrics == expected, (s.order, mode)
        if s.idle:
            assert mode == "full" and s.order.index("idle") == s.order.index("time") + 1, s.order
        if s.gc:
            assert "-g" in flags and s.order.index("gc") < s.order.index(expected[0])
    if mode == "memory":
        assert all(s.memory != 0 for s in prof.samples)
    if mode == "cpu":
        assert not any(s.idle for s in prof.samples)
    if "-g" in flags:
        assert any(s.gc for s in prof.samples), "no GC event with -g"


# --------------------------------------------------------------------------
# -P


def test_pipe_live(austin_bin, any_interp, tmp_path):
    """With -P a reader gets the metadata and then samples while the run goes
    on (austin still running, its target having 60 s of work); without it
    they would wait in austin's buffer until the end."""
    interp = any_interp
    proc = subprocess.Popen([AUSTIN, "-P", "-i", "10ms", "-t", "5000"]
                            + interp.command(BUSY, 60), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        start = time.monotonic()
        lines = []
        fd = proc.stdout.fileno()
        buf = b""
        while not any(l.startswith(b"P") for l in lines):
            # A hang guard, far below the run's 60 s.
            assert time.monotonic() - start < 30, "no sample within 30 s: %r" % lines
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready:
                chunk = os.read(fd, 65536)
                assert chunk, "austin ended before a sample arrived: %r" % lines
                buf += chunk
                *done, buf = buf.split(b"\n")
                lines += done
        assert proc.poll() is None, "austin had ended already"
        first = lines.index(next(l for l in lines if l.startswith(b"P")))
        assert [l.split(b":")[0] for l in lines[:4]] == [
            b"# austin", b"# interval", b"# mode", b"# python"], lines[:6]
        assert lines[first - 1] == b"", lines[:first]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.communicate(timeout=30)


# --------------------------------------------------------------------------
# Sub-interpreters


def test_subinterpreters(austin_bin, interp, tmp_path):
    """Every interpreter of the process is sampled, each thread under its
    interpreter's id."""
    if interp.version_info < (3, 12):
        pytest.skip("running code in a sub-interpreter from Python needs 3.12+")
    host_ids, target_ids = interp.side_file(tmp_path)
    path = interp.target("target_subinterp.py")
    res = run_austin(["-i", "1ms", "-t", "5000"]
                     + interp.command("target_subinterp.py", 1.5, target_ids), timeout=60)
    assert res.returncode == 0, res
    ids = wait_ids(host_ids, None, timeout=5)
    prof = parse_profile(res.stdout)
    sub = [s for s in prof.samples if s.iid == ids["subiid"] and not s.invalid]
    assert sub, "no sample of interpreter %d: %r" % (ids["subiid"], {s.iid for s in prof.samples})
    # The code run by run_string is "<string>" ("<script>" from 3.14).
    assert any(s.frames and s.frames[-1][0] in ("<string>", "<script>")
               and s.frames[-1][1] == "sub_busy" for s in sub), \
        [s.line for s in sub[:5]]
    # The sub-interpreter's thread state belongs to one of the two threads
    # (3.12 runs the code in the state made by the creating thread).
    assert {s.tid for s in sub} <= {ids["main"], ids["sub"]}, {s.tid for s in sub}
    main = [s for s in prof.samples if s.iid == 0 and s.tid == ids["main"]]
    busy_line = marks("target_subinterp.py")["main_busy"]
    assert any(s.frames and s.frames[-1] == (path, "main_busy", busy_line) for s in main)
    assert not any(in_function(s, path, "main_busy") for s in sub)
