"""austinp -k: kernel stacks at the leaf end of each sample.

Kernel-specific, not version-specific: run with two interpreters (a host
one and, when present, one in the Debian sid root, whose threads are read
through /proc like any other)."""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import (
    AUSTIN, INTERPRETERS, STOPPED_BY_SIGINT, assert_running_untraced, proc_status, wait_ids,
)

TARGET = "target_kernel.py"
KERNEL_INTERPRETERS = ["pyenv-3.12", "sid-3.14"]

SAMPLE_RE = re.compile(r"^P(\d+);T(\d+):(\d+)((?:;[^;]+)*) (\d+)$")
KERNEL_RE = re.compile(r"^kernel:([^:;]+):0$")
NATIVE_RE = re.compile(r"^native@0x[0-9a-f]+:([^:;]+):\d+$")

# For each kind of blocked thread: a pattern that some kernel frame names
# (the system call's own path), one for the innermost kernel frame (where
# it waits) and one for the libc wrapper just above the kernel.
KINDS = {
    "sleep": (r"nanosleep", r"nanosleep|hrtimer|schedule", r"nanosleep"),
    "lock": (r"futex", r"futex|schedule", r"futex|sem_"),
    "recv": (r"recv", r"unix_stream|recv|wait|schedule", r"recv"),
    "select": (r"select", r"poll|select|schedule", r"select"),
}
# What a kernel stack read during the ptrace stop would show instead.
STOP_PATH = re.compile(r"ptrace_stop|ptrace_do_notify|get_signal|do_signal")


@pytest.fixture(params=KERNEL_INTERPRETERS)
def kinterp(request):
    it = INTERPRETERS.get(request.param)
    if it is None:
        pytest.skip("interpreter %s absent (see test/list-interpreters)" % request.param)
    return it


def run(argv, timeout=60):
    return subprocess.run([str(a) for a in argv], stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                          universal_newlines=True)


def run_until(argv, tids, enough, cap=120):
    """Run austinp (argv, attached to a running target, no -x) until each
    thread of tids has `enough` sample lines, then end it with SIGINT (it
    writes its footer). A run of fixed length gives a loaded machine fewer
    rounds, each waiting for every thread to stop: the samples the test
    needs are waited for instead, `cap` seconds at most. Returns a
    CompletedProcess-like (returncode, stdout, stderr); the status of a
    run that SIGINT ended is STOPPED_BY_SIGINT."""
    with open(os.devnull) as null, \
            tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen([str(a) for a in argv], stdin=null, stdout=out, stderr=err)
        try:
            deadline = time.monotonic() + cap
            while True:
                assert p.poll() is None, "austinp ended (%s) before enough samples" % p.returncode
                out.seek(0)
                counts = dict.fromkeys(tids, 0)
                for line in out.read().decode(errors="replace").splitlines():
                    head = line.split(";", 2)
                    if line.startswith("P") and len(head) == 3:
                        tid = int(head[1].rpartition(":")[2])
                        if tid in counts:
                            counts[tid] += 1
                if min(counts.values()) >= enough:
                    break
                assert time.monotonic() < deadline, "too few samples in %d s: %r" % (cap, counts)
                time.sleep(0.2)
            p.send_signal(signal.SIGINT)
            p.wait(timeout=30)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(argv, p.returncode, out.read().decode(errors="replace"),
                                           err.read().decode(errors="replace"))


def samples_by_thread(out):
    """{tid: [(frames, kernel frames innermost last, invalid)]}, strictly parsed."""
    by = {}
    for line in out.splitlines():
        if not line.startswith("P"):
            continue
        m = SAMPLE_RE.match(line)
        assert m, "malformed sample %r" % line
        frames = m.group(4)[1:].split(";") if m.group(4) else []
        invalid = bool(frames) and frames[-1] == ":INVALID:"
        if invalid:
            frames = frames[:-1]
        # Kernel frames are the last ones, all together.
        first_k = next((i for i, f in enumerate(frames) if KERNEL_RE.match(f)), len(frames))
        kernel = [KERNEL_RE.match(f).group(1) for f in frames[first_k:] if KERNEL_RE.match(f)]
        assert len(kernel) == len(frames) - first_k, "kernel frames not at the leaf end: %r" % line
        # A sample whose native unwind stopped short keeps its Python frames
        # and the marker where unwinding stopped (man/austinp.1): it has no
        # woven stack to check either.
        stopped = any(f.startswith("native:[unwind stopped (") for f in frames[:first_k])
        by.setdefault(int(m.group(3)), []).append((frames[:first_k], kernel, invalid or stopped))
    return by


def start_target(procs, interp, tmp_path, seconds=600, blocked=4):
    host_ids, target_ids = interp.side_file(tmp_path)
    proc = procs.start(interp.command(TARGET, seconds, target_ids, blocked))
    return proc, wait_ids(host_ids, proc)


