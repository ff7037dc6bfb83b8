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

import contextlib
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
from test_native_names import (NATIVE_RE, SAMPLE_RE, TARGET, Tally, _samples, check_frame, many_runs, profile_target, where_c_frames,  # noqa: F401
                               run, sampled_frames)
from test_resolve import RESOLVE, check_against_addr2line, file_vaddr


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
            made[interp.label] = (mm, profile_target(interp, tmp, mm.target_dir))
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
    functions = {nt.base_name(x) for _, _, x in m.truth.funcs}
    t = Tally()
    with contextlib.closing(where_c_frames(interp, tmp_path, m.target_dir)) as dumps:
        for frames in dumps:
            for name, where in frames:
                if where != m.path:
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
    assert "%s (%d frames, %d named from its symbol table and MiniDebugInfo)" % (
        m.path, t.named + t.unnamed, t.named) in res.stderr, res.stderr


# --------------------------------------------------------------------------
# debuginfod


def free_port():
    """A port of 127.0.0.1 that nothing listens on (just released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A debuginfod server over a folder holding the twin's debug file
    (--only-keep-debug), up once it serves that file."""

    def __init__(self, m, tmp):
        need("debuginfod", "debuginfod")
        folder = os.path.join(str(tmp), "debuginfod-files")
        os.makedirs(folder, exist_ok=True)
        bid = nt.build_id(m.twin)
        shutil.copy(os.path.join(m.debug_dir, ".build-id", bid[:2], bid[2:] + ".debug"),
                    os.path.join(folder, "pyaustin_many.debug"))
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log = open(os.path.join(str(tmp), "debuginfod.log"), "w")
        self.proc = subprocess.Popen(
            ["debuginfod", "-F", folder, "-p", str(self.port),
             "-d", os.path.join(str(tmp), "debuginfod.sqlite")],
            stdout=self.log, stderr=subprocess.STDOUT)
        # Up and indexed: the file is served (polled; a server that never
        # gets there fails the test after a minute).
        want = "%s/buildid/%s/debuginfo" % (self.url, bid)
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(want, timeout=5) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            assert self.proc.poll() is None, "debuginfod exited: see %s" % self.log.name
            assert time.monotonic() < deadline, "debuginfod did not serve %s" % want
            time.sleep(0.2)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.fixture
def server(interp, many_runs, tmp_path):
    m, _ = many_runs(interp)
    s = Server(m, tmp_path)
    yield s
    s.stop()


def debuginfod_env(urls, cache):
    env = dict(os.environ, DEBUGINFOD_URLS=urls, DEBUGINFOD_CACHE_PATH=str(cache),
               DEBUGINFOD_TIMEOUT="10")
    return env


def test_debuginfod_resolve(interp, many_runs, server, tmp_path):
    """austinp-resolve with DEBUGINFOD_URLS: the stripped module's frames
    named and given lines from the served debug file, as addr2line names
    them from the twin; nothing of the module left unnamed."""
    m, raw = many_runs(interp)
    raw_path = tmp_path / "raw.austin"
    raw_path.write_text(raw)
    t0 = time.monotonic()
    res = run([RESOLVE, raw_path], timeout=300,
              env=debuginfod_env(server.url, tmp_path / "cache"))
    took = time.monotonic() - t0
    assert res.returncode == 0, res.stderr
    with_line = check_against_addr2line(
        raw, res.stdout, ref=lambda path: m.twin if path == m.path else path)
    left = sum(1 for _, fr, _ in _samples(res.stdout) for f in fr
               if nt.module_name(m.path) + "+0x" in f)
    print("%s austinp-resolve with debuginfod: %d frames resolved to lines, %d of the module "
          "left unnamed, %.2f s" % (interp.label, with_line, left, took))
    print(res.stderr.strip())
    assert left == 0
    assert with_line > 0
    assert re.search(r"debuginfod: \d+ debug files asked for, [1-9]\d* found", res.stderr), \
        res.stderr
    # The cache of DEBUGINFOD_CACHE_PATH holds the file now.
    bid = nt.build_id(m.twin)
    assert os.path.exists(tmp_path / "cache" / bid / "debuginfo")


def test_debuginfod_unreachable(interp, many_runs, tmp_path):
    """A server that cannot be reached (a closed port): austinp-resolve
    ends with success, the stripped module's frames kept unnamed (module
    and start), as without any server."""
    m, raw = many_runs(interp)
    raw_path = tmp_path / "raw.austin"
    raw_path.write_text(raw)
    closed = "http://127.0.0.1:%d" % free_port()
    t0 = time.monotonic()
    res = run([RESOLVE, raw_path], timeout=120, env=debuginfod_env(closed, tmp_path / "cache"))
    took = time.monotonic() - t0
    assert res.returncode == 0, res.stderr
    check_against_addr2line(raw, res.stdout)
    kept = sum(1 for _, fr, _ in _samples(res.stdout) for f in fr
               if nt.module_name(m.path) + "+0x" in f)
    t0 = time.monotonic()
    plain = run([RESOLVE, raw_path], timeout=120)
    took_plain = time.monotonic() - t0
    assert plain.returncode == 0, plain.stderr
    print("%s austinp-resolve, server unreachable: %d frames of the module kept unnamed, "
          "%.2f s (%.2f s without DEBUGINFOD_URLS)" % (interp.label, kept, took, took_plain))
    print(res.stderr.strip())
    assert kept > 0
    assert res.stdout == plain.stdout
    assert "a server failed" in res.stderr, res.stderr


def test_debuginfod_where(interp, many_runs, server, tmp_path):
    """austinp -w with DEBUGINFOD_URLS: once the target runs again, the
    stripped module's frames are shown with the twin's functions and the
    lines of its source."""
    m, _ = many_runs(interp)
    functions = {nt.base_name(x) for _, _, x in m.truth.funcs}
    env = debuginfod_env(server.url, tmp_path / "cache")
    t = Tally()
    with contextlib.closing(where_c_frames(interp, tmp_path, m.target_dir, env=env,
                                           timeout=300)) as dumps:
        for frames in dumps:
            for name, where in frames:
                if where == m.path:
                    # No line: DWARF does not cover it (a PLT stub,
                    # which the twin names neither), else the debug
                    # file was not used.
                    t.unnamed += 1
                    ident = nt.IDENTITY_RE.match(re.sub(r"\+0x[0-9a-f]+$", "", name))
                    if not ident or (ident.group(2) != "??" and
                                     m.truth.names(int(ident.group(2), 16))):
                        t.bad("where: %s (%s) without its source line" % (name, where))
                elif where.rsplit(":", 1)[0].endswith("pyaustin_many.c"):
                    t.named += 1
                    if name not in functions:
                        t.bad("where: %s is no function of the module" % name)
            if t.named >= 3:
                break
    t.report("%s where mode with debuginfod, the module" % interp.label)
    assert t.wrong == 0, "\n".join(t.errors)
    assert t.named >= 1, "no frame of the module with its source line"
