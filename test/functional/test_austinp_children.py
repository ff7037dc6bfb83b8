"""austinp -C: child processes traced and sampled natively as they start,
each under its own pid with its own `# map: P<pid>` lines; the whole tree
detached whatever ends the run; austinp-resolve over such a profile; where
mode over a process tree.

The targets are test_children.py's: a multiprocessing pool of 4, and a
chain python -> python -> sh -> python."""

import os
import re
import signal
import subprocess
import time

import pytest

from conftest import INTERPRETERS, STOPPED_BY_SIGINT, check_mojo_copy, run_austin
from test_austinp import Frame
from test_children import CHILDREN, read_ids
from test_resolve import RESOLVE
from test_where_native import parse_where

MAP_RE = re.compile(r"^# map: P(\d+) ([0-9a-f]+)-([0-9a-f]+) (/.+|\[vdso\])$")
STOP_RE = re.compile(r"^native:\[unwind stopped \(([a-z-]+)\)\]:0$")
SAMPLE_RE = re.compile(r"^P(\d+);T(\d+):(\d+)((?:;[^;]+)*) (\d+)$")
SHORT = ["pyenv-3.12", "debian-3.11", "sid-3.14"]


@pytest.fixture(params=SHORT)
def sinterp(request):
    """The interpreters of the longer tests: one of each build kind."""
    it = INTERPRETERS.get(request.param)
    if it is None:
        pytest.skip("interpreter %s absent (see test/list-interpreters)" % request.param)
    return it


def run(austinp_bin, args, timeout=90):
    return run_austin([str(a) for a in args], timeout=timeout, binary=austinp_bin)


class Sample:
    def __init__(self, pid, tid, frames, invalid):
        self.pid, self.tid, self.frames, self.invalid = pid, tid, frames, invalid

    def functions(self, path):
        return {f.name for f in self.frames if not f.native and f.file == path}


def parse(text):
    """{pid: [Sample]} of an austinp -C profile, strictly: the header says
    multiprocess, every map line names its process, and every native pc of
    a sample lies in a mapping of its own process announced before it."""
    lines = text.split("\n")
    assert lines[-1] == "", "no final newline"
    lines = lines[:-1]
    for i, key in enumerate(["austin", "interval", "mode", "multiprocess", "python"]):
        m = re.match(r"^# (\w+): (.+)$", lines[i])
        assert m and m.group(1) == key, lines[i]
    assert lines[3] == "# multiprocess: on", lines[3]
    # austinp's count of the samples whose native unwind stopped short
    # comes before Austin's four footer entries, when there are any.
    foot = 6 if lines[-5].startswith("# unwind_stopped: ") else 5
    assert lines[-foot] == "" and lines[-1].startswith("# errors: "), lines[-foot:]
    maps, by_pid, blank = {}, {}, False
    for line in lines[5:-foot]:
        if line == "":
            assert not blank, "two blank lines"
            blank = True
            continue
        m = MAP_RE.match(line)
        if m:
            lo, hi = int(m.group(2), 16), int(m.group(3), 16)
            assert lo < hi, line
            maps.setdefault(int(m.group(1)), []).append((lo, hi))
            continue
        assert blank, "sample before the end of the header: %r" % line
        m = SAMPLE_RE.match(line)
        assert m, "malformed line %r" % line
        pid = int(m.group(1))
        raw = m.group(4)[1:].split(";") if m.group(4) else []
        invalid = bool(raw) and raw[-1] == ":INVALID:"
        if invalid:
            raw = raw[:-1]
        # A stack whose native unwind stopped short is not woven: counted
        # with the invalid ones here.
        invalid = invalid or any(STOP_RE.match(f) for f in raw)
        frames = [Frame(f) for f in raw if not STOP_RE.match(f)]
        own = maps.get(pid, [])
        for f in frames:
            if f.native:
                assert any(lo <= f.pc < hi for lo, hi in own), \
                    "pc %#x of process %d in none of its mappings" % (f.pc, pid)
        by_pid.setdefault(pid, []).append(Sample(pid, int(m.group(3)), frames, invalid))
    return by_pid


def woven(samples, path, function):
    """Valid samples of the function: its Python frames inside native ones
    (the process's entry first, then the interpreter's, then Python)."""
    out = []
    for s in samples:
        if s.invalid or function not in s.functions(path):
            continue
        first_py = next(k for k, f in enumerate(s.frames) if not f.native)
        if first_py > 0 and s.frames[0].native:
            out.append(s)
    return out


