"""Sampling: launch, attach, -s, -x, -o, intervals.  Every interpreter."""

import os
import time

import pytest

from conftest import (
    TARGETS, assert_running_untraced, kill_pid, marks, parse_profile, run_austin, wait_ids,
)

BUSY = "target_busy.py"
WAIT = "target_wait.py"


def busy_stacks(interp, path):
    """Expected stack suffixes (file, function, line) per thread of target_busy."""
    mk = marks(BUSY)
    n = interp.name
    main = [
        (path, "<module>", mk["main_call"]),
        (path, "main", mk["run_busy_call"]),
        (path, "run_busy", mk["crunch_call"]),
        (path, n("run_busy.<locals>.<genexpr>"), mk["crunch_call"]),
        (path, n("Cruncher.crunch"), mk["inner_call"]),
        (path, n("make_inner.<locals>.inner"), mk["busy_inner"]),
    ]
    worker = [
        (path, n("Worker.run"), mk["worker_churn_call"]),
        (path, n("Worker.churn"), mk["worker_fn_call"]),
        (path, n("Worker.run.<locals>.<lambda>"), mk["worker_lambda"]),
    ]
    sleeper = [(path, "sleeper", mk["sleeper_sleep"])]
    return main, worker, sleeper


def check_common(prof, interp, pid, interval, mode):
    assert prof.header["interval"] == str(interval), prof.header
    assert prof.header["mode"] == mode, prof.header
    assert prof.header["python"] == interp.full_version, prof.header
    assert prof.samples, "no samples"
    for s in prof.samples:
        assert s.pid == pid, "sample of pid %d, target is %d: %r" % (s.pid, pid, s)
        assert s.iid == 0, "interpreter id %d for the only interpreter: %r" % (s.iid, s)
    invalid = sum(s.invalid for s in prof.samples)
    assert invalid <= 0.05 * len(prof.samples), \
        "%d of %d samples invalid" % (invalid, len(prof.samples))


def check_busy_profile(prof, interp, ids, path, interval, mode="wall"):
    pid = ids["pid"]
    check_common(prof, interp, pid, interval, mode)
    assert ids["main"] == pid
    tids = {ids["main"], ids["worker"], ids["sleeper"]}
    main, worker, sleeper = busy_stacks(interp, path)
    for name, tid, suffix in (("main", ids["main"], main), ("worker", ids["worker"], worker),
                              ("sleeper", ids["sleeper"], sleeper)):
        if mode == "cpu" and name == "sleeper":
            continue
        assert prof.of(tid), "no samples for thread %s (tid %d)" % (name, tid)
        assert prof.has_stack_suffix(tid, suffix), \
            "thread %s (tid %d): no sample ends with\n  %s\nmost common stacks:\n%s" % (
                name, tid, ";".join("%s:%s:%d" % f for f in suffix), prof.describe(tid))
    # The main thread's stack is complete: nothing above <module>.
    assert prof.has_stack(ids["main"], main), \
        "main thread: no sample with exactly the full stack\n  %s\nmost common stacks:\n%s" % (
            ";".join("%s:%s:%d" % f for f in main), prof.describe(ids["main"]))
    # Thread identity last: the tid of every sample is a thread of the target.
    assert prof.threads() <= tids, "unknown thread ids %s (target threads %s):\n%s" % (
        prof.threads() - tids, tids,
        "\n".join([s.line for s in prof.samples if s.tid not in tids][:5]))


def unrooted_samples(prof, ids, path, interp):
    """Valid samples whose stack does not start where the thread starts
    (main thread at the target's <module>, other threads at threading's
    Thread._bootstrap), or with a frame of the target on a line that is not in
    the file (such as 0).  Start-up samples outside the target's code are not
    considered."""
    bad = []
    with open(os.path.join(TARGETS, BUSY)) as f:
        nlines = len(f.readlines())
    boot = interp.name("Thread._bootstrap")
    for s in prof.samples:
        if s.invalid or not any(f[0] == path for f in s.frames):
            continue
        if s.tid == ids["main"]:
            ok = s.frames[0][:2] == (path, "<module>")
        else:
            ok = s.frames[0][0].endswith("threading.py") and s.frames[0][1] == boot
        # Every frame of the target's own code is on a line of the file.
        ok = ok and all(1 <= f[2] <= nlines for f in s.frames if f[0] == path)
        if not ok:
            bad.append(s)
    return bad


def cleanup_launched(host_ids, ids):
    """Kill a target launched by austin if it outlived the test."""
    if ids is None and os.path.exists(host_ids):
        ids = wait_ids(host_ids, None, timeout=1)
    if ids is not None:
        kill_pid(ids["pid"], BUSY)
    if os.path.exists(host_ids):
        os.unlink(host_ids)


