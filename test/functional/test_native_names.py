"""Native names against truth: no name austinp (sampling, where mode) or
austinp-resolve gives may differ from what the file's true symbols say.

The target loads a stripped copy (`strip --strip-all`: .dynsym only) of
test/ext/pyaustin_many.c, many static functions and the pieces GCC makes
of some (.cold, .part.N, .isra.N, .constprop.N); its unstripped twin,
kept elsewhere, is the truth of every address. An unnamed frame must
carry its module and the true start of its function. The other modules
of the profile (the interpreter, the C library...) are checked against
their own symbol tables (and debug files): a name only where a symbol
holds the address. Each test prints its shares: named, unnamed, wrong."""

import contextlib
import os
import re
import shutil
import subprocess
import uuid

import pytest

import native_truth as nt
from conftest import AUSTINP, SRCDIR, wait_ids
from test_resolve import check_against_addr2line, file_vaddr, resolve
from test_where_native import parse_where

BUILD_EXT = os.path.join(SRCDIR, "test", "ext", "build-ext")
TARGET = "target_many.py"
NATIVE_RE = re.compile(r"^native@0x([0-9a-f]+):([^:;]+):(\d+)$")
MAP_RE = re.compile(r"^# map: (?:P\d+ )?([0-9a-f]+)-([0-9a-f]+) (/.+|\[vdso\])$")
SAMPLE_RE = re.compile(r"^(P\d+;T[^;]+)((?:;[^;]+)*) (\d+(?:,\S+)?)$")
# GCC makes these pieces of pyaustin_many.c (the test reports which).
PIECES = ("split_me.cold", "scaled.constprop", "field_sum.isra", "maybe_heavy.part")


def run(argv, **kw):
    return subprocess.run([str(a) for a in argv], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, **kw)


class Many:
    """The stripped module (as the target and as we see it), its twin."""

    def __init__(self, interp, tmp):
        if interp.root is None:
            target_dir, self.root = str(tmp / "many"), ""
        else:
            target_dir, self.root = "/tmp/austin-many-%s" % uuid.uuid4().hex[:12], interp.root
        res = run([BUILD_EXT, " ".join(interp.argv), target_dir, "gcc", "pyaustin_many"],
                  timeout=300)
        if res.returncode != 0:
            pytest.fail("build-ext failed for %s: %s" % (interp.label, res.stderr))
        self.target_dir = target_dir
        # As we open it, and as /proc/PID/maps (read from our root) and
        # so the profile name it, a chroot's prefix included.
        self.host = self.root + res.stdout.strip()
        self.path = self.host
        truth_dir = os.path.join(str(tmp), "truth")
        os.makedirs(truth_dir, exist_ok=True)
        self.twin = os.path.join(truth_dir, os.path.basename(self.host))
        shutil.move(self.host, self.twin)
        res = run(["strip", "--strip-all", "-o", self.host, self.twin])
        assert res.returncode == 0, res.stderr
        self.truth = nt.symbols(self.twin, with_debug=False)
        names = {n for _, _, n in self.truth.funcs}
        self.pieces = sorted(p for p in PIECES if any(n.startswith(p) for n in names))
        # A debug directory holding the twin's DWARF by build-id.
        self.debug_dir = os.path.join(str(tmp), "debug")
        bid = nt.build_id(self.twin)
        assert bid is not None and bid == nt.build_id(self.host)
        d = os.path.join(self.debug_dir, ".build-id", bid[:2])
        os.makedirs(d, exist_ok=True)
        res = run(["objcopy", "--only-keep-debug", self.twin, os.path.join(d, bid[2:] + ".debug")])
        assert res.returncode == 0, res.stderr

    def cleanup(self):
        if self.root:
            shutil.rmtree(self.root + self.target_dir, ignore_errors=True)


