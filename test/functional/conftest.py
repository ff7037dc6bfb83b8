"""Shared machinery for the functional tests of austin.

The tests run the real austin binary against real CPython processes, one
parametrization per interpreter listed by test/list-interpreters
--expected (INTERPRETER_LABELS): every interpreter present (an extra pyenv
version too) and every expected one that is absent, whose tests then skip
with a reason naming it.

Environment:
  top_srcdir, top_builddir  set by `make check` (absolute paths)
  AUSTIN                    overrides the binary (default
                            $top_builddir/src/sampler/austin)
"""

import os
import re
import shutil
import signal
import subprocess
import time
import uuid
import zlib
from collections import defaultdict

import pytest

import mojo

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.abspath(os.environ.get("top_srcdir") or os.path.join(HERE, "..", ".."))
BUILDDIR = os.path.abspath(os.environ.get("top_builddir") or SRCDIR)
AUSTIN = os.environ.get("AUSTIN") or os.path.join(BUILDDIR, "src", "sampler", "austin")
AUSTINP = os.environ.get("AUSTINP") or os.path.join(BUILDDIR, "src", "native", "austinp")
TARGETS = os.path.join(SRCDIR, "test", "targets")
LIST_INTERPRETERS = os.path.join(SRCDIR, "test", "list-interpreters")

AUSTIN_VERSION = "3.7.0"

# A suite started from a background job (`cmd &` in a script, nohup)
# inherits SIGINT ignored, and so would every profiler and target it
# starts: the tests that interrupt them would then test nothing. They
# start with the disposition a terminal gives.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# austin's and austinp's status when SIGINT ends a run: Austin 3.7's,
# minus the signal's number.
STOPPED_BY_SIGINT = 256 - signal.SIGINT

# The module the targets share (their ids file), copied beside them.
TARGET_HELPER = "target_ids.py"

# Where targets are copied inside a Debian root (chroot interpreters): one
# folder per source tree, so that two trees testing at once against the same
# cached root never overwrite each other's targets.
ROOT_TARGET_DIR = "/tmp/austin-targets-%08x" % (zlib.crc32(SRCDIR.encode()),)


# --------------------------------------------------------------------------
# Interpreters


