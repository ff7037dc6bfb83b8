"""-C from a launcher: a target that is not Python but starts Python.

The launcher is `unshare -p -f -r` (a new user and PID namespace, the
interpreter forked as its pid 1), behind `sh -c` in launch mode; the
interpreter is a copy (the executable, and libpython when there is one)
in a directory that the interpreter itself deletes before the target runs,
as a venv removed after start, or a container's image seen from the host:
its files are reachable only through /proc/PID/map_files. austin and
austinp must follow the launcher's children and sample the Python one, as
Austin 3.7 does, and say Austin's "no Python children" (39) when there is
none.
"""

import os
import shlex
import shutil
import subprocess
import uuid

import pytest

from conftest import (AUSTIN, assert_one_line_error, marks, parse_profile, run_austin,
                      wait_ids)

BUSY = "target_busy.py"
NO_CHILDREN = 39

# The copy deletes itself, then runs the target as __main__.
WRAPPER = ("import os, runpy, shutil, sys; shutil.rmtree(sys.argv[1]); "
           "sys.argv = sys.argv[2:]; sys.path.insert(0, os.path.dirname(sys.argv[0])); "
           "runpy.run_path(sys.argv[0], run_name='__main__')")


def _need_unshare():
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare(1) (util-linux)")
    r = subprocess.run(["unshare", "-p", "-f", "-r", "true"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, universal_newlines=True)
    if r.returncode != 0:
        pytest.skip("cannot make a user and PID namespace here: %s" % r.stderr.strip())


def _interp_facts(interp):
    """(executable, base prefix, libpython path or None), as the
    interpreter names them (inside its root for a chroot one)."""
    out = subprocess.run(
        interp.argv + ["-c", "import os, sys, sysconfig; "
                       "lib = os.path.join(sysconfig.get_config_var('LIBDIR') or '', "
                       "sysconfig.get_config_var('INSTSONAME') or ''); "
                       "print(sys.executable); print(sys.base_prefix); "
                       "print(lib if os.path.isfile(lib) else '')"],
        stdout=subprocess.PIPE, universal_newlines=True, check=True, timeout=60).stdout
    exe, prefix, lib = out.split("\n")[:3]
    return exe, prefix, lib or None


def deleted_launcher(interp, tmp_path, side):
    """The launcher command: unshare forking a copy of the interpreter that
    deletes itself and runs the busy target for 30 s; with its environment
    and the copy's directory (host path)."""
    exe, prefix, lib = _interp_facts(interp)
    root = interp.root or ""
    inner = "/tmp/austin-launch-%s" % uuid.uuid4().hex  # as the target sees it
    host_dir = root + inner
    os.makedirs(host_dir)
    copy = os.path.join(inner, os.path.basename(exe))
    shutil.copy2(root + exe, root + copy)
    env = dict(os.environ, PYTHONHOME=prefix, PYTHONDONTWRITEBYTECODE="1")
    if lib is not None:
        # A shared build: the runtime is in libpython, copied and deleted too.
        shutil.copy2(root + lib, os.path.join(host_dir, os.path.basename(lib)))
        env["LD_LIBRARY_PATH"] = inner
    argv = ["unshare", "-p", "-f", "-r"] + (["chroot", root] if root else []) + [
        copy, "-c", WRAPPER, inner, interp.target(BUSY), "30", side]
    return argv, env, host_dir


def python_child(launcher_pid, timeout=10):
    """The host pid of the interpreter that the launcher forked."""
    with open("/proc/%d/task/%d/children" % (launcher_pid, launcher_pid)) as f:
        kids = [int(x) for x in f.read().split()]
    assert len(kids) == 1, "launcher %d has children %r" % (launcher_pid, kids)
    return kids[0]


def check_deleted(pid):
    exe = os.readlink("/proc/%d/exe" % pid)
    assert exe.endswith(" (deleted)"), exe
    # The interpreter's own files (the executable, libpython), not the
    # extension modules of its standard library.
    with open("/proc/%d/maps" % pid) as f:
        paths = {line.split(None, 5)[5].strip() for line in f if len(line.split(None, 5)) == 6}
    own = [p for p in paths if os.path.basename(p).startswith(("python", "libpython"))]
    assert own and all(p.endswith(" (deleted)") for p in own), own


def check_busy_profile(interp, text, child):
    """Samples of the forked interpreter (its host pid), in the target's code."""
    prof = parse_profile(text)
    assert prof.header.get("multiprocess") == "on", prof.header
    pids = {s.pid for s in prof.samples}
    assert pids == {child}, "sampled pids %r, the Python child is %d" % (pids, child)
    path = interp.target(BUSY)
    inner = marks(BUSY)["busy_inner"]
    assert any(s.frames and s.frames[-1][0] == path and s.frames[-1][2] == inner
               for s in prof.samples), "no sample at %s:%d" % (path, inner)


@pytest.fixture
def launched(interp, procs, tmp_path):
    """A running launcher whose Python child has deleted its interpreter:
    (launcher process, host pid of the Python child)."""
    _need_unshare()
    host, side = interp.side_file(tmp_path)
    argv, env, host_dir = deleted_launcher(interp, tmp_path, side)
    proc = procs.start(argv, env=env)
    wait_ids(host, proc, timeout=30)
    assert not os.path.exists(host_dir), "the copy was not deleted"
    child = python_child(proc.pid)
    check_deleted(child)
    return proc, child


def test_attach_launcher(austin_bin, interp, launched):
    """austin -C -p LAUNCHER samples the Python child of a non-Python root."""
    proc, child = launched
    res = run_austin(["-C", "-i", "1ms", "-x", "1", "-p", proc.pid], timeout=60)
    assert res.returncode == 0, res
    check_busy_profile(interp, res.stdout, child)
    assert proc.poll() is None, "the launcher was ended"


def test_attach_launcher_austinp(austinp_bin, interp, launched):
    """austinp -C -p LAUNCHER traces and samples only the Python child."""
    proc, child = launched
    res = run_austin(["-C", "-i", "10ms", "-x", "1", "-p", proc.pid], timeout=60,
                     binary=austinp_bin)
    assert res.returncode == 0, res
    lines = [line for line in res.stdout.split("\n") if line and not line.startswith("#")]
    pids = {int(line[1:line.index(";")]) for line in lines}
    assert pids == {child}, "sampled pids %r, the Python child is %d" % (pids, child)
    frame = "%s:%s:%d" % (interp.target(BUSY), interp.name("make_inner.<locals>.inner"),
                          marks(BUSY)["busy_inner"])
    assert any(frame in line for line in lines), "no sample at %s" % frame
    assert proc.poll() is None, "the launcher was ended"
    with open("/proc/%d/status" % child) as f:
        assert "\nTracerPid:\t0\n" in f.read(), "the child is still traced"


@pytest.mark.parametrize("tool", ["austin", "austinp"])
def test_where_launcher(austin_bin, austinp_bin, interp, launched, tool):
    """-C -w LAUNCHER shows the Python child (and no parent)."""
    proc, child = launched
    binary = austinp_bin if tool == "austinp" else austin_bin
    res = run_austin(["-C", "-w", proc.pid], timeout=60, binary=binary, mojo_copy=False)
    assert res.returncode == 0, res
    heads = [line for line in res.stdout.split("\n") if "Process " in line]
    assert len(heads) == 1 and "Process %d" % child in heads[0] and "child" in heads[0], heads
    assert "busy" in res.stdout or "inner" in res.stdout, res.stdout[:2000]


def test_launch_through_shell(austin_bin, interp, tmp_path):
    """austin -C sh -c '...': a shell that starts the launcher that starts
    the deleted interpreter; only the interpreter is sampled."""
    _need_unshare()
    host, side = interp.side_file(tmp_path)
    argv, env, host_dir = deleted_launcher(interp, tmp_path, side)
    argv[argv.index("30")] = "3"
    cmd = " ".join(shlex.quote(a) for a in argv) + "; true"
    res = subprocess.run([AUSTIN, "-C", "-i", "1ms", "sh", "-c", cmd], env=env,
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    assert res.returncode == 0, res
    assert not os.path.exists(host_dir), "the copy was not deleted"
    prof = parse_profile(res.stdout)
    pids = {s.pid for s in prof.samples}
    assert len(pids) == 1, pids
    check_busy_profile(interp, res.stdout, pids.pop())


@pytest.mark.parametrize("tool", ["austin", "austinp"])
@pytest.mark.parametrize("mode", ["-p", "-w", "launch"])
def test_no_python_children(austin_bin, austinp_bin, procs, tool, mode):
    """-C on a root with no Python below it: Austin 3.7's 39."""
    binary = austinp_bin if tool == "austinp" else austin_bin
    if mode == "launch":
        args = ["-C", "sh", "-c", "sleep 3; true"]
    else:
        proc = procs.start(["sh", "-c", "sleep 30; true"])
        args = ["-C", mode, proc.pid] + (["-x", "1"] if mode == "-p" else [])
    res = run_austin(args, timeout=60, binary=binary, mojo_copy=False)
    assert_one_line_error(res, NO_CHILDREN)
    assert "Non-Python parent process has no Python children" in res.stderr, res
    assert res.stdout == "", res
