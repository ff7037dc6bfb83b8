"""austinp-resolve: native frames of real austinp profiles to file:function:line.

The reference is binutils' addr2line (-f -i -C) run on the same file at the
same address; the address in the file is computed here from the ELF program
headers, independently of austinp-resolve, and checked against the symbol
values that austinp's own frames imply.
"""

import functools
import os
import re
import shutil
import struct
import subprocess
import time
import uuid

import pytest

import mojo
import native_truth as nt
from conftest import BUILDDIR, SRCDIR, assert_one_line_error, check_mojo_copy

from conftest import AUSTINP  # noqa: E402
RESOLVE = os.environ.get("AUSTINP_RESOLVE") or os.path.join(
    BUILDDIR, "src", "resolve", "austinp-resolve")
BUILD_EXT = os.path.join(SRCDIR, "test", "ext", "build-ext")
EXT_SRC = os.path.join(SRCDIR, "test", "ext", "pyaustin_ext.c")
TARGET = "target_ext.py"
BAD_OPTION = 64  # argp's, as Austin's
MALFORMED, INPUT = 65, 66  # ours: Austin has no such case (errors.h)

NATIVE_RE = re.compile(r"^native@0x([0-9a-f]+):([^:;]+):(\d+)$")
# A mapped file, or the vDSO (austinp names its frames from the target's
# image; test_austinp_vdso checks them, the resolver keeps them).
MAP_RE = re.compile(r"^# map: ([0-9a-f]+)-([0-9a-f]+) (/.+|\[vdso\])$")
VDSO = "[vdso]"
SAMPLE_RE = re.compile(r"^(P\d+;T[^;]+)((?:;[^;]+)*) (\d+)$")