class Interpreter:
    def __init__(self, label, minor, argv):
        self.label = label
        self.version_info = tuple(int(x) for x in minor.split("."))
        self.argv = argv
        # "chroot <root> /usr/bin/python3.X": targets run inside the root.
        self.root = argv[1] if argv[0] == "chroot" else None
        self._full_version = None

    def __repr__(self):
        return "<Interpreter %s>" % self.label

    @property
    def qualnames(self):
        """Whether frames carry qualified names (3.11+)."""
        return self.version_info >= (3, 11)

    def name(self, qualname):
        """The function name austin reports for a function of this qualname."""
        return qualname if self.qualnames else qualname.rsplit(".", 1)[-1]

    @property
    def full_version(self):
        if self._full_version is None:
            out = subprocess.run(
                self.argv + ["-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                timeout=60, check=True)
            self._full_version = out.stdout.strip()
        return self._full_version

    def target(self, name):
        """(path to pass to the interpreter, i.e. the path the profile shows)."""
        src = os.path.join(TARGETS, name)
        if self.root is None:
            return os.path.realpath(src)
        if name != TARGET_HELPER:
            self.target(TARGET_HELPER)  # the targets import it
        dst_dir = self.root + ROOT_TARGET_DIR
        os.makedirs(dst_dir, exist_ok=True)
        dst = os.path.join(dst_dir, name)
        with open(src, "rb") as f:
            data = f.read()
        try:
            with open(dst, "rb") as f:
                same = f.read() == data
        except OSError:
            same = False
        if not same:
            tmp = dst + ".%d.tmp" % os.getpid()
            with open(tmp, "wb") as f:
                f.write(data)
            os.rename(tmp, dst)
        return ROOT_TARGET_DIR + "/" + name

    def side_file(self, tmp_path):
        """A fresh file name for the target to write: (host path, target path)."""
        name = "ids-%s.txt" % uuid.uuid4().hex
        if self.root is None:
            p = str(tmp_path / name)
            return p, p
        os.makedirs(self.root + ROOT_TARGET_DIR, exist_ok=True)
        return self.root + ROOT_TARGET_DIR + "/" + name, ROOT_TARGET_DIR + "/" + name

    def command(self, target, *args):
        return self.argv + [self.target(target)] + [str(a) for a in args]


def _list_interpreters():
    out = subprocess.run([LIST_INTERPRETERS, "--expected"], stdout=subprocess.PIPE,
                         universal_newlines=True, check=True).stdout
    found, absent, labels = {}, {}, []
    for line in out.splitlines():
        if line.startswith("# absent: "):
            label, _, why = line[len("# absent: "):].partition(" ")
            absent[label] = why.strip()[1:-1]
            labels.append(label)
            continue
        if not line.strip() or line.startswith("#"):
            continue
        label, minor, argv = line.split("\t")
        found[label] = Interpreter(label, minor, argv.split(" "))
        labels.append(label)
    return found, absent, labels


INTERPRETERS, ABSENT, INTERPRETER_LABELS = _list_interpreters()

# The row of the tests that take no interpreter.
NO_INTERPRETER = "(none)"

# label -> {"passed": n, "failed": n, "skipped": n}
_OUTCOMES = defaultdict(lambda: defaultdict(int))


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "interpreters(*labels): run the test on these interpreters only")


def pytest_generate_tests(metafunc):
    if "interp" in metafunc.fixturenames:
        # @pytest.mark.interpreters(...): a costly test runs on a few.
        only = metafunc.definition.get_closest_marker("interpreters")
        labels = list(only.args) if only else INTERPRETER_LABELS
        metafunc.parametrize("interp", labels, indirect=True)


@pytest.fixture
def interp(request):
    label = request.param
    it = INTERPRETERS.get(label)
    if it is None:
        why = ABSENT.get(label, "not listed by test/list-interpreters")
        pytest.skip("interpreter %s absent: %s" % (label, why))
    return it


@pytest.fixture(scope="session")
def any_interp():
    """One present interpreter, for tests that do not depend on the version."""
    for label in ("pyenv-3.12", "debian-3.11") + tuple(INTERPRETER_LABELS):
        if label in INTERPRETERS:
            return INTERPRETERS[label]
    pytest.skip("no Python interpreter available (see test/list-interpreters)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    callspec = getattr(item, "callspec", None)
    label = callspec.params.get("interp") if callspec else None
    if label is None:
        label = NO_INTERPRETER
    if rep.when == "call":
        _OUTCOMES[label]["xfailed" if hasattr(rep, "wasxfail") else rep.outcome] += 1
    elif rep.outcome != "passed":  # setup/teardown failure or skip
        _OUTCOMES[label]["skipped" if rep.skipped else "failed"] += 1


def _matrix_lines():
    """One line per interpreter: label, full version (or "-"), the counts of
    its tests' outcomes, and its command line or why it is absent."""
    lines = ["%-14s %-10s %6s %6s %7s %7s  %s" % (
        "interpreter", "version", "passed", "failed", "skipped", "xfailed", "command")]
    for label in INTERPRETER_LABELS + [NO_INTERPRETER]:
        counts = _OUTCOMES.get(label, {})
        if label == NO_INTERPRETER:
            if not counts:
                continue
            lines.append("%-14s %-10s %6d %6d %7d %7d  %s" % (
                label, "-", counts.get("passed", 0), counts.get("failed", 0),
                counts.get("skipped", 0), counts.get("xfailed", 0) + counts.get("xpassed", 0),
                "tests that take no interpreter"))
            continue
        it = INTERPRETERS.get(label)
        version = "-"
        if it is not None and any(counts.values()):
            try:
                version = it.full_version
            except (OSError, subprocess.SubprocessError) as e:
                version = "? (%s)" % e.__class__.__name__
        where = " ".join(it.argv) if it else "absent: " + ABSENT.get(label, "?")
        lines.append("%-14s %-10s %6d %6d %7d %7d  %s" % (
            label, version, counts.get("passed", 0), counts.get("failed", 0),
            counts.get("skipped", 0), counts.get("xfailed", 0) + counts.get("xpassed", 0),
            where))
    return lines


def pytest_terminal_summary(terminalreporter):
    """The interpreters the run exercised, with their versions and outcome
    counts; also written to $PYAUSTIN_MATRIX when set (scripts/test-all
    prints it at the end of the whole suite)."""
    tr = terminalreporter
    tr.section("interpreters exercised")
    tr.write_line("austin binary: %s" % AUSTIN)
    lines = _matrix_lines()
    for line in lines:
        tr.write_line(line)
    path = os.environ.get("PYAUSTIN_MATRIX")
    if path:
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")


# --------------------------------------------------------------------------
# Austin binary and processes


@pytest.fixture(scope="session")
def austinp_bin():
    if not (os.path.isfile(AUSTINP) and os.access(AUSTINP, os.X_OK)):
        pytest.fail("austinp binary not found at %s (build it first)" % AUSTINP, pytrace=False)
    return AUSTINP


@pytest.fixture(scope="session")
def austin_bin():
    if not (os.path.isfile(AUSTIN) and os.access(AUSTIN, os.X_OK)):
        pytest.fail("austin binary not found at %s (build it first)" % AUSTIN, pytrace=False)
    return AUSTIN


class Result:
    def __init__(self, args, returncode, stdout, stderr, elapsed):
        self.args = args
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.elapsed = elapsed

    def __repr__(self):
        return "Result(rc=%r, elapsed=%.2fs, args=%r,\nstderr=%r,\nstdout[:2000]=%r)" % (
            self.returncode, self.elapsed, self.args, self.stderr, self.stdout[:2000])


def _output_file(args):
    """The -o/--output file of an austin command line, or None (stdout)."""
    for i, a in enumerate(args):
        if a in ("-o", "--output") and i + 1 < len(args):
            return args[i + 1]
        if a.startswith("--output="):
            return a[len("--output="):]
        if a.startswith("-o") and len(a) > 2:
            return a[2:]
        if not a.startswith("-") and i > 0 and args[i - 1] not in OPTIONS_WITH_VALUE:
            return None  # the command starts here
    return None


OPTIONS_WITH_VALUE = {"-i", "-t", "-x", "-o", "-p", "-w", "-h", "--interval", "--timeout",
                      "--exposure", "--output", "--pid", "--where", "--heap"}


def check_mojo_copy(text, mojo_path):
    """The MOJO copy of a text run decodes to the same metadata and the same
    samples, line for line."""
    with open(mojo_path, "rb") as f:
        prof = mojo.decode(f.read())
    lines = text.split("\n")
    meta = [tuple(l[2:].split(": ", 1)) for l in lines if l.startswith("# ")]
    assert prof.metadata == meta, "MOJO metadata %r != text metadata %r" % (
        prof.metadata, meta)
    samples = [l for l in lines if l.startswith("P")]
    got = prof.text_lines()
    if got != samples:
        diff = next(i for i in range(min(len(got), len(samples)) + 1)
                    if i >= len(got) or i >= len(samples) or got[i] != samples[i])
        raise AssertionError(
            "MOJO copy differs from the text (%d vs %d samples), first at %d:\n"
            "text: %r\nmojo: %r" % (len(samples), len(got), diff,
                                     samples[diff] if diff < len(samples) else None,
                                     got[diff] if diff < len(got) else None))


def run_austin(args, timeout=60, user=None, mojo_copy=True, binary=None):
    """Run austin (or `binary`: austinp) with the given arguments; returns a
    Result.

    Every text profile that austin writes is also written as MOJO (through
    PYAUSTIN_MOJO_COPY) and checked to decode to the same samples."""
    args = [str(a) for a in args]
    cmd = [binary or AUSTIN] + args
    if user is not None:
        cmd = ["runuser", "-u", user, "--"] + cmd
    env = dict(os.environ)
    copy = None
    if mojo_copy and user is None and "-b" not in args and "--binary" not in args:
        copy = os.path.join("/tmp", "austin-mojo-copy-%s.mojo" % uuid.uuid4().hex)
        env["PYAUSTIN_MOJO_COPY"] = copy
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True, env=env)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError("austin did not finish within %ss: %s\nstderr: %r\nstdout[:2000]: %r"
                             % (timeout, cmd, err.decode(errors="replace"),
                                out.decode(errors="replace")[:2000]))
    elapsed = time.monotonic() - start
    res = Result(cmd, proc.returncode, out.decode(errors="replace"),
                 err.decode(errors="replace"), elapsed)
    if copy is not None:
        try:
            outfile = _output_file(args)
            text = res.stdout
            if outfile is not None and os.path.exists(outfile):
                with open(outfile, errors="replace") as f:
                    text = f.read()
            if text.startswith("# austin:"):
                assert os.path.exists(copy), "austin wrote no MOJO copy of %s" % cmd
                check_mojo_copy(text, copy)
        finally:
            if os.path.exists(copy):
                os.unlink(copy)
    return res


class Procs:
    """Target processes started by a test; killed when the test ends."""

    def __init__(self):
        self.procs = []

    def start(self, argv, stdout=subprocess.DEVNULL, **kw):
        p = subprocess.Popen([str(a) for a in argv], stdin=subprocess.PIPE, stdout=stdout,
                             stderr=subprocess.PIPE, start_new_session=True, **kw)
        self.procs.append(p)
        return p

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            for f in (p.stdin, p.stderr, p.stdout):
                if f is not None:
                    f.close()


@pytest.fixture
def procs():
    ps = Procs()
    yield ps
    ps.cleanup()


def wait_ids(path, proc, timeout=20.0):
    """Wait for a target's ids file; returns {"pid": n, thread name: tid}."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if proc is not None and proc.poll() is not None:
            raise AssertionError("target exited (%s) before writing %s: %s" % (
                proc.returncode, path, proc.stderr.read().decode(errors="replace")))
        if time.monotonic() > deadline:
            raise AssertionError("target did not write %s within %ss" % (path, timeout))
        time.sleep(0.02)
    ids = {}
    with open(path) as f:
        for line in f:
            name, value = line.split()
            ids[name] = int(value)
    os.unlink(path)
    return ids


def kill_pid(pid, expected_in_cmdline):
    """Kill pid if it is still a process whose command line mentions the target."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            cmdline = f.read().decode(errors="replace")
    except OSError:
        return
    if expected_in_cmdline in cmdline:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def proc_status(pid):
    fields = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            fields[k] = v.strip()
    return fields


def assert_running_untraced(proc):
    """The target is alive, neither stopped nor traced."""
    assert proc.poll() is None, "target exited (status %s)" % proc.returncode
    st = proc_status(proc.pid)
    assert st["State"][0] not in "tTZX", "target state after austin: %s" % st["State"]
    assert st["TracerPid"] == "0", "target still traced by %s" % st["TracerPid"]


# --------------------------------------------------------------------------
# Target sources: "@mark name" comments give line numbers


_MARKS = {}


def marks(target):
    """{mark name: line number} for a target script."""
    if target not in _MARKS:
        m = {}
        with open(os.path.join(TARGETS, target)) as f:
            for n, line in enumerate(f, 1):
                found = re.search(r"#\s*@mark\s+(\w+)", line)
                if found:
                    assert found.group(1) not in m, "duplicate mark %s" % found.group(1)
                    m[found.group(1)] = n
        _MARKS[target] = m
    return _MARKS[target]


# --------------------------------------------------------------------------
# Output parsing


SAMPLE_RE = re.compile(r"^P(\d+);T(\d+):(\d+)((?:;[^;]+)*) (-?\d+(?:,[01],-?\d+)?)$")
FRAME_RE = re.compile(r"^(.+):([^:]+):(\d+)$")
INVALID_FRAME = ":INVALID:"
GC_FRAME = ":GC:"
HEADER_KEYS = ["austin", "interval", "mode", "python"]
# Header entries that only some modes write, before "python".
OPTIONAL_HEADER_KEYS = ["memory", "multiprocess"]
FOOTER_KEYS = ["duration", "sampling", "saturation", "errors"]


class Sample:
    """One sample line. metric is the time (or, in memory mode, the memory
    delta); full mode also fills time, idle and memory."""
    __slots__ = ("pid", "iid", "tid", "frames", "metric", "invalid", "gc", "time", "idle",
                 "memory", "line")

    def __init__(self, pid, iid, tid, frames, metric, invalid, line, gc=False):
        self.pid, self.iid, self.tid = pid, iid, tid
        self.frames, self.metric, self.invalid, self.line = frames, metric, invalid, line
        self.gc = gc
        self.time = self.idle = self.memory = None

    def __repr__(self):
        return self.line


class Profile:
    def __init__(self, header, samples, footer):
        self.header = header
        self.samples = samples
        self.footer = footer

    def threads(self):
        return {s.tid for s in self.samples}

    def of(self, tid):
        return [s for s in self.samples if s.tid == tid]

    def valid(self):
        return [s for s in self.samples if not s.invalid]

    def has_stack_suffix(self, tid, suffix):
        """Some valid sample of thread tid ends with exactly these frames."""
        n = len(suffix)
        return any(len(s.frames) >= n and s.frames[-n:] == suffix
                   for s in self.samples if s.tid == tid and not s.invalid)

    def has_stack(self, tid, stack):
        return any(s.frames == stack for s in self.samples if s.tid == tid and not s.invalid)

    def describe(self, tid, limit=15):
        """Most common stacks of a thread, for assertion messages."""
        counts = defaultdict(int)
        for s in self.of(tid):
            counts[";".join("%s:%s:%s" % f for f in s.frames) if not s.invalid else "INVALID"] += 1
        top = sorted(counts.items(), key=lambda kv: -kv[1])[:limit]
        return "\n".join("%6d %s" % (c, k) for k, c in top)


def _parse_header(lines):
    """The header entries (required ones in order, optional ones where
    Austin puts them) and the index of the blank line that ends it."""
    header, i = {}, 0
    expected = list(HEADER_KEYS)
    while expected:
        m = re.match(r"^# (\w+): (.+)$", lines[i])
        key = expected[0]
        if m and key == "python" and m.group(1) in OPTIONAL_HEADER_KEYS:
            assert m.group(1) not in header, "duplicate header %r" % lines[i]
            header[m.group(1)] = m.group(2)
            i += 1
            continue
        assert m and m.group(1) == key, "header line %d: expected '# %s: ...', got %r" % (
            i + 1, key, lines[i])
        header[key] = m.group(2)
        expected.pop(0)
        i += 1
    assert lines[i] == "", "no blank line after the header: %r" % lines[i]
    return header, i


def _parse_sample(line, mode):
    m = SAMPLE_RE.match(line)
    assert m, "malformed sample line: %r" % line
    pid, iid, tid, frames_s, metric = m.groups()
    frames = []
    invalid = gc = False
    raw = frames_s[1:].split(";") if frames_s else []
    for j, fr in enumerate(raw):
        if fr == GC_FRAME:
            assert j == len(raw) - 1, ":GC: is not the last frame: %r" % line
            gc = True
            continue
        if fr == INVALID_FRAME:
            assert j == len(raw) - 1 or (j == len(raw) - 2 and raw[-1] == GC_FRAME), \
                ":INVALID: is not the last frame: %r" % line
            invalid = True
            continue
        fm = FRAME_RE.match(fr)
        assert fm, "malformed frame %r in %r" % (fr, line)
        frames.append((fm.group(1), fm.group(2), int(fm.group(3))))
    values = [int(v) for v in metric.split(",")]
    assert len(values) == (3 if mode == "full" else 1), "metric %r in %s mode: %r" % (
        metric, mode, line)
    if mode != "memory":
        assert values[0] >= 0, "negative time in %r" % line
    s = Sample(int(pid), int(iid), int(tid), frames, values[0], invalid, line, gc)
    if mode == "full":
        s.time, s.idle, s.memory = values[0], bool(values[1]), values[2]
    return s


def parse_profile(text):
    """Parse austin's text output strictly; AssertionError on any deviation."""
    lines = text.split("\n")
    assert lines and lines[-1] == "", "output does not end with a newline: %r" % text[-200:]
    lines = lines[:-1]
    assert len(lines) >= 10, "output too short:\n%s" % text[:2000]

    header, blank = _parse_header(lines)

    # With -g, Austin 3.7 writes "# gc: <us>" after the duration.
    keys = FOOTER_KEYS
    if len(lines) > 6 and lines[-4].startswith("# gc: "):
        keys = FOOTER_KEYS[:1] + ["gc"] + FOOTER_KEYS[1:]
    end = -len(keys) - 1
    assert lines[end] == "", "no blank line before the footer: %r" % lines[end]
    footer = {}
    for i, key in enumerate(keys):
        line = lines[end + 1 + i]
        m = re.match(r"^# (\w+): (.+)$", line)
        assert m and m.group(1) == key, "footer line: expected '# %s: ...', got %r" % (key, line)
        footer[key] = m.group(2)

    assert header["austin"] == AUSTIN_VERSION, header
    assert re.fullmatch(r"\d+", header["interval"]), header
    assert header["mode"] in ("wall", "cpu", "memory", "full"), header
    assert ("memory" in header) == (header["mode"] in ("memory", "full")), header
    assert re.fullmatch(r"\d+\.\d+\.\d+", header["python"]), header

    assert re.fullmatch(r"\d+", footer["duration"]), footer
    assert re.fullmatch(r"\d+", footer.get("gc", "0")), footer
    m = re.fullmatch(r"(\d+),(\d+),(\d+)", footer["sampling"])
    assert m, footer
    lo, avg, hi = map(int, m.groups())
    assert lo <= avg <= hi, footer
    m = re.fullmatch(r"(\d+)/(\d+)", footer["saturation"])
    assert m and int(m.group(1)) <= int(m.group(2)), footer
    m = re.fullmatch(r"(\d+)/(\d+)", footer["errors"])
    assert m and int(m.group(1)) <= int(m.group(2)), footer

    samples = [_parse_sample(line, header["mode"]) for line in lines[blank + 1:end]]
    return Profile(header, samples, footer)


def assert_one_line_error(res, status):
    assert res.returncode == status, "expected exit status %d, got %r" % (status, res)
    err = res.stderr
    assert err.endswith("\n") and err.count("\n") == 1 and err.strip(), \
        "stderr is not exactly one non-empty line: %r" % (res,)


@pytest.fixture(scope="session")
def unused_pid():
    """A pid that is not in use (a reaped child's)."""
    def get():
        p = subprocess.Popen(["/bin/true"])
        p.wait()
        assert not os.path.exists("/proc/%d" % p.pid)
        return p.pid
    return get


def which(cmd):
    return shutil.which(cmd)
