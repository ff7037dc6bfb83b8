"""Debug info from where people keep it, checked against truth with the
machinery of test_native_names.py (a stripped copy of
test/ext/pyaustin_many.c beside its unstripped twin):

- MiniDebugInfo: a copy carrying a `.gnu_debugdata` section made as the
  distributions make it (the gdb manual's recipe: the function symbols
  .dynsym lacks, in an xz-compressed --only-keep-debug file): its static
  functions are named exactly as the twin names them, in sampling, where
  mode and austinp-resolve.
- debuginfod: a real `debuginfod` server on 127.0.0.1 serving the twin's
  debug file; austinp-resolve and where mode name the stripped module's
  frames with the twin's names and lines; with the server unreachable the
  resolver ends with the frames unnamed and a success status."""

import os
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

import native_truth as nt
from conftest import AUSTINP, wait_ids
from test_native_names import (NATIVE_RE, SAMPLE_RE, TARGET, Tally, _samples, check_frame, many_runs,  # noqa: F401
                               run, sampled_frames)
from test_resolve import RESOLVE, check_against_addr2line, file_vaddr
from test_where_native import parse_where


def need(tool, package):
    if shutil.which(tool) is None:
        pytest.skip("%s not installed (Debian package %s)" % (tool, package))


def make_minidebug(twin, out, work):
    """Write to out a copy of twin stripped to .dynsym that carries a
    MiniDebugInfo section, by the gdb manual's recipe. Returns the number
    of function symbols kept in it."""
    def names(argv):
        res = run(argv)
        assert res.returncode == 0, res.stderr
        return [line.split() for line in res.stdout.splitlines() if line.strip()]
    dynamic = {f[0] for f in names(["nm", "-D", "--format=posix", "--defined-only", twin])}
    funcs = sorted({f[0] for f in names(["nm", "--format=posix", "--defined-only", twin])
                    if len(f) >= 2 and f[1] in ("T", "t") and f[0] not in dynamic})
    keep = os.path.join(work, "keep_symbols")
    with open(keep, "w") as f:
        f.write("".join(n + "\n" for n in funcs))
    mini = os.path.join(work, "mini_debuginfo")
    for argv in (["objcopy", "--only-keep-debug", twin, mini],
                 ["objcopy", "-S", "--remove-section", ".gdb_index", "--remove-section",
                  ".comment", "--keep-symbols=" + keep, mini],
                 ["strip", "--strip-all", "--remove-section", ".comment", "-o", out, twin],
                 ["xz", "-f", mini],
                 ["objcopy", "--add-section", ".gnu_debugdata=" + mini + ".xz", out]):
        res = run(argv)
        assert res.returncode == 0, "%s: %s" % (argv, res.stderr)
    return len(funcs)


