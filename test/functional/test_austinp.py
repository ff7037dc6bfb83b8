"""austinp: native stacks with the Python frames woven in.  Every interpreter."""

import os
import re
import signal
import subprocess
import time

import pytest

from conftest import (
    assert_running_untraced, marks, proc_status, run_austin, wait_ids,
)

BUSY = "target_busy.py"

NATIVE_RE = re.compile(r"^native@0x([0-9a-f]+):([^:;]+):(\d+)$")
PY_RE = re.compile(r"^(.+):([^:]+):(\d+)$")
SAMPLE_RE = re.compile(r"^P(\d+);T(\d+):(\d+)((?:;[^;]+)*) (\d+)$")
MAP_RE = re.compile(r"^# map: ([0-9a-f]+)-([0-9a-f]+) (/.+|\[vdso\])$")
# Where native unwinding stopped (man/austinp.1): the Python frames stay.
STOP_RE = re.compile(r"^native:\[unwind stopped \(([a-z-]+)\)\]:0$")
STOP_FOOTER_RE = re.compile(r"^# unwind_stopped: ([a-z-]+=\d+(?:,[a-z-]+=\d+)*)$")

def run(argv, timeout=60):
    """austinp (argv[0]) with argv[1:]: its text output is also checked
    against the MOJO copy of the same run (conftest.run_austin)."""
    return run_austin([str(a) for a in argv[1:]], timeout=timeout, binary=str(argv[0]))


class Frame:
    def __init__(self, text):
        m = NATIVE_RE.match(text)
        self.native = m is not None
        if self.native:
            self.pc, self.name, self.line = int(m.group(1), 16), m.group(2), int(m.group(3))
            self.file = None
        else:
            m = PY_RE.match(text)
            assert m, "malformed frame %r" % text
            self.file, self.name, self.line = m.group(1), m.group(2), int(m.group(3))

    def __repr__(self):
        return ("native:%s" % self.name) if self.native else "%s:%d" % (self.name, self.line)


def parse(text):
    """Header, # map: lines, blank, samples, blank, footer: strictly."""
    lines = text.split("\n")
    assert lines[-1] == "", "no final newline"
    lines = lines[:-1]
    header = {}
    for i, key in enumerate(["austin", "interval", "mode", "python"]):
        m = re.match(r"^# (\w+): (.+)$", lines[i])
        assert m and m.group(1) == key, lines[i]
        header[key] = m.group(2)
    i = 4
    maps = []
    while lines[i].startswith("# map: "):
        m = MAP_RE.match(lines[i])
        assert m, "malformed map line %r" % lines[i]
        assert int(m.group(1), 16) < int(m.group(2), 16), lines[i]
        maps.append((int(m.group(1), 16), int(m.group(2), 16), m.group(3)))
        i += 1
    assert lines[i] == "", "no blank line after the header: %r" % lines[i]
    # The footer: Austin's four entries, after austinp's count of the
    # samples whose native unwind stopped short, when there are any.
    foot = 5
    if STOP_FOOTER_RE.match(lines[-5]):
        foot = 6
    assert lines[-foot] == "", lines[-foot]
    for j, key in enumerate(["duration", "sampling", "saturation", "errors"]):
        assert lines[-4 + j].startswith("# %s: " % key), lines[-4 + j]
    samples = []
    for line in lines[i + 1:-foot]:
        # Mappings that appear mid-run (modules imported) are announced
        # before the first sample that may name them.
        if line.startswith("# map: "):
            m = MAP_RE.match(line)
            assert m, "malformed map line %r" % line
            maps.append((int(m.group(1), 16), int(m.group(2), 16), m.group(3)))
            continue
        m = SAMPLE_RE.match(line)
        assert m, "malformed sample %r" % line
        raw = m.group(4)[1:].split(";") if m.group(4) else []
        invalid = bool(raw) and raw[-1] == ":INVALID:"
        if invalid:
            raw = raw[:-1]
        # A sample whose native unwind stopped short is not a woven stack:
        # counted with the invalid ones here.
        stopped = any(STOP_RE.match(f) for f in raw)
        raw = [f for f in raw if not STOP_RE.match(f)]
        samples.append((int(m.group(1)), int(m.group(3)), [Frame(f) for f in raw],
                        invalid or stopped))
    return header, maps, samples