def tree(root):
    """The live processes below root (root included), by parent ids."""
    parent = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    parent[int(d)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    out, todo = {root}, [root]
    while todo:
        p = todo.pop()
        for c, pp in parent.items():
            if pp == p and c not in out:
                out.add(c)
                todo.append(c)
    return out


def held_threads(pids):
    """Threads of these processes that are traced or stopped."""
    held = []
    for pid in pids:
        try:
            tids = os.listdir("/proc/%d/task" % pid)
        except OSError:
            continue
        for tid in tids:
            try:
                with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                    st = dict(l.split(":", 1) for l in f if ":" in l)
            except OSError:
                continue
            if st["TracerPid"].strip() != "0" or st["State"].strip()[0] in "tT":
                held.append((pid, tid, st["State"].strip(), st["TracerPid"].strip()))
    return held


def assert_tree_free(root):
    """No process of the tree traced or stopped (a state may lag a little)."""
    pids = tree(root)
    assert len(pids) > 1, "the tree of %d is gone" % root
    held = held_threads(pids)
    for _ in range(20):
        if not held:
            break
        time.sleep(0.05)
        held = held_threads(pids)
    assert not held, held


def test_austinp_children_pool(austinp_bin, sinterp, tmp_path):
    """A pool of 4 launched: each worker sampled under its own pid, its task
    woven into its native stack; the parent never runs a task. (4 to 8 s
    each under load: three interpreters, one of each build kind.)"""
    interp = sinterp
    host_ids, target_ids = interp.side_file(tmp_path)
    path = interp.target(CHILDREN)
    res = run(austinp_bin, ["-C", "-i", "2ms", "-t", "5000"]
              + interp.command(CHILDREN, "pool", 1, target_ids))
    assert res.returncode == 0, res
    ids = read_ids(host_ids, None, ["parent", "worker", "task"], timeout=1)
    os.unlink(host_ids)
    pids = parse(res.stdout)
    parent, workers = ids["parent"][0], ids["worker"]
    assert parent in pids, "no sample of the parent %d: %s" % (parent, sorted(pids))
    assert not any("pool_task" in s.functions(path) for s in pids[parent])
    for w in workers:
        assert w in pids, "worker %d never sampled: %s" % (w, sorted(pids))
        assert {s.tid for s in pids[w]} == {w}, (w, {s.tid for s in pids[w]})
    for t in set(ids["task"]):
        got = woven(pids[t], path, "pool_task")
        assert len(got) >= 3, "worker %d: %d of %d samples woven in pool_task" % (
            t, len(got), len(pids[t]))
    # The tree and nothing else: parent, workers, the pool's helpers.
    assert len(pids) <= 1 + 4 + 3, sorted(pids)


def resolve(path, out):
    r = subprocess.run([RESOLVE, str(path), "-o", str(out)], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_austinp_children_chain(austinp_bin, any_interp, tmp_path):
    """python -> python -> sh -> python, each started by exec (a layout of
    its own): each level sampled under its own pid, its function woven;
    austinp-resolve names the children's native frames from their own
    mappings. (The MOJO copy carries the same samples and map entries; its
    resolution, 2 s more, is left to the unit test of the per-process
    mappings.)"""
    host_ids, target_ids = any_interp.side_file(tmp_path)
    path = any_interp.target(CHILDREN)
    out, copy = tmp_path / "chain.austin", tmp_path / "chain.mojo"
    env = dict(os.environ, PYAUSTIN_MOJO_COPY=str(copy))
    res = subprocess.run([austinp_bin, "-C", "-i", "2ms", "-t", "5000", "-o", str(out)]
                         + any_interp.command(CHILDREN, "chain", 2, 1, target_ids),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                         universal_newlines=True, timeout=90)
    assert res.returncode == 0, res.stderr
    ids = read_ids(host_ids, None, ["level0", "level1", "level2"], timeout=1)
    os.unlink(host_ids)
    text = out.read_text()
    check_mojo_copy(text, copy)
    pids = parse(text)
    levels = {"level%d" % n: ids["level%d" % n][0] for n in range(3)}
    for name, pid in levels.items():
        assert pid in pids, "%s (%d) never sampled: %s" % (name, pid, sorted(pids))
        got = woven(pids[pid], path, name)
        assert len(got) >= 3, "%s (%d): %d of %d samples woven" % (
            name, pid, len(got), len(pids[pid]))
        others = {"level0", "level1", "level2"} - {name}
        assert not any(s.functions(path) & others for s in pids[pid]), name

    # Some of the children's native frames named (a stripped file leaves
    # local functions unnamed), which needs their own mappings: their
    # layouts differ from their parents'.
    resolved = tmp_path / "resolved.austin"
    resolve(out, resolved)
    children = {levels["level1"], levels["level2"]}

    def native_count(text):
        return sum(line.count(";native@0x") for line in text.splitlines()
                   if line.startswith("P") and int(line[1:].split(";", 1)[0]) in children)
    before, after = native_count(text), native_count(resolved.read_text())
    assert before > 0 and after < 0.5 * before, (before, after)


def start_pool(procs, interp, tmp_path, seconds=30):
    host_ids, target_ids = interp.side_file(tmp_path)
    proc = procs.start(interp.command(CHILDREN, "pool", seconds, target_ids))
    ids = read_ids(host_ids, proc, ["parent", "worker", "task"])
    os.unlink(host_ids)
    return proc, ids


def test_austinp_children_sigint_detaches_tree(austinp_bin, any_interp, procs, tmp_path):
    """Attached to a running pool, SIGINT mid-run: every worker was sampled,
    austinp ends its profile and leaves every process of the tree running,
    none traced or stopped."""
    proc, ids = start_pool(procs, any_interp, tmp_path)
    ap = subprocess.Popen([austinp_bin, "-C", "-i", "1ms", "-p", str(proc.pid)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True)
    time.sleep(1.0)
    ap.send_signal(signal.SIGINT)
    out, err = ap.communicate(timeout=10)
    assert ap.returncode == STOPPED_BY_SIGINT, (ap.returncode, err)
    pids = parse(out)
    assert set(ids["worker"]) <= set(pids), (ids, sorted(pids))
    assert_tree_free(proc.pid)
    assert proc.poll() is None


def where_tree(austinp_bin, pid):
    """{pid: (head line, parse_where's threads)} of austinp -C -w pid."""
    res = subprocess.run([austinp_bin, "-C", "-w", str(pid)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    assert res.returncode == 0, res.stderr
    blocks, cur = {}, None
    for line in res.stdout.splitlines():
        if line.startswith("Process "):
            cur = int(line.split()[1])
            blocks[cur] = [line]
        else:
            blocks[cur].append(line)
    for p, lines in blocks.items():
        # parse_where reads one process with its usual head line.
        body = "\n".join(["Process %d  Python 3.0.0  /x" % p] + lines[1:])
        blocks[p] = (lines[0], parse_where(body))
    return blocks


def test_austinp_children_where(austinp_bin, any_interp, procs, tmp_path):
    """-C -w: every Python process of the chain, marked parent or child,
    each with its level function, under native frames; the tree is left
    untraced. Without -C, the target alone."""
    host_ids, target_ids = any_interp.side_file(tmp_path)
    proc = procs.start(any_interp.command(CHILDREN, "chain", 2, 20, target_ids))
    ids = read_ids(host_ids, proc, ["level0", "level1", "level2"])
    levels = [ids["level%d" % n][0] for n in range(3)]
    time.sleep(0.3)  # every level in its level function
    # A thread caught in the vDSO (time.monotonic) has no native frames
    # (austinp does not unwind it): look again, a few times at most, until
    # each level has been seen with its native frames.
    native = set()
    for attempt in range(6):
        blocks = where_tree(austinp_bin, levels[0])
        assert set(blocks) == set(levels), (levels, sorted(blocks))
        for n, pid in enumerate(levels):
            head, threads = blocks[pid]
            assert ("(child)" if n else "(parent)") in head, head
            frames = threads[pid][2]
            assert "level%d" % n in [f[1] for f in frames], (pid, frames)
            first_py = next(k for k, f in enumerate(frames) if f[0] == "py")
            if first_py > 0:
                assert all(f[0] == "c" for f in frames[:first_py]), frames[:first_py + 1]
                native.add(pid)
        assert_tree_free(proc.pid)
        if native == set(levels):
            break
    assert native == set(levels), "never seen with native frames: %s" % (set(levels) - native)
    res = subprocess.run([austinp_bin, "-w", str(levels[0])], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    assert res.returncode == 0 and res.stdout.count("Process ") == 1, res
    assert "(parent)" not in res.stdout
