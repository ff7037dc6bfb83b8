"""-C: child processes sampled each under its own pid; where mode over a
process tree; -h; logging to syslog.

Every interpreter runs a multiprocessing pool of 4 and a chain of three
Python processes (the last one started through a shell that stays). Text
runs are also checked against their MOJO copy by run_austin."""

import os
import socket
import subprocess
import time

import pytest

import mojo
from conftest import (AUSTIN, assert_one_line_error, parse_profile, run_austin)

CHILDREN = "target_children.py"


def read_ids(path, proc, keys, timeout=30.0):
    """Wait until the target's ids file names every key; {key: [pids]}."""
    deadline = time.monotonic() + timeout
    while True:
        ids = {}
        if os.path.exists(path):
            with open(path) as f:
                for line in f:
                    k, v = line.split()
                    ids.setdefault(k, []).append(int(v))
        if all(k in ids for k in keys):
            return ids
        if proc is not None and proc.poll() is not None:
            raise AssertionError("target exited (%s) before naming %s" % (proc.returncode, keys))
        assert time.monotonic() < deadline, "target named only %s" % ids
        time.sleep(0.05)


def functions(samples, path):
    """The functions of the target script seen in these samples."""
    return {f[1] for s in samples for f in s.frames if f[0] == path}


def by_pid(prof):
    out = {}
    for s in prof.samples:
        out.setdefault(s.pid, []).append(s)
    return out


def test_pool(austin_bin, interp, tmp_path):
    """A pool of 4 workers: each worker is sampled under its own pid, with
    its own thread, and the tasks show in the workers, not in the parent."""
    host_ids, target_ids = interp.side_file(tmp_path)
    path = interp.target(CHILDREN)
    res = run_austin(["-C", "-i", "2ms", "-t", "5000"]
                     + interp.command(CHILDREN, "pool", 1.5, target_ids), timeout=90)
    assert res.returncode == 0, res
    ids = read_ids(host_ids, None, ["parent", "worker", "task"], timeout=1)
    os.unlink(host_ids)
    prof = parse_profile(res.stdout)
    assert prof.header["multiprocess"] == "on", prof.header
    pids = by_pid(prof)
    parent = ids["parent"][0]
    assert len(ids["worker"]) == 4 and set(ids["task"]) <= set(ids["worker"]), ids
    assert parent in pids, "no sample of the parent %d: %s" % (parent, sorted(pids))
    assert "pool_task" not in functions(pids[parent], path), "a task in the parent"
    for w in ids["worker"]:
        assert w in pids, "worker %d never sampled: %s" % (w, sorted(pids))
        # A worker has one thread, its main one, whose id is its pid.
        assert {s.tid for s in pids[w]} == {w}, (w, {s.tid for s in pids[w]})
    for t in set(ids["task"]):
        assert "pool_task" in functions(pids[t], path), \
            "worker %d ran a task that its samples do not show" % t
    # Nothing but the tree was sampled: the parent, its workers and the
    # pool's helper processes (the manager; on 3.14+ also the forkserver
    # and the resource tracker).
    assert len(pids) <= 1 + 4 + 3, sorted(pids)


def test_chain(austin_bin, interp, tmp_path):
    """python -> python -> sh -> python: each Python level is sampled under
    its own pid with its own function; the shell is passed over and its
    child still found."""
    host_ids, target_ids = interp.side_file(tmp_path)
    path = interp.target(CHILDREN)
    res = run_austin(["-C", "-i", "2ms", "-t", "5000"]
                     + interp.command(CHILDREN, "chain", 2, 1.5, target_ids), timeout=90)
    assert res.returncode == 0, res
    ids = read_ids(host_ids, None, ["level0", "level1", "level2"], timeout=1)
    os.unlink(host_ids)
    prof = parse_profile(res.stdout)
    pids = by_pid(prof)
    levels = {"level%d" % n: ids["level%d" % n][0] for n in range(3)}
    assert len(set(levels.values())) == 3, levels
    for name, pid in levels.items():
        assert pid in pids, "%s (%d) never sampled: %s" % (name, pid, sorted(pids))
        seen = functions(pids[pid], path)
        assert name in seen, "%s (%d) shows %s" % (name, pid, seen)
        others = {"level0", "level1", "level2"} - {name}
        assert not seen & others, "%s (%d) shows another level: %s" % (name, pid, seen)
        assert {s.tid for s in pids[pid]} == {pid}
    # Any other pid is a process between fork and exec: never a level.
    for pid, samples in pids.items():
        if pid not in levels.values():
            assert not functions(samples, path) & set(levels), (pid, samples[:3])


def test_children_mojo(austin_bin, any_interp, tmp_path):
    """-b -C: the MOJO profile says multiprocess and holds every process."""
    host_ids, target_ids = any_interp.side_file(tmp_path)
    out = tmp_path / "chain.mojo"
    res = run_austin(["-b", "-C", "-i", "2ms", "-t", "5000", "-o", out]
                     + any_interp.command(CHILDREN, "chain", 2, 1, target_ids), timeout=60)
    assert res.returncode == 0, res
    ids = read_ids(host_ids, None, ["level0", "level1", "level2"], timeout=1)
    os.unlink(host_ids)
    prof = mojo.decode(out.read_bytes())
    assert ("multiprocess", "on") in prof.metadata, prof.metadata
    got = {s.pid for s in prof.samples}
    assert {ids["level%d" % n][0] for n in range(3)} <= got, (ids, got)