def check_busy(interp, out, ids, path):
    header, maps, samples = parse(out)
    assert header["interval"] == "10000", header   # austinp's default: 10 ms
    assert header["python"] == interp.full_version, header
    assert maps, "no # map: lines"
    pid = ids["pid"]
    assert samples, "no samples"
    assert all(s[0] == pid for s in samples)
    # Every native pc lies in a mapping announced in the header.
    for _, _, frames, _ in samples:
        for f in frames:
            if f.native:
                assert any(lo <= f.pc < hi for lo, hi, _ in maps), \
                    "pc %#x outside every # map: line" % f.pc
    valid = [s for s in samples if not s[3]]
    invalid = [s for s in samples if s[3]]
    assert len(valid) >= 0.9 * len(samples), \
        "%d of %d samples invalid or unwoven; by thread %r; e.g.\n%s" % (
            len(invalid), len(samples),
            {t: sum(1 for s in invalid if s[1] == t) for t in {s[1] for s in invalid}},
            "\n".join(repr(s[2][-12:]) for s in invalid[:4]))

    mk = marks(BUSY)
    n = interp.name
    main = [s for s in valid if s[1] == ids["main"]]
    assert main, "no valid sample of the main thread"
    woven = 0
    for _, _, frames, _ in main:
        names = [f.name for f in frames]
        py = [(f.name, f.line) for f in frames if not f.native]
        # Native frames first (the process's entry), then the Python ones.
        assert frames[0].native, "stack does not start in native code: %r" % frames
        if py[:3] == [("<module>", mk["main_call"]), ("main", mk["run_busy_call"]),
                      ("run_busy", mk["crunch_call"])]:
            first_py = next(k for k, f in enumerate(frames) if not f.native)
            last_py = max(k for k, f in enumerate(frames) if not f.native)
            # The Python frames replace the evaluation loop: the only frame
            # of it left in a woven stack is a run caught entering or
            # leaving, below every Python frame; and the C call that runs
            # the first Python frames is right above them.
            assert not any(x.startswith("_PyEval_EvalFrameDefault")
                           for x in names[:last_py]), names
            assert frames[first_py - 1].native
            woven += 1
        if (n("Cruncher.crunch"), mk["inner_call"]) in py:
            # The generator runs in a run of its own, called from C (sum):
            # a native frame sits between run_busy and the generator.
            k = next(k for k, f in enumerate(frames) if f.name == "run_busy")
            g = next(k for k, f in enumerate(frames) if f.name == n("run_busy.<locals>.<genexpr>"))
            assert any(f.native for f in frames[k + 1:g]), \
                "no C frame between run_busy and its generator: %r" % frames
    assert woven >= 0.5 * len(main), "only %d of %d main-thread samples woven" % (woven, len(main))


def test_austinp_launch(austinp_bin, interp, tmp_path, request):
    host_ids, target_ids = interp.side_file(tmp_path)
    path = interp.target(BUSY)
    out = tmp_path / "out.austin"
    res = run([austinp_bin, "-x", 2, "-o", out] + interp.command(BUSY, 4, target_ids))
    assert res.returncode == 0, res.stderr
    # The ids file tells which thread is which.
    ids = wait_ids(host_ids, None, timeout=5)
    check_busy(interp, out.read_text(), ids, path)


def test_austinp_attach_leaves_target_running(austinp_bin, interp, procs, tmp_path, request):
    host_ids, target_ids = interp.side_file(tmp_path)
    path = interp.target(BUSY)
    proc = procs.start(interp.command(BUSY, 600, target_ids))
    ids = wait_ids(host_ids, proc)
    res = run([austinp_bin, "-x", 1, "-p", proc.pid])
    assert res.returncode == 0, res.stderr
    # The target first, on every build: running, and no thread traced.
    assert_running_untraced(proc)
    for tid in os.listdir("/proc/%d/task" % proc.pid):
        st = proc_status(int(tid))
        assert st["TracerPid"] == "0" and st["State"][0] not in "tT", (tid, st)
    check_busy(interp, res.stdout, ids, path)


