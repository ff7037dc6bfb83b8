"""austinp on real native code: a C extension built for each interpreter,
C code of the standard library, signal storms and targets that exit while
they are sampled.  Every interpreter."""

import os
import random
import signal
import subprocess
import threading
import time

import pytest

from conftest import (ROOT_TARGET_DIR, SRCDIR, STOPPED_BY_SIGINT, check_mojo_copy, kill_pid, marks, proc_status,
                      wait_ids)
from test_austinp import parse, run

BUILD_EXT = os.path.join(SRCDIR, "test", "ext", "build-ext")
EXT_TARGET = "target_ext.py"
EXT_FUNCTIONS = {"ext_spin", "ext_spin_loop", "ext_call_back", "ext_call_loop"}

_EXT_DIRS = {}


def ext_dir(interp, tmp_path_factory):
    """test/ext/pyaustin_ext.c built for this interpreter (once a session),
    with its own headers (and, for a Debian root, its own gcc): the
    directory as the target sees it."""
    if interp.label not in _EXT_DIRS:
        if interp.root is None:
            out = str(tmp_path_factory.mktemp("ext-" + interp.label))
        else:
            out = "%s/ext-%s-%d" % (ROOT_TARGET_DIR, interp.label, os.getpid())
        p = subprocess.run([BUILD_EXT, " ".join(interp.argv), out], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
        assert p.returncode == 0, "building the test extension failed:\n" + p.stderr
        _EXT_DIRS[interp.label] = out
    return _EXT_DIRS[interp.label]


def run_until(austinp_bin, args, interp, target, target_args, tmp_path, enough, cap=120):
    """Launch target under austinp (no -x) until its output holds enough
    samples, then end the run with SIGINT (austinp writes its footer, lets
    the target go; the test ends it). A run of fixed length gives a loaded
    machine fewer rounds (each waits for every thread to stop): the count
    the test needs is waited for instead, `cap` seconds at most.
    enough(text, ids) judges the output so far. target_args: the target's
    arguments, "IDS" standing for its ids file. Returns (text, ids); the
    MOJO copy of the run is checked as run_austin does."""
    host_ids, target_ids = interp.side_file(tmp_path)
    out, copy = tmp_path / "out.austin", tmp_path / "copy.mojo"
    env = dict(os.environ, PYAUSTIN_MOJO_COPY=str(copy))
    ap = subprocess.Popen([austinp_bin] + [str(a) for a in args] + ["-o", str(out)]
                          + interp.command(target, *[target_ids if a == "IDS" else a
                                                     for a in target_args]),
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, env=env)
    ids = None
    try:
        deadline = time.monotonic() + cap
        while True:
            assert ap.poll() is None, "austinp ended (%s) before enough samples: %s" % (
                ap.returncode, ap.stderr.read().decode(errors="replace"))
            if ids is None and os.path.exists(host_ids):
                ids = wait_ids(host_ids, None, timeout=1)
            if ids is not None and out.exists() and enough(out.read_text(errors="replace"), ids):
                break
            assert time.monotonic() < deadline, "not enough samples in %d s" % cap
            time.sleep(0.2)
        ap.send_signal(signal.SIGINT)
        err = ap.communicate(timeout=30)[1].decode(errors="replace")
        assert ap.returncode == STOPPED_BY_SIGINT, err
        text = out.read_text()
        check_mojo_copy(text, str(copy))
        return text, ids
    finally:
        if ap.poll() is None:
            ap.kill()
            ap.wait()
        if ids is not None:
            kill_pid(ids["pid"], target)


def count_lines(text, tid, *parts):
    """Sample lines (P<pid>;T<iid>:<tid>;...) of thread tid that contain one
    of parts."""
    n = 0
    for line in text.splitlines():
        head = line.split(";", 2)
        if (line.startswith("P") and len(head) == 3 and head[1].endswith(":%d" % tid)
                and any(p in line for p in parts)):
            n += 1
    return n


def main_samples(out, ids):
    header, maps, samples = parse(out)
    mine = [s for s in samples if s[1] == ids["main"]]
    assert mine, "no sample of the main thread"
    return maps, mine


def index_of(frames, pred, start=0):
    return next((k for k in range(start, len(frames)) if pred(frames[k])), None)


def test_extension_frames_under_python_caller(austinp_bin, interp, tmp_path, tmp_path_factory):
    """C frames of the extension sit under the Python function that called
    it, and a callback reads Python, C, Python."""
    ext = ext_dir(interp, tmp_path_factory)

    def enough(text, ids):
        return (count_lines(text, ids["main"], *(":%s:" % f for f in EXT_FUNCTIONS)) >= 150
                and count_lines(text, ids["main"], ":leaf:") >= 15)
    text, ids = run_until(austinp_bin, ["-i", "5ms"], interp, EXT_TARGET, [600, "IDS", ext],
                          tmp_path, enough)
    maps, samples = main_samples(text, ids)
    assert any(path.endswith(".so") and "pyaustin_ext" in path for _, _, path in maps), \
        "no # map: line for the extension (imported after the start)"
    mk = marks(EXT_TARGET)

    inside, good, bad = 0, 0, []
    callbacks, cb_good, cb_bad = 0, 0, []
    for _, _, frames, invalid in samples:
        k = index_of(frames, lambda f: f.native and f.name in EXT_FUNCTIONS)
        if k is None:
            continue
        inside += 1
        # The nearest Python frame rootward of the C frames: the caller.
        py = [f for f in frames[:k] if not f.native]
        caller = (py[-1].name, py[-1].line) if py else None
        if not invalid and caller in (("hot", mk["spin_call"]),
                                      ("with_callback", mk["call_back_call"])):
            good += 1
        else:
            bad.append(frames)
        leaf = index_of(frames, lambda f: not f.native and f.name == "leaf")
        if leaf is None:
            continue
        callbacks += 1
        w = index_of(frames, lambda f: not f.native and f.name == "with_callback")
        c = index_of(frames, lambda f: f.native and f.name == "ext_call_loop")
        if not invalid and w is not None and c is not None and w < c < leaf:
            cb_good += 1
        else:
            cb_bad.append(frames)
    assert inside >= 100, "only %d samples inside the extension" % inside
    assert good >= 0.99 * inside, "%d of %d extension samples without their Python caller:\n%s" % (
        len(bad), inside, "\n".join(repr(f[-14:]) for f in bad[:5]))
    assert callbacks >= 10, "only %d samples in the Python callback" % callbacks
    assert cb_good >= 0.99 * callbacks, "%d of %d callback samples not Python, C, Python:\n%s" % (
        len(cb_bad), callbacks, "\n".join(repr(f[-14:]) for f in cb_bad[:5]))


def test_stdlib_c_code_under_python_caller(austinp_bin, interp, tmp_path):
    """zlib.compress: libz's deflate appears under the Python caller."""
    text, ids = run_until(austinp_bin, ["-i", "5ms"], interp, "target_stdlib_c.py", [600, "IDS"],
                          tmp_path, lambda text, ids: count_lines(
                              text, ids["main"], ":compress_it:") >= 150)
    _, samples = main_samples(text, ids)
    line = marks("target_stdlib_c.py")["compress_call"]
    in_compress = [(f, inv) for _, _, f, inv in samples
                   if any(not x.native and x.name == "compress_it" and x.line == line for x in f)]
    assert len(in_compress) >= 100, "only %d samples in compress_it" % len(in_compress)
    with_deflate = 0
    for frames, invalid in in_compress:
        k = index_of(frames, lambda f: not f.native and f.name == "compress_it")
        if not invalid and index_of(frames, lambda f: f.native and f.name == "deflate", k) is not None:
            with_deflate += 1
    assert with_deflate >= 0.9 * len(in_compress), \
        "deflate under compress_it in %d of %d samples; e.g. %r" % (
            with_deflate, len(in_compress), in_compress[0][0][-10:])


def untraced_and_running(pid):
    """(ok, detail): no thread of pid stopped or traced."""
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            st = proc_status(int(tid))
        except OSError:
            continue  # the thread ended meanwhile
        if st["TracerPid"] != "0" or st["State"][0] in "tT":
            return False, (tid, st["State"], st["TracerPid"])
    return True, None


def test_kill_storm_leaves_target_running(austinp_bin, interp, procs, tmp_path):
    """austinp, sampling at 100 us, killed at random moments (SIGINT,
    SIGTERM, SIGKILL) 21 times: afterwards no thread of the target is
    stopped or traced, and its busy threads go on working."""
    host_ids, target_ids = interp.side_file(tmp_path)
    # Far longer than the storm, whatever the load (the test kills it).
    seconds = 600
    proc = procs.start(interp.command("target_busy.py", seconds, target_ids))
    ids = wait_ids(host_ids, proc)
    rnd = random.Random(20261125)
    signals = [signal.SIGINT, signal.SIGTERM, signal.SIGKILL] * 7
    rnd.shuffle(signals)
    for n, signo in enumerate(signals):
        ap = subprocess.Popen([austinp_bin, "-i", "100us", "-p", str(proc.pid)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(rnd.uniform(0.0, 0.3))
        ap.send_signal(signo)
        # Exiting means resuming and detaching every thread, each of which
        # may wait for a CPU on a loaded machine: a hang, not a delay, fails.
        try:
            ap.wait(timeout=30)
        except subprocess.TimeoutExpired:
            ap.kill()
            ap.wait()
            pytest.fail("trial %d: austinp did not exit within 30 s of %s" % (n, signo.name))
        ap.stderr.close()
        assert proc.poll() is None, "trial %d (%s): the target died (%s)" % (
            n, signo.name, proc.returncode)
        # The kernel detaches the threads of a killed tracer as it exits;
        # give a resumed thread a moment to leave its stop (polled: up to
        # 10 s on a loaded machine).
        deadline = time.monotonic() + 10.0
        while True:
            ok, detail = untraced_and_running(proc.pid)
            if ok or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        assert ok, "trial %d (%s): thread left stopped or traced: %r" % (n, signo.name, detail)
    # Both busy threads run on: each gets CPU time again (waiting for it
    # as long as a loaded machine takes; a thread left stopped never would).
    for name in ("main", "worker"):
        before = cpu_ticks(proc.pid, ids[name])
        deadline = time.monotonic() + 30
        while cpu_ticks(proc.pid, ids[name]) <= before:
            assert time.monotonic() < deadline, "%s got no CPU time in 30 s" % name
            time.sleep(0.02)
    assert proc.poll() is None, proc.stderr.read()


def cpu_ticks(pid, tid):
    """utime + stime of a thread, in clock ticks."""
    with open("/proc/%d/task/%d/stat" % (pid, tid)) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


@pytest.mark.parametrize("mode", ["clean", "thread-exit"])
@pytest.mark.parametrize("how", ["launch", "attach"])
def test_target_exit_while_sampled(austinp_bin, interp, procs, tmp_path, mode, how):
    """The target ends mid-run: austinp notices, writes its footer and
    exits, every time, without a signal (within seconds: a loaded machine
    can delay its next round and the detach of every thread, but a
    sampler waiting for something that will not come would not end)."""
    host_ids, target_ids = interp.side_file(tmp_path)
    cmd = interp.command("target_exit.py", mode, 1.5, target_ids)
    if how == "launch":
        ap = subprocess.Popen([austinp_bin, "-i", "1ms"] + cmd, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, universal_newlines=True)
        ids = wait_ids(host_ids, ap)
    else:
        target = procs.start(cmd)
        ids = wait_ids(host_ids, target)
        ap = subprocess.Popen([austinp_bin, "-i", "1ms", "-p", str(ids["pid"])],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True)
    # When did the target end? Polled from here, every 10 ms.
    ended = []

    def watch():
        while os.path.exists("/proc/%d" % ids["pid"]) and not _zombie(ids["pid"]):
            time.sleep(0.01)
        ended.append(time.monotonic())

    w = threading.Thread(target=watch)
    w.start()
    out, err = ap.communicate(timeout=30)
    done = time.monotonic()
    w.join(timeout=30)
    assert ended, "the target did not end"
    assert ap.returncode == 0, err
    assert done - ended[0] < 15, "austinp took %.2f s to exit after the target" % (done - ended[0])
    _, _, samples = parse(out)
    assert samples, "no samples before the target ended"


def _zombie(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] in "ZX"
    except OSError:
        return True


def test_closed_output_and_sighup_leave_target_running(austinp_bin, any_interp, procs, tmp_path):
    """The reader of the output goes away (SIGPIPE / EPIPE), or austinp gets
    SIGHUP: it exits promptly and every thread of the target runs on."""
    host_ids, target_ids = any_interp.side_file(tmp_path)
    proc = procs.start(any_interp.command("target_busy.py", 600, target_ids))
    wait_ids(host_ids, proc)
    # A reader that takes one line and leaves.
    ap = subprocess.Popen([austinp_bin, "-i", "100us", "-p", str(proc.pid)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ap.stdout.readline()
    ap.stdout.close()
    assert ap.wait(timeout=30) is not None
    ap.stderr.close()
    time.sleep(0.1)
    ok, detail = untraced_and_running(proc.pid)
    assert ok, "after a closed output: %r" % (detail,)
    # SIGHUP, as when the terminal goes.
    ap = subprocess.Popen([austinp_bin, "-i", "100us", "-p", str(proc.pid)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True)
    time.sleep(0.5)
    ap.send_signal(signal.SIGHUP)
    out, err = ap.communicate(timeout=30)
    assert "# errors: " in out.splitlines()[-1], (err, out[-300:])
    time.sleep(0.1)
    ok, detail = untraced_and_running(proc.pid)
    assert ok, "after SIGHUP: %r" % (detail,)
    assert proc.poll() is None


def test_thread_churn_samples_stay_woven(austinp_bin, interp, tmp_path):
    """Threads created all the time: the main thread's samples stay woven
    (a new thread's state, which on 3.8-3.10 names its creator until it
    runs, is not taken for the creator's)."""
    line = marks("target_churn.py")["churn_call"]
    text, ids = run_until(austinp_bin, ["-i", "2ms"], interp, "target_churn.py", [600, "IDS"],
                          tmp_path, lambda text, ids: count_lines(
                              text, ids["main"], ":main:%d;" % line, ":main:%d " % line, ":INVALID:") >= 150)
    _, samples = main_samples(text, ids)
    in_churn = [(f, inv) for _, _, f, inv in samples
                if any(not x.native and x.name == "main" and x.line == line for x in f) or inv]
    assert len(in_churn) >= 100, "only %d main-thread samples in the loop" % len(in_churn)
    bad = [f for f, inv in in_churn if inv]
    assert len(bad) <= 0.02 * len(in_churn), "%d of %d main-thread samples invalid; e.g. %r" % (
        len(bad), len(in_churn), bad[0][-8:] if bad else None)
