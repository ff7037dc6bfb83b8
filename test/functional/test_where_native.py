"""austinp -w: where mode with native frames, their source lines (through
the resolver library), inlined functions and, with -k, kernel frames."""

import os
import re
import subprocess
import time

import pytest

from conftest import assert_running_untraced, marks, proc_status, wait_ids
from test_austinp_native import EXT_TARGET, ext_dir
from test_kernel import KINDS

THREAD_RE = re.compile(r"^  Thread (\d+)  \"([^\"]*)\"  (\S.*)$")
PY_RE = re.compile(r"^      Py (\S+)  \((.+):(\d+)\)$")
C_RE = re.compile(r"^      C  (\S+)(?:  \((.+)\))?(  \[inlined\])?$")
K_RE = re.compile(r"^      K  (\S+)$")
NOTE_RE = re.compile(r"^      (\(.*\)|:INVALID: .*)$")


def where(austinp_bin, pid, *extra):
    p = subprocess.run([austinp_bin, *extra, "-w", str(pid)], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60,
                       universal_newlines=True)
    assert p.returncode == 0, p.stderr
    return parse_where(p.stdout)


def parse_where(text):
    """{tid: (name, state, [(kind, name, where, inlined)])}, strictly: every
    line is known, no colour codes when piped."""
    assert "\033[" not in text, "colour codes in piped output"
    lines = text.splitlines()
    assert re.match(r"^Process \d+  Python \d+\.\d+\.\d+  \S", lines[0]), lines[0]
    threads, cur = {}, None
    for line in lines[1:]:
        if not line:
            continue
        m = THREAD_RE.match(line)
        if m:
            cur = []
            threads[int(m.group(1))] = (m.group(2), m.group(3), cur)
            continue
        assert cur is not None, "frame before any thread: %r" % line
        for kind, rx in (("py", PY_RE), ("c", C_RE), ("k", K_RE)):
            m = rx.match(line)
            if m:
                if kind == "py":
                    cur.append(("py", m.group(1), "%s:%s" % (m.group(2), m.group(3)), False))
                elif kind == "c":
                    cur.append(("c", m.group(1), m.group(2), bool(m.group(3))))
                else:
                    cur.append(("k", m.group(1), None, False))
                break
        else:
            assert NOTE_RE.match(line), "unknown where-mode line %r" % line
    return threads


def untraced(pid):
    for tid in os.listdir("/proc/%d/task" % pid):
        st = proc_status(int(tid))
        assert st["TracerPid"] == "0" and st["State"][0] not in "tT", (tid, st)


def test_where_every_thread_and_libc_waits(austinp_bin, any_interp, procs, tmp_path):
    """Every thread of a multi-thread target, blocked ones in their libc
    wait under their Python frames; the target runs on, untraced."""
    host_ids, target_ids = any_interp.side_file(tmp_path)
    proc = procs.start(any_interp.command("target_kernel.py", 600, target_ids, 4))
    ids = wait_ids(host_ids, proc)
    threads = where(austinp_bin, proc.pid)
    assert_running_untraced(proc)
    untraced(proc.pid)
    tasks = {int(t) for t in os.listdir("/proc/%d/task" % proc.pid)}
    assert set(threads) == tasks, (sorted(threads), sorted(tasks))
    wrappers = {k: v[2] for k, v in KINDS.items()}
    for kind, wrapper in wrappers.items():
        name, state, frames = threads[ids[kind + "_0"]]
        assert state.startswith("idle"), (kind, state)
        assert frames and frames[-1][0] == "c", (kind, frames[-4:])
        # The innermost C frames hold the libc wrapper of the wait, and a
        # Python frame sits rootward of it.
        assert any(re.search(wrapper, f[1]) for f in frames[-4:] if f[0] == "c"), (kind, frames[-4:])
        assert any(f[0] == "py" for f in frames), (kind, frames)
    _, state, frames = threads[ids["busy"]]
    assert any(f[0] == "py" for f in frames), frames


def test_where_extension_lines_and_inlined(austinp_bin, interp, procs, tmp_path, tmp_path_factory):
    """Every native frame of the test extension has its source file and
    line; ext_mix, always inlined into ext_spin_loop, shows as inlined."""
    ext = ext_dir(interp, tmp_path_factory)
    host_ids, target_ids = interp.side_file(tmp_path)
    proc = procs.start(interp.command(EXT_TARGET, 600, target_ids, ext))
    ids = wait_ids(host_ids, proc)
    mk = marks(EXT_TARGET)
    seen_inlined = seen_ext = 0
    for attempt in range(40):
        threads = where(austinp_bin, proc.pid)
        _, _, frames = threads[ids["main"]]
        ext_frames = [f for f in frames if f[0] == "c" and f[1].startswith("ext_")]
        for f in ext_frames:
            assert f[2] and re.search(r"pyaustin_ext\.c:\d+$", f[2]), \
                "extension frame without its source line: %r" % (f,)
        if ext_frames:
            seen_ext += 1
            py = [f for f in frames if f[0] == "py"]
            assert py, frames
            k = frames.index(ext_frames[0])
            caller = [f for f in frames[:k] if f[0] == "py"][-1]
            assert caller[1] in ("hot", "with_callback"), frames
        if any(f[1] == "ext_mix" and f[3] for f in frames):
            seen_inlined += 1
            i = next(i for i, f in enumerate(frames) if f[1] == "ext_mix")
            assert frames[i - 1][1] == "ext_spin_loop", frames[i - 2:i + 1]
        if seen_inlined >= 2 and seen_ext >= 3:
            break
        time.sleep(0.05)
    assert seen_ext >= 3, "the extension was on the stack in only %d dumps" % seen_ext
    assert seen_inlined >= 2, "ext_mix never shown inlined in %d dumps" % (attempt + 1)
    assert_running_untraced(proc)


def test_where_kernel_frames(austinp_bin, any_interp, procs, tmp_path):
    """-k: every blocked thread ends in kernel frames of its wait."""
    if os.geteuid() != 0:
        pytest.skip("reading kernel stacks needs root (CAP_SYS_ADMIN)")
    host_ids, target_ids = any_interp.side_file(tmp_path)
    proc = procs.start(any_interp.command("target_kernel.py", 600, target_ids, 4))
    ids = wait_ids(host_ids, proc)
    threads = where(austinp_bin, proc.pid, "-k")
    for kind, (path_re, leaf_re, _) in KINDS.items():
        _, _, frames = threads[ids[kind + "_0"]]
        kernel = [f[1] for f in frames if f[0] == "k"]
        assert kernel, "%s: no kernel frames: %r" % (kind, frames[-5:])
        assert frames[-len(kernel):] == [f for f in frames if f[0] == "k"], frames
        assert any(re.search(path_re, k) for k in kernel), (kind, kernel)
        assert re.search(leaf_re, kernel[-1]), (kind, kernel)
    _, _, frames = threads[ids["busy"]]
    assert not [f for f in frames if f[0] == "k"], frames
    assert_running_untraced(proc)