@pytest.mark.parametrize("signo", [signal.SIGINT, signal.SIGTERM])
def test_austinp_signal_detaches(austinp_bin, any_interp, procs, tmp_path, signo):
    """A signal to austinp mid-run: it ends its output and the target runs on."""
    host_ids, target_ids = any_interp.side_file(tmp_path)
    proc = procs.start(any_interp.command(BUSY, 600, target_ids))
    wait_ids(host_ids, proc)
    ap = subprocess.Popen([austinp_bin, "-i", "1ms", "-p", str(proc.pid)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True)
    time.sleep(1.0)
    ap.send_signal(signo)
    out, err = ap.communicate(timeout=30)  # a hang fails, not a loaded machine
    # Austin 3.7's: minus the signal's number.
    assert ap.returncode == 256 - signo, (ap.returncode, err)
    assert "# errors: " in out.splitlines()[-1], out[-500:]
    time.sleep(0.2)
    assert_running_untraced(proc)
    for tid in os.listdir("/proc/%d/task" % proc.pid):
        st = proc_status(int(tid))
        assert st["TracerPid"] == "0" and st["State"][0] not in "tT", (tid, st)


def test_austinp_binary_full_sleepless(austinp_bin, any_interp, procs, tmp_path):
    """-b writes MOJO with the native frames and the # map: metadata; -f
    ends each sample with time, idle flag and memory delta, the sleeping
    thread idle."""
    import mojo
    host_ids, target_ids = any_interp.side_file(tmp_path)
    proc = procs.start(any_interp.command(BUSY, 600, target_ids))
    ids = wait_ids(host_ids, proc)
    out = tmp_path / "out.mojo"
    res = run([austinp_bin, "-b", "-x", 1, "-o", out, "-p", proc.pid])
    assert res.returncode == 0, res.stderr
    prof = mojo.decode(out.read_bytes())
    assert any(k == "map" for k, _ in prof.metadata), prof.metadata[:8]
    lines = prof.text_lines()
    # A sample that could not be unwound at all (seen once in a full suite
    # run at load 12) says so: its Python frames and the marker where
    # native unwinding stopped, or :INVALID: when it has nothing else;
    # every other carries native frames.
    bare = [l for l in lines if not re.search(r";native@0x[0-9a-f]+:", l)]
    assert lines and all(":INVALID:" in l or ";native:[unwind stopped (" in l
                         for l in bare), bare[:3]
    assert len(bare) <= 0.01 * len(lines), (len(bare), len(lines), bare[:3])

    res = run([austinp_bin, "-f", "-x", 1, "-p", proc.pid])
    assert res.returncode == 0, res.stderr
    idle = {}
    for line in res.stdout.splitlines():
        if not line.startswith("P"):
            continue
        m = re.search(r";T\d+:(\d+);.* (\d+),([01]),(-?\d+)$", line)
        assert m, "not a full-metrics sample: %r" % line[-200:]
        idle.setdefault(int(m.group(1)), []).append(m.group(3) == "1")
    sleeper, worker, main = (idle.get(ids[k], []) for k in ("sleeper", "worker", "main"))
    # The sleeper is in one sleep it never leaves, entered before the ids
    # were written: idle but in a round caught in the few instructions
    # before the call. The two busy threads take turns with the GIL, each
    # idle (waiting for it) about half of the time, a share no bound can
    # check; but each of them runs, so never idle in all its samples.
    assert sleeper and worker and main, idle.keys()
    assert sleeper.count(True) >= 0.9 * len(sleeper), (sleeper.count(False), len(sleeper))
    assert not all(worker) and not all(main), (sum(worker), len(worker), sum(main), len(main))

    # -s: the sleeping thread is left out, the busy ones stay.
    res = run([austinp_bin, "-s", "-x", 1, "-p", proc.pid])
    assert res.returncode == 0, res.stderr
    _, _, samples = parse(res.stdout)
    tids = [s[1] for s in samples]
    # Present, however few rounds a loaded machine allowed (each waits for
    # every thread to stop; each busy thread runs about half of the time).
    assert ids["worker"] in tids and ids["main"] in tids, set(tids)
    # Never runnable in its one sleep (see above): at most a sample or two.
    assert tids.count(ids["sleeper"]) <= 0.15 * len(tids), (tids.count(ids["sleeper"]), len(tids))