def profile_target(interp, tmp, target_dir):
    """One austinp profile (3 s at 1 ms) of TARGET importing the module
    found in target_dir; its text."""
    host_ids, target_ids = interp.side_file(tmp)
    raw = tmp / "raw.austin"
    res = run([AUSTINP, "-i", "1ms", "-x", 3, "-o", raw] +
              interp.command(TARGET, 6, target_ids, target_dir), timeout=120)
    assert res.returncode == 0, res.stderr
    if os.path.exists(host_ids):
        os.unlink(host_ids)
    return raw.read_text()


@pytest.fixture(scope="module")
def many_runs(tmp_path_factory):
    """Per interpreter: the module and one austinp profile of the target."""
    made = {}

    def get(interp):
        if interp.label not in made:
            tmp = tmp_path_factory.mktemp("many-%s" % interp.label)
            m = Many(interp, tmp)
            made[interp.label] = (m, None)
            made[interp.label] = (m, profile_target(interp, tmp, m.target_dir))
        return made[interp.label]

    yield get
    for m, _ in made.values():
        m.cleanup()


class Tally:
    def __init__(self):
        self.named = self.unnamed = self.wrong = 0
        self.errors = []

    def bad(self, what):
        self.wrong += 1
        if len(self.errors) < 10:
            self.errors.append(what)

    def report(self, label):
        total = self.named + self.unnamed
        print("%s: %d native frames: %d named (%.1f%%), %d unnamed (%.1f%%), %d wrong"
              % (label, total, self.named, 100.0 * self.named / max(total, 1), self.unnamed,
                 100.0 * self.unnamed / max(total, 1), self.wrong))


def truth_of(m, path):
    """The true symbols of the mapped file path (the twin for the module).
    Mapped paths are paths of our root (a chroot's prefix included)."""
    if path == m.path:
        return m.truth
    return nt.symbols(path)


def check_frame(m, path, addr, pc_vaddr, name, offset, t, where):
    """One native frame named `name` (with `offset` from its function's
    start) at file address addr (the looked-up address: pc - 1 for a
    return address) of the file mapped from path."""
    truth = truth_of(m, path)
    ident = nt.IDENTITY_RE.match(name)
    if ident and ident.group(1) == nt.module_name(path):
        t.unnamed += 1
        names = truth.names(addr)
        # A module whose symbols name addr (an unstripped one) never gets
        # an identity: its names reach the frame. The stripped module is
        # judged by its twin, whose names the copy lacks.
        if names and path != m.path:
            t.bad("%s: %s unnamed, but %s holds %#x" % (where, name, names, addr))
        start = truth.start(addr)
        if ident.group(2) == "??":
            if start is not None:
                t.bad("%s: %s, but %#x starts at %#x" % (where, name, addr, start))
        elif start is not None and int(ident.group(2), 16) != start:
            t.bad("%s: %s, but the function of %#x starts at %#x" % (where, name, addr, start))
        elif start is not None and offset is not None and start + offset != pc_vaddr:
            t.bad("%s: %s offset %d, but %#x - %#x" % (where, name, offset, pc_vaddr, start))
        return
    t.named += 1
    if name not in truth.names(addr):
        t.bad("%s: named %s at %#x, the truth: %s" % (where, name, addr,
                                                      truth.names(addr) or "no symbol"))


def sampled_frames(text):
    """[(sample, index, pc, name, offset, leaf, map lo, path)] of every
    native frame of a text profile."""
    maps, out = [], []
    for n, line in enumerate(text.splitlines()):
        mm = MAP_RE.match(line)
        if mm:
            lo, hi = int(mm.group(1), 16), int(mm.group(2), 16)
            maps = [x for x in maps if x[1] <= lo or x[0] >= hi] + [(lo, hi, mm.group(3))]
            continue
        sm = SAMPLE_RE.match(line)
        if not sm:
            continue
        frames = sm.group(2)[1:].split(";") if sm.group(2) else []
        # The leaf is the innermost frame of the sample, before the kernel
        # frames and the :INVALID: mark: every other native frame is a
        # return address (looked up at pc - 1).
        inner = len(frames)
        while inner > 0 and (frames[inner - 1].startswith("kernel:")
                             or frames[inner - 1] == ":INVALID:"):
            inner -= 1
        for i, f in enumerate(frames):
            fm = NATIVE_RE.match(f)
            if not fm:
                continue
            pc = int(fm.group(1), 16)
            lo, _, path = next(x for x in maps if x[0] <= pc < x[1])
            if path == "[vdso]":
                continue  # named from the target's image: test_austinp_vdso
            out.append((n, i, pc, fm.group(2), int(fm.group(3)), i == inner - 1, lo, path))
    return out


