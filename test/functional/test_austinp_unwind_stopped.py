"""austinp when native unwinding stops short: the sample keeps its Python
frames (read from the interpreter, as austin reads them), with a marker
frame where native unwinding stopped, "native:[unwind stopped (<reason>)]:0",
and the footer counts the reasons ("# unwind_stopped: <reason>=<n>,...").
The target calls a C function that no unwinder can leave: a loop without
CFI that keeps neither a frame pointer nor a return address where a guess
would find one (test/ext/pyaustin_nocfi.c).  Every interpreter."""

import os
import platform
import re
import subprocess

import pytest

from conftest import ROOT_TARGET_DIR, SRCDIR, marks, wait_ids
from test_austinp import parse, run, STOP_FOOTER_RE
from test_resolve import resolve_bin  # noqa: F401 (a fixture)

BUILD_EXT = os.path.join(SRCDIR, "test", "ext", "build-ext")
TARGET = "target_nocfi.py"
MARK = "native:[unwind stopped (no-unwind-info)]:0"
_DIRS = {}


def nocfi_dir(interp, tmp_path_factory):
    """test/ext/pyaustin_nocfi.c built for this interpreter (once a
    session): the directory as the target sees it."""
    if platform.machine() != "x86_64":
        pytest.skip("the test extension's loop without CFI is x86_64 assembly")
    if interp.label not in _DIRS:
        if interp.root is None:
            out = str(tmp_path_factory.mktemp("nocfi-" + interp.label))
        else:
            out = "%s/nocfi-%s-%d" % (ROOT_TARGET_DIR, interp.label, os.getpid())
        env = dict(os.environ, EXT_NAME="pyaustin_nocfi")
        p = subprocess.run([BUILD_EXT, " ".join(interp.argv), out], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True, timeout=120, env=env)
        assert p.returncode == 0, "building the test extension failed:\n" + p.stderr
        _DIRS[interp.label] = out
    return _DIRS[interp.label]


def python_part(interp):
    mk = marks(TARGET)
    path = interp.target(TARGET)
    return ["%s:<module>:%d" % (path, mk["main_call"]), "%s:main:%d" % (path, mk["hot_call"]),
            "%s:hot:%d" % (path, mk["spin_call"])]


def check_stopped_lines(interp, lines):
    """Sample lines (text, or MOJO decoded to text) of the target: those
    caught in nocfi_spin, each its Python stack, the marker, the leaf.
    (Caught on the loop's first or last instruction, where its return
    address is on top of the stack, the stack is rightly unwound whole:
    then it is woven, with the same Python frames.)"""
    want = python_part(interp)
    caught = []
    for line in lines:
        frames = line.rsplit(" ", 1)[0].split(";")[2:]
        if not frames or not re.match(r"^native@0x[0-9a-f]+:nocfi_spin:\d+$", frames[-1]):
            continue
        assert ":INVALID:" not in frames, line
        if MARK in frames:
            assert frames == want + [MARK, frames[-1]], line
            caught.append(line)
        else:
            assert [f for f in frames if not f.startswith("native@")] == want, line
    return caught


def test_stopped_unwind_keeps_python_frames(austinp_bin, resolve_bin, interp, tmp_path,
                                            tmp_path_factory):
    ext = nocfi_dir(interp, tmp_path_factory)
    host_ids, target_ids = interp.side_file(tmp_path)
    out = tmp_path / "out.austin"
    res = run([austinp_bin, "-i", "5ms", "-x", 2, "-o", out]
              + interp.command(TARGET, 3, target_ids, ext))
    assert res.returncode == 0, res.stderr
    text = out.read_text()
    parse(text)  # strictly: header, maps, samples, footer
    lines = [l for l in text.splitlines() if l.startswith("P")]
    caught = check_stopped_lines(interp, lines)
    # The loop is most of the target's time: many samples are caught in it.
    assert len(caught) >= 10, "%d samples in nocfi_spin of %d" % (len(caught), len(lines))
    # The footer counts every sample whose unwind stopped, by reason.
    m = STOP_FOOTER_RE.match(text.splitlines()[-5])
    assert m, text.splitlines()[-6:]
    counts = {k: int(v) for k, v in (kv.split("=") for kv in m.group(1).split(","))}
    assert counts.get("no-unwind-info", 0) >= len(caught), counts
    assert sum(counts.values()) == sum(";native:[unwind stopped (" in l for l in lines), counts

    # austinp-resolve names the native frames and leaves the marker alone.
    res = subprocess.run([resolve_bin, str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         universal_newlines=True, timeout=120)
    assert res.returncode == 0, res.stderr
    resolved = [l for l in res.stdout.splitlines() if l.startswith("P")]
    assert len(resolved) == len(lines)
    for a, b in zip(lines, resolved):
        if a in caught:
            fb = b.rsplit(" ", 1)[0].split(";")[2:]
            assert fb[:4] == python_part(interp) + [MARK], b
            assert re.match(r"^.+:nocfi_spin:\d+$", fb[-1]), b


def test_stopped_unwind_binary(austinp_bin, any_interp, tmp_path, tmp_path_factory):
    """-b: the same stacks in MOJO, the marker an ordinary frame, and the
    counts in the footer metadata."""
    import mojo
    ext = nocfi_dir(any_interp, tmp_path_factory)
    host_ids, target_ids = any_interp.side_file(tmp_path)
    out = tmp_path / "out.mojo"
    res = run([austinp_bin, "-b", "-i", "5ms", "-x", 2, "-o", out]
              + any_interp.command(TARGET, 3, target_ids, ext))
    assert res.returncode == 0, res.stderr
    prof = mojo.decode(out.read_bytes())
    caught = check_stopped_lines(any_interp, prof.text_lines())
    assert len(caught) >= 10, len(caught)
    stopped = [v for k, v in prof.metadata if k == "unwind_stopped"]
    assert len(stopped) == 1 and re.match(r"^no-unwind-info=\d+", stopped[0]), prof.metadata[-6:]


def test_where_shows_where_unwinding_stopped(austinp_bin, any_interp, procs, tmp_path,
                                             tmp_path_factory):
    """-w: the Python frames, the note where native unwinding stopped, then
    the native frame it stopped at. The thread is in the loop most of its
    time: forty tries cannot all miss it."""
    ext = nocfi_dir(any_interp, tmp_path_factory)
    host_ids, target_ids = any_interp.side_file(tmp_path)
    proc = procs.start(any_interp.command(TARGET, 60, target_ids, ext))
    ids = wait_ids(host_ids, proc)
    mk = marks(TARGET)
    for _ in range(40):
        p = subprocess.run([austinp_bin, "-w", str(ids["pid"])], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60,
                           universal_newlines=True)
        assert p.returncode == 0, p.stderr
        body = [l.strip() for l in p.stdout.splitlines() if l.startswith("      ")]
        # (On the loop's first or last instruction the stack is unwound
        # whole, rightly: try again.)
        if body and body[-1].startswith("C  nocfi_spin") and \
                "(native unwinding stopped here: no-unwind-info)" in body:
            break
    else:
        pytest.fail("the thread was never caught in nocfi_spin in 40 tries")
    path = any_interp.target(TARGET)
    assert body == ["Py <module>  (%s:%d)" % (path, mk["main_call"]),
                    "Py main  (%s:%d)" % (path, mk["hot_call"]),
                    "Py hot  (%s:%d)" % (path, mk["spin_call"]),
                    "(native unwinding stopped here: no-unwind-info)", body[-1]], body