def test_where_children(austin_bin, any_interp, procs, tmp_path):
    """-C -w: every Python process of the tree, marked parent or child,
    each with its own level function; without -C only the target."""
    host_ids, target_ids = any_interp.side_file(tmp_path)
    proc = procs.start(any_interp.command(CHILDREN, "chain", 2, 20, target_ids))
    ids = read_ids(host_ids, proc, ["level0", "level1", "level2"])
    levels = [ids["level%d" % n][0] for n in range(3)]
    time.sleep(0.3)  # every level in its level function
    res = run_austin(["-C", "-w", levels[0]], timeout=30)
    assert res.returncode == 0, res
    blocks = {}
    for block in res.stdout.split("Process ")[1:]:
        head = block.split("\n", 1)[0]
        blocks[int(head.split()[0])] = block
    assert set(blocks) == set(levels), (levels, res.stdout)
    assert "(parent)" in blocks[levels[0]].split("\n")[0]
    for n, pid in enumerate(levels):
        if n:
            assert "(child)" in blocks[pid].split("\n")[0], blocks[pid]
        assert "level%d " % n in blocks[pid], blocks[pid]
    res = run_austin(["-w", levels[0]], timeout=30)
    assert res.returncode == 0 and res.stdout.count("Process ") == 1, res
    assert "(parent)" not in res.stdout, res


def test_heap(austin_bin, interp, tmp_path):
    """-h 1: frame objects (3.8-3.10) read from one copy of their span;
    the profile is the same as without: the busy stacks, read whole."""
    res = run_austin(["-h", "1", "-i", "1ms", "-t", "5000"]
                     + interp.command("target_busy.py", 1), timeout=60)
    assert res.returncode == 0, res
    prof = parse_profile(res.stdout)
    path = interp.target("target_busy.py")
    inner_name = interp.name("make_inner.<locals>.inner")
    inner = [s for s in prof.samples if (path, inner_name) in {f[:2] for f in s.frames}]
    assert inner, "no sample in the busy loop"
    valid = [s for s in prof.samples if not s.invalid]
    assert len(valid) >= 0.9 * len(prof.samples), prof.footer
    # Read whole: below the inner function, its caller. austin reads a
    # running thread, so a rare sample is torn (a frame of the chain reused
    # between two reads: seen once in a CI run, inner right under the
    # generator); nearly all must be whole.
    crunch = interp.name("Cruncher.crunch")
    whole = 0
    for s in inner:
        i = next(i for i, f in enumerate(s.frames) if f[:2] == (path, inner_name))
        whole += i > 0 and s.frames[i - 1][:2] == (path, crunch)
    assert whole >= 0.98 * len(inner), "%d of %d busy-loop samples whole" % (whole, len(inner))


@pytest.mark.parametrize("value", ["-1", "x", "65", "1.5"])
def test_heap_bad_value(austin_bin, value):
    res = run_austin(["-h", value, "-p", "1"], mojo_copy=False)
    assert_one_line_error(res, 64)


def syslog_run(tmp_path, env, args):
    """Run austin with a private /dev whose log socket is ours; the
    messages it sends. Skips where mount namespaces are not available."""
    dev = tmp_path / "dev"
    dev.mkdir()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(dev / "log"))
    sock.settimeout(0.5)
    cmd = ["unshare", "-m", "sh", "-c", 'mount --bind "$0" /dev && exec "$@"', str(dev),
           AUSTIN] + [str(a) for a in args]
    try:
        res = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, timeout=60)
    except FileNotFoundError:
        pytest.skip("unshare(1) is not installed")
    if b"unshare" in res.stderr or b"mount" in res.stderr:
        pytest.skip("no private mount namespace here: %r" % res.stderr)
    msgs = []
    try:
        while True:
            msgs.append(sock.recv(4096).decode(errors="replace"))
    except socket.timeout:
        pass
    sock.close()
    return res, msgs


def test_syslog(austin_bin, any_interp, procs, tmp_path):
    """A run logs its start, its children and its end to syslog;
    AUSTIN_NO_LOGGING silences it."""
    host_ids, target_ids = any_interp.side_file(tmp_path)
    proc = procs.start(any_interp.command(CHILDREN, "chain", 1, 20, target_ids))
    ids = read_ids(host_ids, proc, ["level0", "level1"])
    env = dict(os.environ)
    env.pop("AUSTIN_NO_LOGGING", None)
    res, msgs = syslog_run(tmp_path, env, ["-C", "-x", "1", "-p", proc.pid])
    assert res.returncode == 0, res
    text = "\n".join(msgs)
    assert "austin[" in text, msgs
    assert "sampling process %d" % proc.pid in text, msgs
    assert "child process %d (Python" % ids["level1"][0] in text, msgs
    assert "sampling ended (the exposure ended)" in text, msgs

    env["AUSTIN_NO_LOGGING"] = "1"
    (tmp_path / "quiet").mkdir()
    res, msgs = syslog_run(tmp_path / "quiet", env, ["-C", "-x", "1", "-p", proc.pid])
    assert res.returncode == 0, res
    assert msgs == [], msgs