def test_sampled_names_match_truth(interp, many_runs):
    """austinp's native frames: every name is the truth's, every unnamed
    frame of the stripped module carries its module and the true start
    of its function; most of its frames are unnamed (only PyInit is
    exported), and some return into the pieces GCC made."""
    m, raw = many_runs(interp)
    t, t_mod = Tally(), Tally()
    pieces_seen = set()
    for n, i, pc, name, off, leaf, lo, path in sampled_frames(raw):
        host = path if path != m.path else m.twin
        vaddr = file_vaddr(host, lo, pc)
        addr = vaddr - (0 if leaf else 1)
        for tally in (t, t_mod) if path == m.path else (t,):
            check_frame(m, path, addr, vaddr, name, off, tally, "sample %d frame %d" % (n, i))
        if path == m.path:
            pieces_seen |= {nm for _, _, nm in m.truth.containing(addr) if "." in nm}
    t.report("%s sampling, all modules" % interp.label)
    t_mod.report("%s sampling, the stripped module" % interp.label)
    print("pieces made by the compiler: %s; frames seen in: %s" % (m.pieces, sorted(pieces_seen)))
    assert t.wrong == 0, "\n".join(t.errors)
    assert t_mod.unnamed >= 100, "only %d unnamed frames of the module" % t_mod.unnamed
    assert "split_me.cold" in pieces_seen or "split_me.cold" not in m.pieces, pieces_seen