def test_launch(austin_bin, interp, procs, tmp_path):
    host_ids, target_ids = interp.side_file(tmp_path)
    path = interp.target(BUSY)
    ids = None
    try:
        res = run_austin(["-i", "1ms", "-t", "5000"] + interp.command(BUSY, 2, target_ids),
                         timeout=60)
        assert res.returncode == 0, res
        assert os.path.exists(host_ids), "the target did not run to the ids file: %r" % res
        ids = wait_ids(host_ids, None, timeout=1)
        prof = parse_profile(res.stdout)
        check_busy_profile(prof, interp, ids, path, 1000)
        # The target ran 2 s; austin sampled it all along (and the whole
        # run of austin, its start-up included, took longer still).
        duration = int(prof.footer["duration"])
        assert 1.5e6 <= duration <= res.elapsed * 1e6, (prof.footer, res.elapsed)
    finally:
        cleanup_launched(host_ids, ids)


def test_launch_exposure(austin_bin, interp, tmp_path):
    """-x stops sampling a launched target before it ends: austin is done
    (and ends the target) after sampling 1 s of its 60 s of work."""
    host_ids, target_ids = interp.side_file(tmp_path)
    path = interp.target(BUSY)
    ids = None
    try:
        res = run_austin(["-i", "1ms", "-t", "5000", "-x", "1"]
                         + interp.command(BUSY, 60, target_ids), timeout=50)
        assert res.returncode == 0, res
        assert os.path.exists(host_ids), res
        ids = wait_ids(host_ids, None, timeout=1)
        prof = parse_profile(res.stdout)
        check_busy_profile(prof, interp, ids, path, 1000)
        duration = int(prof.footer["duration"])
        assert 1e6 <= duration <= res.elapsed * 1e6, (prof.footer, res.elapsed)
    finally:
        cleanup_launched(host_ids, ids)


def test_attach(austin_bin, interp, procs, tmp_path):
    host_ids, target_ids = interp.side_file(tmp_path)
    path = interp.target(BUSY)
    proc = procs.start(interp.command(BUSY, 6, target_ids))
    ids = wait_ids(host_ids, proc)
    assert ids["pid"] == proc.pid
    tasks = {int(t) for t in os.listdir("/proc/%d/task" % proc.pid)}
    assert {ids["main"], ids["worker"], ids["sleeper"]} <= tasks, (ids, tasks)
    res = run_austin(["-p", proc.pid, "-i", "1ms", "-x", "1"], timeout=30)
    assert res.returncode == 0, res
    prof = parse_profile(res.stdout)
    check_busy_profile(prof, interp, ids, path, 1000)
    assert_running_untraced(proc)


def test_stacks_complete(austin_bin, interp, procs, tmp_path):
    """A valid sample has the whole stack: a stack read while the target
    changes it (e.g. a generator suspending) must come out :INVALID:, not
    truncated."""
    host_ids, target_ids = interp.side_file(tmp_path)
    path = interp.target(BUSY)
    proc = procs.start(interp.command(BUSY, 6, target_ids))
    ids = wait_ids(host_ids, proc)
    res = run_austin(["-p", proc.pid, "-i", "1ms", "-x", "2"], timeout=30)
    assert res.returncode == 0, res
    prof = parse_profile(res.stdout)
    bad = unrooted_samples(prof, ids, path, interp)
    assert not bad, "%d of %d samples are truncated or inconsistent but not marked invalid, e.g.:\n%s" % (
        len(bad), len(prof.samples), "\n".join(s.line for s in bad[:8]))


def test_sleepless(austin_bin, interp, procs, tmp_path):
    host_ids, target_ids = interp.side_file(tmp_path)
    path = interp.target(BUSY)
    proc = procs.start(interp.command(BUSY, 8, target_ids))
    ids = wait_ids(host_ids, proc)
    sleeper = ids["sleeper"]

    # -f: every thread in every round (one line each: the sleeper's are a
    # third), each with its idle flag (Austin's: not in state R). The
    # sleeper is in one sleep that it never leaves, entered before the
    # ids were written: never runnable, so idle in its samples but those
    # of a round caught in the few instructions before the call (a share
    # no load can raise). The busy threads take turns with the GIL, each
    # idle about half of the time while it waits, a share no bound can
    # check; but each of them runs, and a sampler that called them idle
    # always would be wrong.
    res = run_austin(["-f", "-p", proc.pid, "-i", "1ms", "-x", "1"], timeout=30)
    assert res.returncode == 0, res
    full = parse_profile(res.stdout)
    check_busy_profile(full, interp, ids, path, 1000, mode="full")
    share = len(full.of(sleeper)) / len(full.samples)
    assert share >= 0.25, "-f: sleeping thread in %.1f%% of sample lines" % (100 * share)
    asleep = [s.idle for s in full.of(sleeper)]
    assert asleep.count(True) >= 0.9 * len(asleep), \
        "-f: the sleeper running in %d of its %d samples" % (asleep.count(False), len(asleep))
    for name in ("main", "worker"):
        busy = [s.idle for s in full.of(ids[name])]
        assert not all(busy), "-f: %s idle in all its %d samples" % (name, len(busy))
    assert all(s.memory == 0 for s in full.samples if s.idle), "an idle sample took a delta"

    res = run_austin(["-s", "-p", proc.pid, "-i", "1ms", "-x", "1"], timeout=30)
    assert res.returncode == 0, res
    cpu = parse_profile(res.stdout)
    check_busy_profile(cpu, interp, ids, path, 1000, mode="cpu")
    share = len(cpu.of(sleeper)) / len(cpu.samples)
    # The sleeper is idle but for the few instructions before its one
    # sleep (see above): at most a sample or two, against a third without -s.
    assert share < 0.15, "-s: sleeping thread in %.1f%% of %d sample lines:\n%s" % (
        100 * share, len(cpu.samples), cpu.describe(sleeper))
    assert_running_untraced(proc)