def test_kernel_frames_of_blocked_threads(austinp_bin, kinterp, procs, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("reading kernel stacks needs root (CAP_SYS_ADMIN)")
    proc, ids = start_target(procs, kinterp, tmp_path)
    kinds = [ids[kind + "_0"] for kind in KINDS] + [ids["busy"]]
    res = run_until([austinp_bin, "-k", "-p", proc.pid], kinds, 60)
    assert res.returncode == STOPPED_BY_SIGINT, res.stderr
    assert "warning" not in res.stderr, res.stderr
    assert_running_untraced(proc)
    for tid in os.listdir("/proc/%d/task" % proc.pid):
        st = proc_status(int(tid))
        assert st["TracerPid"] == "0" and st["State"][0] not in "tT", (tid, st)

    by = samples_by_thread(res.stdout)
    for kind, (path_re, leaf_re, wrapper_re) in KINDS.items():
        tid = ids[kind + "_0"]
        got = by.get(tid, [])
        # The ids file is written as the threads leave their start-up
        # barrier: the first samples of a thread may show it there (a futex
        # wait) or on its way to its wait. From the first sample in its
        # wait on, it never leaves it.
        first = next((i for i, (_, k, _) in enumerate(got)
                      if any(re.search(path_re, f) for f in k)), None)
        assert first is not None, "%s thread never seen in its wait: %r" % (kind, got[:3])
        got = got[first:]
        assert len(got) >= 50, "%s thread: %d samples" % (kind, len(got))
        with_k = [(u, k, bad) for u, k, bad in got if k]
        # The thread never leaves its wait: its samples all carry the
        # kernel stack but for a rare race with the stop.
        assert len(with_k) >= 0.95 * len(got), "%s: %d of %d samples with kernel frames" % (
            kind, len(with_k), len(got))
        # Kernel frames are kept even when the sample is :INVALID: (native
        # stack not woven) or its native unwind stopped short; the libc wrapper
        # is looked for in the others, most of them on a host build.
        if kinterp.root is None:
            assert sum(1 for _, _, bad in with_k if not bad) >= 0.5 * len(with_k), kind
        for user, kernel, bad in with_k:
            assert not any(STOP_PATH.search(k) for k in kernel), \
                "%s: the ptrace stop's path, not the wait: %r" % (kind, kernel)
            assert any(re.search(path_re, k) for k in kernel), (kind, kernel)
            assert re.search(leaf_re, kernel[-1]), "%s: innermost %r" % (kind, kernel)
            assert "entry_SYSCALL" in kernel[0], (kind, kernel)
            if bad:
                continue
            m = NATIVE_RE.match(user[-1]) if user else None
            assert m, "%s: no native frame above the kernel: %r" % (kind, user[-3:])
            if kinterp.root is None:
                assert re.search(wrapper_re, m.group(1)), "%s: wrapper %r" % (kind, m.group(1))
    busy = by.get(ids["busy"], [])
    assert len(busy) >= 50, "busy thread: %d samples" % len(busy)
    assert not [k for _, k, _ in busy if k], "busy thread with kernel frames: %r" % [
        k for _, k, _ in busy if k][:3]


def test_no_kernel_frames_without_k(austinp_bin, any_interp, procs, tmp_path):
    proc, ids = start_target(procs, any_interp, tmp_path)
    res = run_until([austinp_bin, "-p", proc.pid], [ids["sleep_0"]], 25)
    assert res.returncode == STOPPED_BY_SIGINT, res.stderr
    by = samples_by_thread(res.stdout)
    assert len(by.get(ids["sleep_0"], [])) >= 20
    assert not any(k for samples in by.values() for _, k, _ in samples)


def test_kernel_without_privilege_warns_once(austinp_bin, any_interp, procs, tmp_path):
    capsh = shutil.which("capsh")
    if capsh is None:
        pytest.skip("capsh not installed (libcap2-bin; scripts/install-deps --tests)")
    if os.geteuid() != 0:
        pytest.skip("dropping CAP_SYS_ADMIN with capsh needs root")
    proc, ids = start_target(procs, any_interp, tmp_path)
    cmd = "exec %s -k -p %d" % (austinp_bin, proc.pid)
    res = run_until([capsh, "--drop=cap_sys_admin", "--", "-c", cmd],
                    [ids["sleep_0"], ids["lock_0"], ids["busy"]], 60)
    assert res.returncode == STOPPED_BY_SIGINT, res.stderr
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and "warning" in lines[0] and "CAP_SYS_ADMIN" in lines[0], res.stderr
    by = samples_by_thread(res.stdout)
    for name in ("sleep_0", "lock_0", "busy"):
        assert len(by.get(ids[name], [])) >= 50, (name, len(by.get(ids[name], [])))
    assert not any(k for samples in by.values() for _, k, _ in samples)
    assert_running_untraced(proc)


def test_austin_has_no_k(any_interp, procs, tmp_path):
    proc, _ = start_target(procs, any_interp, tmp_path)
    res = run([AUSTIN, "-k", "-x", 1, "-p", proc.pid])
    assert res.returncode == 64, res
    assert "'k'" in res.stderr, res.stderr
    assert res.stdout == ""