def where_c_frames(interp, tmp_path, target_dir, env=None, timeout=60, dumps=5):
    """Run TARGET importing the module of target_dir and yield, for each of
    up to `dumps` `austinp -w` of it, the (name, where) of its C frames; the
    target is ended when the caller stops (close the generator)."""
    host_ids, target_ids = interp.side_file(tmp_path)
    proc = subprocess.Popen(interp.command(TARGET, 20, target_ids, target_dir),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        ids = wait_ids(host_ids, proc)
        for _ in range(dumps):
            p = run([AUSTINP, "-w", ids["pid"]], timeout=timeout, env=env)
            assert p.returncode == 0, p.stderr
            yield [(name, where) for _, (_, _, frames) in parse_where(p.stdout).items()
                   for kind, name, where, _ in frames if kind == "c"]
    finally:
        proc.kill()
        proc.wait()


def test_where_names_match_truth(interp, many_runs, tmp_path):
    """austinp -w: the same names, or the same identities, for the frames
    of the stripped module (where mode shows no pc: each frame is checked
    against the function its identity or name gives)."""
    m, _ = many_runs(interp)
    t = Tally()
    with contextlib.closing(where_c_frames(interp, tmp_path, m.target_dir)) as dumps:
        for frames in dumps:
            for name, where in frames:
                if where != m.path:
                    continue
                fm = re.match(r"^(.+)\+0x([0-9a-f]+)$", name)
                fn, off = (fm.group(1), int(fm.group(2), 16)) if fm else (name, None)
                ident = nt.IDENTITY_RE.match(fn)
                if ident and ident.group(2) != "??":
                    start = int(ident.group(2), 16)
                    addr = start + (off or 0)
                    check_frame(m, m.path, addr, addr, fn, off, t, "where %s" % name)
                    if m.truth.start(addr) is None or start not in m.truth.starts:
                        t.bad("where: %s starts no function of the truth" % name)
                elif ident:
                    t.unnamed += 1
                else:
                    t.named += 1
                    # No pc in where mode: the name must at least be a
                    # function of the module that its table exports.
                    if fn not in {nt.base_name(x) for _, _, x in m.truth.funcs}:
                        t.bad("where: %s is no function of the module" % name)
            if t.unnamed >= 3:
                break
    t.report("%s where mode, the stripped module" % interp.label)
    assert t.wrong == 0, "\n".join(t.errors)
    assert t.unnamed >= 1, "no frame of the module in where mode"


def test_resolved_names_match_truth(interp, many_runs, tmp_path):
    """austinp-resolve on the profile: without debug info for the stripped
    module it names nothing there that the truth does not (its frames are
    kept, with their identity); with the twin's debug file (by build-id,
    --debug-dir) every frame of the module is named as addr2line names it
    from the twin's DWARF, inlined frames and lines included."""
    m, raw = many_runs(interp)
    raw_path = tmp_path / "raw.austin"
    raw_path.write_text(raw)
    res = resolve([raw_path])
    assert res.returncode == 0, res.stderr
    check_against_addr2line(raw, res.stdout)
    module_frames = [f for _, fr, _ in _samples(res.stdout) for f in fr
                     if f.startswith(m.path + ":")]
    kept = sum(1 for _, fr, _ in _samples(res.stdout) for f in fr
               if NATIVE_RE.match(f) and nt.module_name(m.path) + "+0x" in f)
    for f in module_frames:
        name = f[len(m.path) + 1:].rsplit(":", 1)[0]
        assert name in {nt.base_name(x) for _, _, x in m.truth.funcs}, f
    print("%s austinp-resolve without debug info: %d frames of the module named, %d kept "
          "unnamed (module+start)" % (interp.label, len(module_frames), kept))
    assert kept > 0

    res = resolve([raw_path, "--debug-dir", m.debug_dir])
    assert res.returncode == 0, res.stderr
    with_line = check_against_addr2line(
        raw, res.stdout, ref=lambda path: m.twin if path == m.path else path)
    left = sum(1 for _, fr, _ in _samples(res.stdout) for f in fr
               if nt.module_name(m.path) + "+0x" in f)
    print("%s austinp-resolve with the debug file: %d frames resolved to lines, %d of the "
          "module left unnamed" % (interp.label, with_line, left))
    assert left == 0
    assert with_line > 0


def _samples(text):
    out = []
    for line in text.splitlines():
        mm = SAMPLE_RE.match(line)
        if mm:
            out.append((mm.group(1), mm.group(2)[1:].split(";") if mm.group(2) else [],
                        mm.group(3)))
    return out


def test_stdlib_names_match_truth(interp, tmp_path):
    """The C code of the standard library (hashlib, zlib, json, re,
    decimal), in the interpreter's own builds (stripped ones for Debian's
    and sid's): every name austinp gives is one a symbol holding the
    address has, and austinp-resolve names nothing else either."""
    host_ids, target_ids = interp.side_file(tmp_path)
    raw_path = tmp_path / "stdlib.austin"
    res = run([AUSTINP, "-i", "1ms", "-x", 3, "-o", raw_path] +
              interp.command("target_stdlib_mix.py", 6, target_ids), timeout=120)
    assert res.returncode == 0, res.stderr
    if os.path.exists(host_ids):
        os.unlink(host_ids)
    raw = raw_path.read_text()
    nobody = type("NoModule", (), {"path": None, "truth": None})()
    t = Tally()
    for n, i, pc, name, off, leaf, lo, path in sampled_frames(raw):
        vaddr = file_vaddr(path, lo, pc)
        check_frame(nobody, path, vaddr - (0 if leaf else 1), vaddr, name, off, t,
                    "sample %d frame %d" % (n, i))
    t.report("%s sampling the standard library's C code" % interp.label)
    assert t.wrong == 0, "\n".join(t.errors)
    assert t.named + t.unnamed > 0
    res = resolve([raw_path])
    assert res.returncode == 0, res.stderr
    check_against_addr2line(raw, res.stdout)
    print("%s austinp-resolve: %s" % (interp.label, res.stderr.splitlines()[0]))