def run(argv, timeout=120, **kw):
    return subprocess.run([str(a) for a in argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=timeout, **kw)


def need_tools(*tools):
    for t in tools:
        if shutil.which(t) is None:
            pytest.skip("%s not installed (Debian package binutils or g++)" % t)


@pytest.fixture(scope="session")
def resolve_bin():
    if not os.access(RESOLVE, os.X_OK):
        pytest.fail("austinp-resolve not found at %s" % RESOLVE, pytrace=False)
    if not os.access(AUSTINP, os.X_OK):
        pytest.fail("austinp not found at %s" % AUSTINP, pytrace=False)
    need_tools("addr2line")
    return RESOLVE


# --------------------------------------------------------------------------
# ELF: where a file's code is mapped (the rule of the man page, in Python)


def exec_segments(path):
    """[(page-aligned p_vaddr, page-rounded span)] of the PF_X PT_LOAD segments."""
    with open(path, "rb") as f:
        ident = f.read(64)
        assert ident[:4] == b"\x7fELF", path
        is64 = ident[4] == 2
        if is64:
            phoff, = struct.unpack_from("<Q", ident, 32)
            phentsize, phnum = struct.unpack_from("<HH", ident, 54)
        else:
            phoff, = struct.unpack_from("<I", ident, 28)
            phentsize, phnum = struct.unpack_from("<HH", ident, 42)
        f.seek(phoff)
        data = f.read(phentsize * phnum)
    segs = []
    for i in range(phnum):
        if is64:
            p_type, p_flags, _, p_vaddr, _, _, p_memsz, _ = struct.unpack_from(
                "<IIQQQQQQ", data, i * phentsize)
        else:
            p_type, _, p_vaddr, _, _, p_memsz, p_flags, _ = struct.unpack_from(
                "<IIIIIIII", data, i * phentsize)
        if p_type == 1 and p_flags & 1:
            lo = p_vaddr & ~0xfff
            segs.append((lo, ((p_vaddr + p_memsz + 0xfff) & ~0xfff) - lo))
    return segs


def file_vaddr(path, lo, pc, cache={}):
    if path not in cache:
        cache[path] = exec_segments(path)
    segs = cache[path]
    for base, span in segs:
        if pc - lo < span:
            return pc - (lo - base)
    return pc - (lo - segs[0][0])


# --------------------------------------------------------------------------
# addr2line, the reference


def addr2line(path, addrs):
    """{addr: [(function, file, line)]} innermost first, as addr2line -f -i -C prints."""
    result = {}
    addrs = sorted(set(addrs))
    for k in range(0, len(addrs), 400):
        chunk = addrs[k:k + 400]
        out = run(["addr2line", "-a", "-f", "-i", "-C", "-e", path] + ["%#x" % a for a in chunk])
        assert out.returncode == 0, out.stderr
        lines = out.stdout.splitlines()
        i = 0
        cur = None
        while i < len(lines):
            if re.fullmatch(r"0x[0-9a-f]+", lines[i]) and (cur is None or i + 2 <= len(lines)):
                cur = int(lines[i], 16)
                result[cur] = []
                i += 1
                continue
            func, loc = lines[i], lines[i + 1]
            fname, _, line = loc.rpartition(":")
            line = line.split(" ")[0]  # "12 (discriminator 3)"
            result[cur].append((func, fname, line))
            i += 2
    return result


@functools.lru_cache(maxsize=None)
def demangled(name):
    """A C++ symbol's name as the resolver writes it (c++filt's)."""
    if not name.startswith("_Z"):
        return name
    return run(["c++filt", name]).stdout.strip() or name


def expected_frames(entries, path, sym, original, allowed):
    """The frames austinp-resolve must write, by the rules of its man page:
    DWARF's functions, files and lines where DWARF knows the address (one
    frame per inlined function; the outermost, the function itself, by the
    name of a symbol that holds the address when one does); else the
    function whose symbol holds the address (allowed: the names the rule allows, native_truth); else the
    frame as it was. addr2line, the reference for DWARF, names addresses
    DWARF does not know after the nearest symbol below them, however far
    past its end: that name is never the rule's. An element may be a set:
    any of those frames (aliases of one function)."""
    # No line for the address: addr2line's name then comes from the symbol
    # table (an assembly stub's file may be known, as crti.S's .init).
    if len(entries) == 1 and (entries[0][1] == "??" or entries[0][2] in ("?", "0")):
        if not allowed:
            return [original]
        return [{"%s:%s:0" % (path, n.replace(";", ",")) for n in allowed}]
    frames = []
    for k, (func, fname, line) in reversed(list(enumerate(entries))):
        names = {func}
        if k == len(entries) - 1 and allowed:
            # Outermost: the function that holds the address, by the name
            # of a symbol that holds it (any alias) where one does.
            names = set(allowed) | {demangled(n) for n in allowed}
        elif k == 0:
            # Innermost: DWARF's function, or (a CU without one, as
            # assembly's) the symbol that holds the address, else austinp's.
            names = ({func} if func != "??" else set()) | set(allowed)
            if not names:
                names = {sym}
        elif func == "??":
            names = {sym}
        names = {n.replace(";", ",") for n in names}
        if line in ("?", "0") or fname == "??":
            frames.append({"%s:%s:0" % (path, n) for n in names})
        else:
            frames.append({"%s:%s:%s" % (fname, n, line) for n in names})
    return frames


def frames_match(got, expect):
    return len(got) == len(expect) and all(
        g in e if isinstance(e, set) else g == e for g, e in zip(got, expect))


class Maps:
    """The # map: lines seen so far; a new one replaces those it overlaps."""

    def __init__(self):
        self.maps = []

    def add(self, lo, hi, path):
        self.maps = [m for m in self.maps if m[1] <= lo or m[0] >= hi] + [(lo, hi, path)]

    def find(self, pc):
        for lo, hi, path in self.maps:
            if lo <= pc < hi:
                return lo, path
        raise AssertionError("pc %#x in no map" % pc)


def native_frames(text, root=""):
    """[(sample index, frame index, pc, symbol, offset, is leaf, map lo, host path)]."""
    maps = Maps()
    out = []
    n = 0
    for line in text.splitlines():
        m = MAP_RE.match(line)
        if m:
            maps.add(int(m.group(1), 16), int(m.group(2), 16), m.group(3))
            continue
        m = SAMPLE_RE.match(line)
        if not m:
            continue
        frames = m.group(2)[1:].split(";") if m.group(2) else []
        natives = [i for i, f in enumerate(frames) if NATIVE_RE.match(f)]
        for i in natives:
            nm = NATIVE_RE.match(frames[i])
            pc = int(nm.group(1), 16)
            lo, path = maps.find(pc)
            out.append((n, i, pc, nm.group(2), int(nm.group(3)), i == natives[-1], lo, path))
        n += 1
    return out


def samples(text):
    out = []
    for line in text.splitlines():
        m = SAMPLE_RE.match(line)
        if m:
            out.append((m.group(1), m.group(2)[1:].split(";") if m.group(2) else [],
                        m.group(3)))
    return out


def truth_of(host, path):
    """The sized symbols of host, the file of this machine for the mapped
    path (under a root: its debug files under that root too)."""
    root = host[:-len(path)] if host.endswith(path) and host != path else ""
    return nt.symbols(host, root)


def check_against_addr2line(raw, resolved, ref=lambda path: path):
    """Every frame of resolved is what the rules and addr2line say for raw.
    ref(path): the file of this machine to ask addr2line about a file that
    the profile names, or None when austinp-resolve must keep its frames as
    they were (always the vDSO's).  Returns the number of native frames
    resolved to a line."""
    given_ref = ref
    ref = lambda path: None if path == VDSO else given_ref(path)  # noqa: E731
    natives = native_frames(raw)
    assert natives, "no native frames in the profile"
    by_file = {}
    for _, _, pc, sym, off, leaf, lo, path in natives:
        host = ref(path)
        if host is not None:
            by_file.setdefault(host, set()).add(file_vaddr(host, lo, pc) - (0 if leaf else 1))
    refs = {host: addr2line(host, addrs) for host, addrs in by_file.items()}

    # The bias computed here agrees with the symbols austinp named the
    # frames with: the start of a symbol of that name (or of a piece of
    # that function) that holds the address, plus the offset, is the
    # address in the file.
    checked = 0
    for _, _, pc, sym, off, leaf, lo, path in natives:
        host = ref(path)
        if host is None:
            continue
        vaddr = file_vaddr(host, lo, pc)
        starts = [v for v, _, n in truth_of(host, path).containing(vaddr - (0 if leaf else 1))
                  if nt.base_name(n) == sym]
        if starts:
            assert any(v + off == vaddr for v in starts), (path, sym, off, hex(pc))
            checked += 1
    assert checked > 0, "no native frame named by a symbol of its file's tables"

    raw_s, res_s = samples(raw), samples(resolved)
    assert len(raw_s) == len(res_s), "sample count changed: %d -> %d" % (len(raw_s), len(res_s))
    where = {(n, i): (pc, sym, leaf, lo, path) for n, i, pc, sym, _, leaf, lo, path in natives}
    with_line = 0
    for n, ((head, frames, metric), (rhead, rframes, rmetric)) in enumerate(zip(raw_s, res_s)):
        assert (head, metric) == (rhead, rmetric)
        expect = []
        for i, f in enumerate(frames):
            if (n, i) not in where:
                expect.append(f)  # Python, kernel and :INVALID: frames pass
                continue
            pc, sym, leaf, lo, path = where[(n, i)]
            host = ref(path)
            if host is None:
                expect.append(f)
                continue
            addr = file_vaddr(host, lo, pc) - (0 if leaf else 1)
            fr = expected_frames(refs[host][addr], path, sym, f, truth_of(host, path).symbol_names(addr))
            last = fr[-1] if isinstance(fr[-1], str) else next(iter(fr[-1]))
            with_line += not last.endswith(":0") and fr != [f]
            expect.extend(fr)
        assert frames_match(rframes, expect), "sample %d differs:\nraw:      %s\nresolved: %s\nexpected: %s" % (
            n, frames, rframes, expect)
    return with_line


# --------------------------------------------------------------------------
# Profiles of the test extension


def build_ext(interp, tmp_path, src_dir=None):
    """(module path on this machine, its directory as the target sees it)."""
    if interp.root is None:
        target_dir = str(tmp_path / "ext")
        host_root = ""
    else:
        target_dir = "/tmp/austin-resolve-%s" % uuid.uuid4().hex[:12]
        host_root = interp.root
    res = run([BUILD_EXT, " ".join(interp.argv), target_dir], timeout=300)
    if res.returncode != 0:
        pytest.fail("build-ext failed for %s: %s" % (interp.label, res.stderr))
    return host_root + res.stdout.strip(), target_dir


def profile(interp, tmp_path, ext_dir, seconds=2, mojo_copy=None, binary=False):
    """The path of a profile of the extension: text, or MOJO with binary;
    mojo_copy: a path for the MOJO copy of the same (text) run."""
    host_ids, target_ids = interp.side_file(tmp_path)
    out = tmp_path / ("p-%s.%s" % (uuid.uuid4().hex[:8], "mojo" if binary else "austin"))
    env = dict(os.environ)
    env.pop("PYAUSTIN_MOJO_COPY", None)
    if mojo_copy is not None:
        env["PYAUSTIN_MOJO_COPY"] = str(mojo_copy)
    res = run([AUSTINP, "-x", seconds, "-o", out] + (["-b"] if binary else []) +
              interp.command(TARGET, seconds + 3, target_ids, ext_dir), env=env)
    assert res.returncode == 0, res.stderr
    if os.path.exists(host_ids):
        os.unlink(host_ids)
    return out


def resolve(args, timeout=120):
    return run([RESOLVE] + [str(a) for a in args], timeout=timeout)


def source_line(text):
    """The line number of the first line of the extension's source holding text."""
    with open(EXT_SRC) as f:
        for n, line in enumerate(f, 1):
            if text in line:
                return n
    raise AssertionError("%r not in %s" % (text, EXT_SRC))


def ext_mix_lines():
    first = source_line("ext_mix(uint64_t x) {")
    last = source_line("return x;")
    return range(first, last + 2)


@pytest.fixture(scope="module")
def ext_profiles(tmp_path_factory):
    """Per interpreter, one austinp profile of the extension (text, with
    the MOJO copy of the same run) and the text resolved: made once, read
    by the tests below (each run and resolution takes seconds). The
    extension stays until the module ends: resolving needs its file."""
    made, roots = {}, []

    def get(interp):
        if interp.label not in made:
            tmp = tmp_path_factory.mktemp("ext-%s" % interp.label)
            module, ext_dir = build_ext(interp, tmp)
            if interp.root is not None:
                roots.append(interp.root + ext_dir)
            copy = tmp / "copy.mojo"
            raw_path = profile(interp, tmp, ext_dir, mojo_copy=copy)
            made[interp.label] = (raw_path, copy, resolve([raw_path]))
        return made[interp.label]

    yield get
    for d in roots:
        shutil.rmtree(d, ignore_errors=True)


def test_resolve_matches_addr2line(resolve_bin, interp, ext_profiles):
    """Every native frame of a real austinp profile, resolved, is what
    addr2line says; the always_inline ext_mix is a frame of its own inside
    ext_spin_loop, at the line that calls it."""
    raw_path, _, res = ext_profiles(interp)
    assert res.returncode == 0, res.stderr
    raw = raw_path.read_text()
    with_line = check_against_addr2line(raw, res.stdout)
    assert with_line > 0, "no frame resolved to a source line"
    m = re.search(r"(\d+) native frames: (\d+) resolved to source lines, (\d+) to functions "
                  r"only, (\d+) kept", res.stderr)
    assert m, res.stderr
    assert int(m.group(1)) == len(native_frames(raw)), res.stderr

    # The extension, built -O2 -g here: its frames all have lines.
    call = source_line("acc = ext_mix(acc + i)")
    mix = ext_mix_lines()
    inlined = 0
    for _, frames, _ in samples(res.stdout):
        for a, b in zip(frames, frames[1:]):
            fa, fb = a.rsplit(":", 2), b.rsplit(":", 2)
            if fa[1] == "ext_spin_loop" and fb[1] == "ext_mix":
                assert fa[0].endswith("pyaustin_ext.c") and fb[0] == fa[0], (a, b)
                assert int(fa[2]) == call, (a, b)
                assert int(fb[2]) in mix, (a, b)
                inlined += 1
    assert inlined > 0, "ext_mix never shows inside ext_spin_loop"
    assert any(f.rsplit(":", 2)[1] == "ext_call_loop" for _, fr, _ in samples(res.stdout)
               for f in fr)


@pytest.fixture
def host_interp(any_interp):
    if any_interp.root is not None:
        pytest.skip("no interpreter outside a chroot (pyenv or Debian's python3.11) to build for")
    return any_interp


def python_include(interp):
    out = run(interp.argv + ["-c", "import sysconfig; print(sysconfig.get_paths()['include']); "
                             "print(sysconfig.get_config_var('EXT_SUFFIX'))"])
    assert out.returncode == 0, out.stderr
    inc, suffix = out.stdout.split()
    return inc, suffix


def test_resolve_cpp_demangled(resolve_bin, host_interp, tmp_path):
    """A C++ extension (g++ -O2 -g, built here): its frames carry demangled
    names, as addr2line -C gives them."""
    need_tools("g++")
    inc, suffix = python_include(host_interp)
    ext_dir = tmp_path / "cpp"
    ext_dir.mkdir()
    module = ext_dir / ("pyaustin_cpp" + suffix)
    res = run(["g++", "-O2", "-g", "-fPIC", "-shared", "-I" + inc, "-o", module,
               os.path.join(SRCDIR, "test", "ext", "pyaustin_cpp.cpp")], timeout=300)
    assert res.returncode == 0, res.stderr
    host_ids, target_ids = host_interp.side_file(tmp_path)
    raw_path = tmp_path / "cpp.austin"
    res = run([AUSTINP, "-x", 2, "-o", raw_path] +
              host_interp.command("target_cpp.py", 5, target_ids, ext_dir))
    assert res.returncode == 0, res.stderr
    res = resolve([raw_path])
    assert res.returncode == 0, res.stderr
    raw = raw_path.read_text()
    check_against_addr2line(raw, res.stdout)
    names = set()
    for _, frames, _ in samples(res.stdout):
        for f in frames:
            m = re.match(r"^(.*pyaustin_cpp\.cpp):(.+):(\d+)$", f)
            if m:
                names.add(m.group(2))
    assert "pyaustin::Spinner<unsigned long>::spin(unsigned long) const" in names, names
    assert "pyaustin::Spinner<unsigned long>::step(unsigned long, unsigned long)" in names, names
    assert not any(n.startswith("_Z") for n in names), names
    # The raw profile named them mangled: the names are ours, not austinp's.
    assert "_ZNK8pyaustin7SpinnerImE4spinEm" in raw


def objcopy(*args):
    res = run(["objcopy"] + [str(a) for a in args])
    assert res.returncode == 0, res.stderr


def build_id(path):
    out = run(["readelf", "-n", path]).stdout
    m = re.search(r"Build ID: ([0-9a-f]+)", out)
    assert m, "no build-id in %s (gcc links with --build-id on Debian)" % path
    return m.group(1)


@pytest.mark.parametrize("layout", ["debuglink-beside", "debuglink-dot-debug",
                                    "build-id-root", "build-id-debug-dir", "no-debug-file"])
def test_resolve_separate_debug(resolve_bin, host_interp, tmp_path, layout):
    """The extension stripped of its DWARF, its debug file found through
    .gnu_debuglink or only by build-id (under --root or --debug-dir): its
    frames resolve as the unstripped file's do under addr2line."""
    need_tools("objcopy", "readelf")
    orig, _ = build_ext(host_interp, tmp_path)
    name = os.path.basename(orig)
    root = tmp_path / "root"
    ext_dir = root / "opt" / "ext"
    ext_dir.mkdir(parents=True)
    module = ext_dir / name
    shutil.copy(orig, module)
    debug = tmp_path / (name + ".debug")
    objcopy("--only-keep-debug", module, debug)
    objcopy("--strip-debug", "--remove-section=.gnu_debuglink", module)
    args = []
    if layout.startswith("debuglink"):
        objcopy("--add-gnu-debuglink=%s" % debug, module)
        dest = ext_dir if layout == "debuglink-beside" else ext_dir / ".debug"
        dest.mkdir(exist_ok=True)
        shutil.move(str(debug), str(dest / debug.name))
    elif layout.startswith("build-id"):
        bid = build_id(module)
        base = root / "usr" / "lib" / "debug" if layout == "build-id-root" else tmp_path / "dbg"
        dest = base / ".build-id" / bid[:2]
        dest.mkdir(parents=True)
        shutil.move(str(debug), str(dest / (bid[2:] + ".debug")))
        args = ["--root", root] if layout == "build-id-root" else ["--debug-dir", base]
    assert run(["readelf", "-S", module]).stdout.count(".debug_info") == 0

    raw_path = profile(host_interp, tmp_path, ext_dir)
    raw = raw_path.read_text()
    host_module = str(module)
    if layout == "build-id-root":
        # A profile of a container: its paths are the container's.
        raw = raw.replace(" " + host_module + "\n", " /opt/ext/" + name + "\n")
        assert "/opt/ext/" + name in raw
        raw_path.write_text(raw)
    res = resolve(args + [raw_path])
    assert res.returncode == 0, res.stderr

    def ref(path):
        if path.endswith("/" + name):
            return orig if layout != "no-debug-file" else host_module
        return None if layout == "build-id-root" else path

    check_against_addr2line(raw, res.stdout, ref)
    resolved_ext = [f for _, fr, _ in samples(res.stdout) for f in fr
                    if f.rsplit(":", 2)[0].endswith("pyaustin_ext.c")]
    if layout == "no-debug-file":
        assert not resolved_ext
        assert "no debug info for %s" % host_module in res.stderr, res.stderr
    else:
        assert resolved_ext, "no frame of the extension resolved to its source"
        assert name not in res.stderr, res.stderr
    if layout == "build-id-root":
        # Files of the host that the container root lacks are reported.
        assert re.search(r"cannot read /\S+python", res.stderr), res.stderr


# --------------------------------------------------------------------------
# Bad input, streaming


@pytest.fixture(scope="module")
def small_run(tmp_path_factory, request):
    """A short real profile of the extension (one interpreter outside a
    chroot): (text, the MOJO copy of the same run)."""
    from conftest import INTERPRETERS
    interp = next((INTERPRETERS[l] for l in ("pyenv-3.12", "debian-3.11", "pyenv-3.11",
                                             "pyenv-3.13") if l in INTERPRETERS), None)
    if interp is None:
        pytest.skip("no pyenv-3.11/3.12/3.13 or debian-3.11 interpreter")
    tmp = tmp_path_factory.mktemp("small")
    _, ext_dir = build_ext(interp, tmp)
    copy = tmp / "small.mojo"
    text = profile(interp, tmp, ext_dir, seconds=1, mojo_copy=copy).read_text()
    check_mojo_copy(text, copy)
    return text, copy.read_bytes()


@pytest.fixture(scope="module")
def small_profile(small_run):
    return small_run[0]


@pytest.fixture(scope="module")
def small_mojo(small_run):
    return small_run[1]


def watch_hwm(proc):
    """Poll the VmHWM of proc until it ends: the peak of its own memory
    since exec (its ru_maxrss would also count the pytest process it was
    forked from). Returns (thread, [peak KiB])."""
    import threading
    hwm = [0]

    def watch():
        while proc.poll() is None:
            try:
                with open("/proc/%d/status" % proc.pid) as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            hwm[0] = max(hwm[0], int(line.split()[1]))
            except OSError:
                break
            time.sleep(0.005)
    t = threading.Thread(target=watch)
    t.start()
    return t, hwm


def first_line(lines, pred):
    return next(i for i, l in enumerate(lines) if pred(l))


def mutate_first_native(text, fn):
    """(text with fn applied to the first native frame, its line number)."""
    lines = text.split("\n")
    i = first_line(lines, lambda l: "native@0x" in l and l.startswith("P"))
    frames = lines[i].split(";")
    j = next(k for k, f in enumerate(frames) if f.startswith("native@0x"))
    frames[j] = fn(frames[j])
    lines[i] = ";".join(frames)
    return "\n".join(lines), i + 1


def bad_inputs(text):
    lines = text.split("\n")
    sample = first_line(lines, lambda l: l.startswith("P"))
    mapl = first_line(lines, lambda l: l.startswith("# map: "))
    cut = "\n".join(lines[:sample + 3]) + "\n" + lines[sample + 3][:len(lines[sample + 3]) // 2]
    no_metric = list(lines)
    no_metric[sample] = lines[sample].rsplit(" ", 1)[0]
    bad_map = list(lines)
    bad_map[mapl] = lines[mapl].replace("# map: ", "# map: z", 1)
    garbage = list(lines)
    garbage.insert(sample + 1, "this is not a sample")
    yield "truncated", cut, "line %d: truncated" % (sample + 4)
    yield "no-metric", "\n".join(no_metric), "line %d: truncated sample" % (sample + 1)
    t, n = mutate_first_native(text, lambda f: f.replace("native@0x", "native@0xg", 1))
    yield "bad-hex-frame", t, "line %d: bad hexadecimal" % n
    t, n = mutate_first_native(text, lambda f: "native@0x" + "f" * 17 + f[f.index(":"):])
    yield "long-hex-frame", t, "line %d: bad hexadecimal" % n
    t, n = mutate_first_native(text, lambda f: f.rsplit(":", 1)[0])
    yield "no-offset", t, "line %d: truncated native frame" % n
    t, n = mutate_first_native(text, lambda f: "native@0x10" + f[f.index(":"):])
    yield "unknown-map", t, "line %d: address in no '# map:' line" % n
    yield "bad-hex-map", "\n".join(bad_map), "line %d: bad hexadecimal" % (mapl + 1)
    yield "garbage-line", "\n".join(garbage), "line %d: neither a sample" % (sample + 2)
    yield "not-austin", "hello, world\n" + text, "not an Austin profile"
    yield "empty", "", "empty input"


@pytest.mark.parametrize("case", ["truncated", "no-metric", "bad-hex-frame", "long-hex-frame",
                                  "no-offset", "unknown-map", "bad-hex-map", "garbage-line",
                                  "not-austin", "empty"])
def test_resolve_bad_input(resolve_bin, small_profile, tmp_path, case):
    name, text, message = next(c for c in bad_inputs(small_profile) if c[0] == case)
    path = tmp_path / "bad.austin"
    path.write_text(text)
    res = resolve(["-o", tmp_path / "out", path])
    assert_one_line_error(res, MALFORMED)
    assert message in res.stderr, res.stderr
    assert str(path) in res.stderr, res.stderr
    # The same from standard input.
    with open(path) as f:
        res = run([RESOLVE], stdin=f)
    assert_one_line_error(res, MALFORMED)
    assert message in res.stderr and "standard input" in res.stderr, res.stderr


def test_resolve_other_inputs(resolve_bin, tmp_path):
    res = resolve([tmp_path / "missing.austin"])
    assert_one_line_error(res, INPUT)
    assert "missing.austin" in res.stderr
    res = resolve(["/bin/true"])
    assert_one_line_error(res, MALFORMED)
    assert "not an Austin profile" in res.stderr
    bad_version = tmp_path / "p.mojo"
    bad_version.write_bytes(b"MOJ\x00\x03\x07\x00")
    res = resolve([bad_version])
    assert_one_line_error(res, MALFORMED)
    assert "p.mojo: offset 3: MOJO version 0, not 3" in res.stderr
    res = resolve(["a", "b"])
    assert_one_line_error(res, BAD_OPTION)


def test_resolve_damaged_never_crashes(resolve_bin, small_profile, tmp_path):
    """Random cuts and byte changes: a resolved profile or one line and
    status 65, never a signal."""
    import random
    rng = random.Random(1234)
    lines = small_profile.split("\n")
    sample = first_line(lines, lambda l: l.startswith("P"))
    base = "\n".join(lines[:sample + 30] + lines[-6:])
    data = base.encode()
    path = tmp_path / "damaged.austin"
    # A dozen end-to-end runs of the program (each loads the debug
    # information of the profile's files); test/fuzz's fuzz_resolve_* feed
    # the same readers millions of inputs in-process.
    outcomes = {0: 0, MALFORMED: 0}
    for k in range(12):
        d = bytearray(data)
        if k % 3 == 0:
            d = d[:rng.randrange(len(d))]
        else:
            for _ in range(rng.randrange(1, 4)):
                d[rng.randrange(len(d))] = rng.choice(b"0fg:; \n#P@x\x00\xff")
        path.write_bytes(bytes(d))
        res = subprocess.run([RESOLVE, "-q", str(path)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, timeout=60)
        res.stderr = res.stderr.decode(errors="replace")
        assert res.returncode in outcomes, "status %d for damaged input %d: %s" % (
            res.returncode, k, res.stderr)
        outcomes[res.returncode] += 1
        if res.returncode:
            assert_one_line_error(res, MALFORMED)
    assert outcomes[0] and outcomes[MALFORMED], outcomes


def test_resolve_streams_in_bounded_memory(resolve_bin, small_profile):
    """The same samples 1 and 8 times over: the peak memory is the same
    (within a few MiB), the output is streamed, and pass-through is exact."""
    lines = small_profile.split("\n")
    sample = first_line(lines, lambda l: l.startswith("P"))
    head, body, foot = lines[:sample], [l for l in lines[sample:-6] if l], lines[-6:]
    body = (body * (1 + 20000 // len(body)))[:20000]

    def peak(times):
        """The largest VmHWM of the resolver seen while it runs (polled):
        the peak of its own memory since exec (a child's ru_maxrss would
        also count the pytest process it was forked from)."""
        import threading
        proc = subprocess.Popen([RESOLVE, "-q"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)

        def feed():
            proc.stdin.write(("\n".join(head) + "\n").encode())
            chunk = ("\n".join(body) + "\n").encode()
            for _ in range(times):
                proc.stdin.write(chunk)
            proc.stdin.write("\n".join(foot).encode())
            proc.stdin.close()

        watcher, hwm = watch_hwm(proc)
        threads = [threading.Thread(target=feed), watcher]
        threads[0].start()
        nlines = 0
        for line in proc.stdout:
            nlines += 1
        assert proc.wait() == 0, proc.stderr.read()
        for t in threads:
            t.join()
        proc.stderr.close()
        assert nlines == len(head) + times * len(body) + len(foot) - 1
        assert hwm[0], "no VmHWM read"
        return hwm[0]  # KiB

    small, large = peak(1), peak(8)
    assert large - small < 8 * 1024, "peak RSS %d KiB for 1x, %d KiB for 8x" % (small, large)


def test_resolve_kernel_frames_pass(resolve_bin, small_profile, tmp_path):
    """Kernel frames (austinp -k) after the innermost native frame pass
    unchanged, and that native frame is still looked up at its pc."""
    out = []
    added = 0
    for line in small_profile.split("\n"):
        m = SAMPLE_RE.match(line)
        if m and "native@0x" in line and not line.endswith(":INVALID: " + m.group(3)):
            line = "%s%s;kernel:do_syscall_64:0;kernel:futex_wait:0 %s" % m.groups()
            added += 1
        out.append(line)
    assert added
    raw = "\n".join(out)
    path = tmp_path / "k.austin"
    path.write_text(raw)
    res = resolve([path])
    assert res.returncode == 0, res.stderr
    check_against_addr2line(raw, res.stdout)
    assert res.stdout.count(";kernel:do_syscall_64:0;kernel:futex_wait:0 ") == added


# --------------------------------------------------------------------------
# MOJO (austinp -b)


def mojo_text(data):
    """A MOJO profile as Austin's text format, its metadata (# map: lines
    included) where the stream has them between the samples."""
    prof = mojo.decode(data)
    lines, meta, samples = [], iter(prof.metadata), iter(prof.text_lines())
    for _, ev, _ in mojo.events(data):
        if ev == mojo.METADATA:
            lines.append("# %s: %s" % next(meta))
        elif ev == mojo.STACK:
            lines.append(next(samples))
    return "\n".join(lines) + "\n"


def text_names(line):
    """The text format's escapes of names (';' -> ',', line breaks -> spaces),
    which MOJO, whose strings end with NUL, does without."""
    head, _, rest = line.partition(";")
    if not rest:
        return line
    frames, _, metric = rest.rpartition(" ")
    frames = [f.replace("\n", " ").replace("\r", " ") for f in frames.split(";")]
    return ";".join([head] + frames) + " " + metric


def summary(stderr):
    m = re.search(r"\d+ native frames: .*", stderr)
    assert m, stderr
    return m.group(0)


def test_resolve_mojo_same_as_text(resolve_bin, interp, ext_profiles, tmp_path):
    """One austinp run, in text and in MOJO (its PYAUSTIN_MOJO_COPY), each
    resolved: the resolved MOJO decodes to the same metadata and stacks as
    the resolved text, with the same counts; Python frames keep their
    columns (3.11+), which text has not."""
    raw_path, copy, text = ext_profiles(interp)
    raw = raw_path.read_text()
    check_mojo_copy(raw, copy)  # the two inputs carry the same samples
    assert text.returncode == 0, text.stderr
    out = tmp_path / "resolved.mojo"
    res = resolve(["-o", out, copy])
    assert res.returncode == 0, res.stderr
    assert summary(res.stderr) == summary(text.stderr)
    assert res.stderr == text.stderr.replace(str(raw_path), str(copy))

    resolved = mojo.decode(out.read_bytes())
    lines = text.stdout.split("\n")
    meta = [tuple(l[2:].split(": ", 1)) for l in lines if l.startswith("# ")]
    assert resolved.metadata == meta
    expect = [l for l in lines if l.startswith("P")]
    got = [text_names(l) for l in resolved.text_lines()]
    assert len(got) == len(expect) and got == expect, next(
        (e, g) for e, g in zip(expect, got) if e != g)
    assert any(f.filename.endswith("pyaustin_ext.c") and f.line > 0
               for s in resolved.samples for f in s.frames), "nothing resolved"

    def python_frames(prof):
        return [[f for f in s.frames if f.filename.endswith(".py")] for s in prof.samples]
    before = python_frames(mojo.decode(copy.read_bytes()))
    after = python_frames(resolved)
    assert [[repr(f) for f in s] for s in before] == [[repr(f) for f in s] for s in after]
    if interp.version_info >= (3, 11):
        assert any(f.column for s in after for f in s), "no column in Python frames"


def test_resolve_mojo_binary_run(resolve_bin, host_interp, tmp_path):
    """A real `austinp -b` profile: every native frame of the resolved MOJO
    is what addr2line says, as for text; the output is MOJO."""
    module, ext_dir = build_ext(host_interp, tmp_path)
    raw_path = profile(host_interp, tmp_path, ext_dir, binary=True)
    data = raw_path.read_bytes()
    assert data[:3] == b"MOJ"
    out = tmp_path / "resolved.mojo"
    res = resolve([raw_path, "-o", out])
    assert res.returncode == 0, res.stderr
    raw = mojo_text(data)
    with_line = check_against_addr2line(raw, mojo_text(out.read_bytes()))
    assert with_line > 0, "no frame resolved to a source line"
    m = re.search(r"(\d+) native frames", res.stderr)
    assert m and int(m.group(1)) == len(native_frames(raw)), res.stderr
    # Standard input and output too.
    with open(raw_path, "rb") as f:
        piped = subprocess.run([RESOLVE, "-q"], stdin=f, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=120)
    assert piped.returncode == 0 and piped.stderr == b"", piped.stderr
    assert piped.stdout == out.read_bytes()


def replace_event(data, index, new):
    """data with its index-th event (of mojo.events) replaced by the bytes new."""
    evs = mojo.events(data)
    start = evs[index][0]
    end = evs[index + 1][0] if index + 1 < len(evs) else len(data)
    return data[:start] + new + data[end:], start


def find_event(data, pred):
    """The index of the first event (offset, event, fields) for which pred holds."""
    return next(i for i, e in enumerate(mojo.events(data)) if pred(e))


def first_native_ref(data):
    """(index, offset) of the first FRAME_REF to a native frame."""
    strings, frames = {}, {}
    for i, (off, ev, f) in enumerate(mojo.events(data)):
        if ev == mojo.STRING:
            strings[f[0]] = f[1]
        elif ev == mojo.FRAME:
            frames[f[0]] = strings.get(f[1], "")
        elif ev == mojo.FRAME_REF and frames.get(f[0], "").startswith("native@0x"):
            return i, off
    raise AssertionError("no native frame in the profile")


def bad_mojo_inputs(data):
    """(name, damaged stream, what the message must say) for each case."""
    evs = mojo.events(data)
    frame = find_event(data, lambda e: e[1] == mojo.FRAME)
    off = evs[frame][0]
    yield "cut-short", data[:off + 3], "offset %d: FRAME event: truncated" % off
    string = find_event(data, lambda e: e[1] == mojo.STRING)
    off = evs[string][0]
    yield "cut-in-string", data[:off + 4], "offset %d: STRING event: truncated" % off
    ref = find_event(data, lambda e: e[1] == mojo.FRAME_REF)
    off = evs[ref][0]
    yield "bad-event", data[:off] + b"\x2a" + data[off + 1:], "offset %d: unknown event 42" % off
    t, off = replace_event(data, ref, b"\x05" + b"\xff" * 10 + b"\x01")
    yield "bad-varint", t, "offset %d: FRAME_REF event: integer longer than 10 bytes" % off
    t, off = replace_event(data, ref, b"\x05" + b"\xff" * 9 + b"\x7f")
    yield "varint-beyond-64-bits", t, "offset %d: FRAME_REF event: integer longer" % off
    t, off = replace_event(data, ref, mojo.encode_event(mojo.FRAME_REF, [987654]))
    yield "unknown-frame", t, "offset %d: FRAME_REF event: unknown frame reference 987654" % off
    f = evs[frame][2]
    t, off = replace_event(data, frame, mojo.encode_event(mojo.FRAME, [f[0], 876543] + f[2:]))
    yield "unknown-string", t, "offset %d: FRAME event: unknown string reference 876543" % off
    stack = find_event(data, lambda e: e[1] == mojo.STACK)
    t, off = replace_event(data, stack + 1, mojo.encode_event(mojo.STRING_REF, [765432]) +
                           data[evs[stack + 1][0]:evs[stack + 2][0]])
    yield "unknown-string-ref", t, "offset %d: STRING_REF event: unknown string reference" % off
    native = find_event(data, lambda e: e[1] == mojo.STRING and e[2][1].startswith("native@0x"))
    s = evs[native][2]
    t, _ = replace_event(data, native, mojo.encode_event(mojo.STRING, [s[0], "native@0xzz"]))
    user = find_event(t, lambda e: e[1] == mojo.FRAME and s[0] in e[2][1:3])
    yield "bad-native-hex", t, "offset %d: FRAME event: bad hexadecimal address in native " \
        "frame 'native@0xzz'" % mojo.events(t)[user][0]
    no_maps = b"".join(data[o:(evs[i + 1][0] if i + 1 < len(evs) else len(data))]
                       for i, (o, ev, f) in enumerate(evs)
                       if not (ev == mojo.METADATA and f[0] == "map"))
    no_maps = data[:evs[0][0]] + no_maps
    _, off = first_native_ref(no_maps)
    yield "native-no-map", no_maps, "offset %d: FRAME_REF event: address of native frame" % off
    mapi = find_event(data, lambda e: e[1] == mojo.METADATA and e[2][0] == "map")
    t, off = replace_event(data, mapi, mojo.encode_event(
        mojo.METADATA, ["map", "z" + evs[mapi][2][1]]))
    yield "bad-map", t, "offset %d: METADATA event: bad hexadecimal start in map" % off
    t, off = replace_event(data, stack, mojo.encode_event(
        mojo.STACK, evs[stack][2][:2] + ["not-hex"]))
    yield "bad-thread-id", t, "offset %d: STACK event: bad thread id 'not-hex'" % off
    first_meta = evs[0][0]
    t = data[:first_meta] + mojo.encode_event(mojo.FRAME_REF, [1]) + data[first_meta:]
    yield "frame-outside-sample", t, "offset %d: FRAME_REF event: outside a sample" % first_meta
    time_ev = find_event(data, lambda e: e[1] == mojo.TIME)
    off = evs[time_ev + 1][0]
    t = data[:off] + mojo.encode_event(mojo.FRAME_REF, [1]) + data[off:]
    yield "frame-after-metric", t, "offset %d: FRAME_REF event: frame after the flags or " \
        "metrics" % off
    yield "bad-version", b"MOJ" + mojo.encode_int(4) + data[4:], "offset 3: MOJO version 4"
    yield "magic-only", b"MOJ", "offset 3: truncated"


MOJO_CASES = ["cut-short", "cut-in-string", "bad-event", "bad-varint", "varint-beyond-64-bits",
              "unknown-frame", "unknown-string", "unknown-string-ref", "bad-native-hex",
              "native-no-map", "bad-map", "bad-thread-id", "frame-outside-sample",
              "frame-after-metric", "bad-version", "magic-only"]


@pytest.mark.parametrize("case", MOJO_CASES)
def test_resolve_bad_mojo(resolve_bin, small_mojo, tmp_path, case):
    name, data, message = next(c for c in bad_mojo_inputs(small_mojo) if c[0] == case)
    assert data != small_mojo
    path = tmp_path / "bad.mojo"
    path.write_bytes(data)
    res = resolve(["-o", tmp_path / "out", path])
    assert_one_line_error(res, MALFORMED)
    assert "%s: %s" % (path, message) in res.stderr, res.stderr
    with open(path, "rb") as f:
        res = run([RESOLVE, "-o", tmp_path / "out2"], stdin=f)
    assert_one_line_error(res, MALFORMED)
    assert "standard input: " + message in res.stderr, res.stderr


def test_resolve_mojo_cases_are_real(small_mojo):
    """Every case of bad_mojo_inputs is run, and the intact stream is valid."""
    assert [c[0] for c in bad_mojo_inputs(small_mojo)] == MOJO_CASES
    mojo.decode(small_mojo)


def test_resolve_damaged_mojo_never_crashes(resolve_bin, small_mojo, tmp_path):
    """Random cuts and byte changes of a MOJO profile: a resolved profile or
    one line and status 65, never a signal."""
    import random
    rng = random.Random(4321)
    evs = mojo.events(small_mojo)
    stacks = [o for o, ev, _ in evs if ev == mojo.STACK]
    data = small_mojo[:stacks[min(30, len(stacks) - 1)]]
    path = tmp_path / "damaged.mojo"
    outcomes = {0: 0, MALFORMED: 0}  # fewer runs: see the text case above
    for k in range(15):
        d = bytearray(data)
        if k % 3 == 0:
            d = d[:rng.randrange(4, len(d))]
        else:
            for _ in range(rng.randrange(1, 4)):
                d[rng.randrange(4, len(d))] = rng.choice(b"\x00\x01\x02\x03\x05\x0b\x0c\x7f\x80"
                                                         b"\xff0n")
        path.write_bytes(bytes(d))
        res = subprocess.run([RESOLVE, "-q", "-o", str(tmp_path / "out"), str(path)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
        res.stderr = res.stderr.decode(errors="replace")
        assert res.returncode in outcomes, "status %d for damaged input %d: %s" % (
            res.returncode, k, res.stderr)
        outcomes[res.returncode] += 1
        if res.returncode:
            assert_one_line_error(res, MALFORMED)
            assert re.search(r"damaged\.mojo: offset \d+: ", res.stderr), res.stderr
    assert outcomes[0] and outcomes[MALFORMED], outcomes


def test_resolve_mojo_streams_in_bounded_memory(resolve_bin, small_mojo):
    """The samples of a MOJO profile 1, 2 and 8 times over (each copy
    defining its strings and frames again, under the same keys): the peak
    memory is the same (within a few MiB), and the output is streamed:
    each copy after the first adds the same bytes (references only)."""
    evs = mojo.events(small_mojo)
    first = next(o for o, ev, _ in evs if ev == mojo.STACK)
    last_stack = max(i for i, (_, ev, _) in enumerate(evs) if ev == mojo.STACK)
    foot = next(o for o, ev, _ in evs[last_stack:] if ev == mojo.METADATA)
    head, body, tail = small_mojo[:first], small_mojo[first:foot], small_mojo[foot:]
    per_body = sum(1 for _, ev, _ in evs if ev == mojo.STACK)
    copies = 1 + 20000 // per_body
    body = body * copies

    def peak(times):
        import threading
        proc = subprocess.Popen([RESOLVE, "-q"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)

        def feed():
            proc.stdin.write(head)
            for _ in range(times):
                proc.stdin.write(body)
            proc.stdin.write(tail)
            proc.stdin.close()
        t = threading.Thread(target=feed)
        t.start()
        watcher, hwm = watch_hwm(proc)
        out = proc.stdout.read() if times == 1 else None
        size = len(out) if out is not None else sum(iter(lambda: len(proc.stdout.read(1 << 20)),
                                                          0))
        t.join()
        assert proc.wait() == 0, proc.stderr.read()
        watcher.join()
        proc.stderr.close()
        return hwm[0], size, out

    (small, size1, out1), (_, size2, _), (large, size8, _) = peak(1), peak(2), peak(8)
    assert len(mojo.decode(out1).samples) == per_body * copies
    assert size8 - size1 == 7 * (size2 - size1) > 0
    assert large - small < 8 * 1024, "peak RSS %d KiB for 1x, %d KiB for 8x" % (small, large)