def wait_stack(interp, path):
    mk = marks(WAIT)
    return [
        (path, "<module>", mk["main_call"]),
        (path, "main", mk["wait_call"]),
        (path, "wait_for", mk["wait_select"]),
    ]


def start_wait(interp, procs, seconds=30):
    proc = procs.start(interp.command(WAIT, seconds), stdout=__import__("subprocess").PIPE)
    line = proc.stdout.readline().decode()
    assert line.strip() == str(proc.pid), "target_wait printed %r, pid is %d: %s" % (
        line, proc.pid, proc.stderr.read1(4096) if proc.poll() is not None else "")
    time.sleep(0.1)  # let it reach the wait loop
    return proc


def test_attach_exposure(austin_bin, interp, procs):
    """austin -x N -p PID exits after sampling N seconds, while the target
    (30 s of waiting) keeps running."""
    path = interp.target(WAIT)
    proc = start_wait(interp, procs)
    res = run_austin(["-x", "1", "-i", "10ms", "-p", proc.pid], timeout=25)
    assert res.returncode == 0, res
    assert proc.poll() is None, "the target ended before austin"
    prof = parse_profile(res.stdout)
    check_common(prof, interp, proc.pid, 10000, "wall")
    duration = int(prof.footer["duration"])
    assert 1e6 <= duration <= res.elapsed * 1e6, (prof.footer, res.elapsed)
    assert prof.threads() == {proc.pid}, prof.threads()
    assert prof.has_stack(proc.pid, wait_stack(interp, path)), prof.describe(proc.pid)
    assert_running_untraced(proc)


def test_output_file(austin_bin, interp, procs, tmp_path):
    path = interp.target(WAIT)
    proc = start_wait(interp, procs)
    out = tmp_path / "profile.austin"
    res = run_austin(["-x", "1", "-i", "10ms", "-o", out, "-p", proc.pid], timeout=30)
    assert res.returncode == 0, res
    assert res.stdout == "", "stdout not empty with -o: %r" % res.stdout[:500]
    prof = parse_profile(out.read_text())
    check_common(prof, interp, proc.pid, 10000, "wall")
    assert prof.has_stack(proc.pid, wait_stack(interp, path)), prof.describe(proc.pid)
    assert_running_untraced(proc)


def test_default_interval(austin_bin, interp, procs):
    path = interp.target(WAIT)
    proc = start_wait(interp, procs)
    res = run_austin(["-x", "1", "-p", proc.pid], timeout=30)
    assert res.returncode == 0, res
    prof = parse_profile(res.stdout)
    check_common(prof, interp, proc.pid, 100, "wall")
    assert prof.has_stack(proc.pid, wait_stack(interp, path)), prof.describe(proc.pid)
    # 100 us nominal: even a slow machine takes well over 10 samples a second.
    assert len(prof.samples) >= 50, len(prof.samples)
    assert_running_untraced(proc)


@pytest.mark.parametrize("args,interval", [
    (["-i", "1ms"], 1000),
    (["-i1ms"], 1000),
    (["--interval=500us"], 500),
    (["--interval", "2000"], 2000),
    (["-i", "1s"], 1000000),
])
def test_interval_forms(austin_bin, any_interp, procs, args, interval):
    """Interval units and option spellings (one interpreter is enough)."""
    interp = any_interp
    proc = start_wait(interp, procs)
    res = run_austin(args + ["-x", "1", "-t", "1s", "-p", proc.pid], timeout=30)
    assert res.returncode == 0, res
    prof = parse_profile(res.stdout)
    assert prof.header["interval"] == str(interval), prof.header
    assert_running_untraced(proc)