class Mini:
    """The stripped module's twin again, as a copy with MiniDebugInfo in a
    folder of its own (the target imports it from there)."""

    def __init__(self, m, tmp):
        self.root, self.twin, self.truth = m.root, m.twin, m.truth
        self.target_dir = m.target_dir + "-mini"
        os.makedirs(self.root + self.target_dir, exist_ok=True)
        self.host = self.path = os.path.join(self.root + self.target_dir,
                                             os.path.basename(m.host))
        self.kept = make_minidebug(m.twin, self.host, str(tmp))

    def cleanup(self):
        shutil.rmtree(self.root + self.target_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def mini_runs(many_runs, tmp_path_factory):
    """Per interpreter: the MiniDebugInfo copy and one austinp profile."""
    made = {}

    def get(interp):
        need("xz", "xz-utils")
        if interp.label not in made:
            m, _ = many_runs(interp)
            tmp = tmp_path_factory.mktemp("mini-%s" % interp.label)
            mm = Mini(m, tmp)
            made[interp.label] = (mm, None)
            host_ids, target_ids = interp.side_file(tmp)
            raw = tmp / "raw.austin"
            res = run([AUSTINP, "-i", "1ms", "-x", 3, "-o", raw] +
                      interp.command(TARGET, 6, target_ids, mm.target_dir), timeout=120)
            assert res.returncode == 0, res.stderr
            if os.path.exists(host_ids):
                os.unlink(host_ids)
            made[interp.label] = (mm, raw.read_text())
        return made[interp.label]

    yield get
    for mm, _ in made.values():
        mm.cleanup()


def check_named(m, addr, name, t, where):
    """A frame of the MiniDebugInfo copy: named as the twin names addr, or
    unnamed only where the twin names nothing."""
    truth = m.truth.names(addr)
    if nt.IDENTITY_RE.match(name):
        t.unnamed += 1
        if truth:
            t.bad("%s: %s unnamed, the twin names %#x %s" % (where, name, addr, truth))
    else:
        t.named += 1
        if name not in truth:
            t.bad("%s: %s at %#x, the twin: %s" % (where, name, addr, truth or "no symbol"))


def test_minidebug_sampled_names(interp, mini_runs):
    """austinp's frames of the MiniDebugInfo copy are the twin's names."""
    m, raw = mini_runs(interp)
    t, t_all = Tally(), Tally()
    for n, i, pc, name, off, leaf, lo, path in sampled_frames(raw):
        host = path if path != m.path else m.twin
        vaddr = file_vaddr(host, lo, pc)
        addr = vaddr - (0 if leaf else 1)
        where = "sample %d frame %d" % (n, i)
        check_frame(m, path, addr, vaddr, name, off, t_all, where)
        if path == m.path:
            check_named(m, addr, name, t, where)
    print("%s: %d function symbols in the MiniDebugInfo section" % (interp.label, m.kept))
    t_all.report("%s sampling with MiniDebugInfo, all modules" % interp.label)
    t.report("%s sampling with MiniDebugInfo, the module" % interp.label)
    assert t_all.wrong == 0 and t.wrong == 0, "\n".join(t_all.errors + t.errors)
    assert t.named >= 100, "only %d named frames of the module" % t.named


def test_minidebug_where_names(interp, mini_runs, tmp_path):
    """austinp -w: the frames of the MiniDebugInfo copy are named, by
    functions of the twin, and no identity stands for a function the twin
    names."""
    m, _ = mini_runs(interp)
    host_ids, target_ids = interp.side_file(tmp_path)
    proc = subprocess.Popen(interp.command(TARGET, 20, target_ids, m.target_dir),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    functions = {nt.base_name(x) for _, _, x in m.truth.funcs}
    try:
        ids = wait_ids(host_ids, proc)
        t = Tally()
        for attempt in range(5):
            p = run([AUSTINP, "-w", ids["pid"]], timeout=60)
            assert p.returncode == 0, p.stderr
            for tid, (_, _, frames) in parse_where(p.stdout).items():
                for kind, name, where, _ in frames:
                    if kind != "c" or where != m.path:
                        continue
                    fm = re.match(r"^(.+)\+0x([0-9a-f]+)$", name)
                    fn = fm.group(1) if fm else name
                    ident = nt.IDENTITY_RE.match(fn)
                    if ident:
                        t.unnamed += 1
                        start = int(ident.group(2), 16) if ident.group(2) != "??" else None
                        if start is None or m.truth.names(start):
                            t.bad("where: %s unnamed, the twin names it" % name)
                    else:
                        t.named += 1
                        if fn not in functions:
                            t.bad("where: %s is no function of the module" % name)
            if t.named >= 3:
                break
    finally:
        proc.kill()
        proc.wait()
    t.report("%s where mode with MiniDebugInfo, the module" % interp.label)
    assert t.wrong == 0, "\n".join(t.errors)
    assert t.named >= 1, "no named frame of the module in where mode"


def module_addrs(m, raw):
    """{sample index: [file address of each frame of the module]}"""
    out = {}
    for n, i, pc, name, off, leaf, lo, path in sampled_frames(raw):
        if path == m.path:
            out.setdefault(n, []).append(file_vaddr(m.twin, lo, pc) - (0 if leaf else 1))
    return out


def test_minidebug_resolved_names(interp, mini_runs, tmp_path):
    """austinp-resolve, with no debug file: every frame of the MiniDebugInfo
    copy named as the twin names its address (no DWARF: one frame each)."""
    m, raw = mini_runs(interp)
    raw_path = tmp_path / "raw.austin"
    raw_path.write_text(raw)
    res = run([RESOLVE, raw_path], timeout=120)
    assert res.returncode == 0, res.stderr
    raw_mod = module_addrs(m, raw)
    # sampled_frames numbers a sample by its line, _samples by its order.
    by_line = {n: k for k, n in enumerate(
        n for n, ln in enumerate(raw.splitlines()) if SAMPLE_RE.match(ln))}
    resolved = _samples(res.stdout)
    t = Tally()
    for n in sorted(raw_mod):
        names = []
        for f in resolved[by_line[n]][1]:
            fm = NATIVE_RE.match(f)
            if f.startswith(m.path + ":"):
                names.append(f[len(m.path) + 1:].rsplit(":", 1)[0])
            elif fm and fm.group(2).startswith(nt.module_name(m.path) + "+"):
                names.append(fm.group(2))
        addrs = raw_mod[n]
        if len(names) != len(addrs):
            t.bad("sample line %d: %d frames of the module, %d resolved" % (n, len(addrs), len(names)))
            continue
        # Resolved frames are outermost first, as the raw ones.
        for a, name in zip(addrs, names):
            check_named(m, a, name, t, "sample line %d" % n)
    t.report("%s austinp-resolve with MiniDebugInfo, the module" % interp.label)
    print(res.stderr.strip())
    assert t.wrong == 0, "\n".join(t.errors)
    assert t.named >= 100, "only %d named frames of the module" % t.named
