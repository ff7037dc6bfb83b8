"""The privilege policy (issue 8; src/sampler/privilege.h, SECURITY in the
man pages): austin, austinp and austinp-resolve installed with privilege
(`setcap cap_sys_ptrace+ep`, or setuid root) and run by an unprivileged user
do what that user could do, and no more.

The test creates a user, copies the three binaries into a directory of its
own three times (plain, with the capability, setuid root) and runs them as
that user (setpriv). Targets run an interpreter the user can execute
(Debian's /usr/bin/python3.11 first: pyenv's tree is under /root, which the
user cannot enter) and a setuid-root copy of it, which runs as root for the
user who starts it, as a setuid program does.
"""

import os
import select
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import (AUSTIN, AUSTINP, BUILDDIR, TARGETS, INTERPRETERS, Procs,
                      assert_one_line_error, assert_running_untraced, parse_profile, proc_status)

USER = "pyaustin-priv"
PERMISSION = 37          # Austin 3.7's EPROCPERM
OUTPUT_CREATE = 255      # Austin 3.7's "Unable to create the given output file"
OUTPUT, INPUT = 74, 66   # austinp-resolve's own (errors.h)
CAP_SYS_PTRACE = 1 << 19
RESOLVE = os.path.join(BUILDDIR, "src", "resolve", "austinp-resolve")
BINARIES = {"austin": AUSTIN, "austinp": AUSTINP, "austinp-resolve": RESOLVE}
PRIVILEGED = ["cap", "suid"]
# The capability copy made to read through /proc/PID/mem at once, as it does
# when Yama refuses process_vm_readv (remote_priv.h): this machine may have
# no Yama to make it.
MEM = "cap+mem"
# Sampling interval of the runs that sample: the targets wait, and austin's
# default 100 us would keep a CPU busy (the tests share two).
INTERVAL = "2ms"


class Env:
    """What the tests share: the user, the copies, the interpreter."""

    def __init__(self, top, uid, gid, python):
        self.top, self.uid, self.gid, self.python = top, uid, gid, python
        self.out = os.path.join(top, "out")            # the user's, 0700
        self.root_only = os.path.join(top, "rootonly")  # root's, 0700
        self.setuid_python = os.path.join(top, "python-suid")
        self.xonly_python = os.path.join(top, "python-xonly")  # mode 0711

    def bin(self, kind, name):
        return os.path.join(self.top, kind, name)

    def cmd(self, kind, name):
        """The command that runs copy `name` of `kind` (or MEM)."""
        if kind == MEM:
            return ["env", "PYAUSTIN_PRIVILEGED_MEM=1", self.bin("cap", name)]
        return [self.bin(kind, name)]

    def target(self, name):
        return os.path.join(self.top, name)

    def as_user(self, cmd):
        return ["setpriv", "--reuid=%d" % self.uid, "--regid=%d" % self.gid, "--clear-groups",
                "--"] + [str(c) for c in cmd]

    def run(self, cmd, timeout=30):
        """cmd run as the user, to its end (a CompletedProcess, text)."""
        return subprocess.run(self.as_user(cmd), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout, universal_newlines=True,
                              errors="replace")

    def start(self, procs, user=True, python=None):
        """A waiting target (it burns no CPU: the tests share two CPUs), as
        the user or as root, once it runs Python."""
        argv = [python or self.python, self.target("target_wait.py"), 60]
        p = procs.start(self.as_user(argv) if user else argv, stdout=subprocess.PIPE)
        line = p.stdout.readline().strip()
        assert line == str(p.pid).encode(), (line, p.stderr.read())
        return p


def _user_ids():
    out = subprocess.run(["id", "-u", USER], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         universal_newlines=True)
    if out.returncode != 0:
        return None
    gid = subprocess.run(["id", "-g", USER], stdout=subprocess.PIPE, universal_newlines=True,
                         check=True).stdout
    return int(out.stdout), int(gid)


def _user_can_run(uid, gid, path):
    cmd = ["setpriv", "--reuid=%d" % uid, "--regid=%d" % gid, "--clear-groups", "--",
           path, "-c", "pass"]
    return subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0


def _pick_python(uid, gid):
    """An interpreter on the host that the user can run."""
    for label in ("debian-3.11", "pyenv-3.12"):
        it = INTERPRETERS.get(label)
        if it is not None and it.root is None and _user_can_run(uid, gid, it.argv[0]):
            return it
    return None


@pytest.fixture(scope="module")
def env():
    if os.geteuid() != 0:
        pytest.skip("needs root to create a user and privileged copies of the binaries")
    for tool in ("setcap", "setpriv", "useradd"):
        if shutil.which(tool) is None:
            pytest.skip("%s not installed (setcap: libcap2-bin, scripts/install-deps --tests)"
                        % tool)
    for path in BINARIES.values():
        if not os.access(path, os.X_OK):
            pytest.fail("%s not built" % path, pytrace=False)
    created = False
    if _user_ids() is None:
        subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        "--user-group", USER], check=True)
        created = True
    top = tempfile.mkdtemp(prefix="pyaustin-priv-", dir="/tmp")
    try:
        uid, gid = _user_ids()
        os.chmod(top, 0o755)
        if os.statvfs(top).f_flag & os.ST_NOSUID:
            pytest.skip("%s is on a file system mounted nosuid" % top)
        it = _pick_python(uid, gid)
        if it is None:
            pytest.skip("no interpreter that user %s may run (pyenv's is under /root)" % USER)
        e = Env(top, uid, gid, it.argv[0])
        for kind in ["plain"] + PRIVILEGED:
            os.mkdir(os.path.join(top, kind))
            for name, path in BINARIES.items():
                dst = e.bin(kind, name)
                shutil.copy(path, dst)
                os.chmod(dst, 0o4755 if kind == "suid" else 0o755)
                if kind == "cap":
                    r = subprocess.run(["setcap", "cap_sys_ptrace+ep", dst],
                                       stderr=subprocess.PIPE, universal_newlines=True)
                    if r.returncode != 0:
                        pytest.skip("setcap on %s failed: %s" % (top, r.stderr.strip()))
        for name in ("target_wait.py", "target_privilege.py"):
            shutil.copy(os.path.join(TARGETS, name), e.target(name))
            os.chmod(e.target(name), 0o644)
        shutil.copy(e.python, e.setuid_python)
        os.chmod(e.setuid_python, 0o4755)
        shutil.copy(e.python, e.xonly_python)
        os.chmod(e.xonly_python, 0o711)
        os.mkdir(e.out, 0o700)
        os.chown(e.out, uid, gid)
        os.mkdir(e.root_only, 0o700)
        r = e.run([e.setuid_python, "-c", "import os; print(os.getuid(), os.geteuid())"])
        e.setuid_ok = r.stdout.split() == [str(uid), "0"]
        yield e
    finally:
        shutil.rmtree(top, ignore_errors=True)
        if created:
            subprocess.run(["userdel", USER], check=False)


@pytest.fixture(scope="module")
def targets(env):
    """Waiting targets shared by the tests that only look at them: the
    user's, root's, and the user's setuid-root one (None when that copy does
    not run as root)."""
    ps = Procs()
    try:
        t = {"user": env.start(ps), "root": env.start(ps, user=False), "setuid": None}
        if env.setuid_ok:
            t["setuid"] = env.start(ps, python=env.setuid_python)
        yield t
    finally:
        ps.cleanup()


def _run_all(cmds, timeout=60):
    """Run the commands together (they mostly wait) and return their
    results, in order."""
    ps = [subprocess.Popen([str(c) for c in cmd], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, errors="replace") for cmd in cmds]
    try:
        outs = [p.communicate(timeout=timeout) for p in ps]
        return [subprocess.CompletedProcess(p.args, p.returncode, *o) for p, o in zip(ps, outs)]
    finally:
        for p in ps:
            if p.poll() is None:
                p.kill()
                p.wait()


def _need_setuid_python(env):
    if not env.setuid_ok:
        pytest.skip("the setuid copy of %s does not run as root" % env.python)


def _status_ids(status, key):
    return [int(v) for v in status[key].split()]


def _samples_of(text, function):
    return [l for l in text.splitlines() if l.startswith("P") and function in l]


def _read(path):
    with open(path) as f:
        return f.read()


def settled(read, ok, timeout=5.0):
    """read() until ok(value) or timeout (a loaded machine may take a while
    to exec a program and reach its main): the last value read. A program
    that never gets there fails the caller's assertion on it."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = read()
        except OSError:
            value = None
        if (value is not None and ok(value)) or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


def user_status(pid, uid):
    """/proc/PID/status once the program runs as the user with no effective
    capability, as its main makes it first thing (see settled): read
    earlier, it could show the moment between exec and main."""
    return settled(lambda: proc_status(pid),
                   lambda st: _status_ids(st, "Uid") == [uid] * 4 and int(st["CapEff"], 16) == 0)


# --------------------------------------------------------------------------
# What the user may do


@pytest.mark.parametrize("kind", PRIVILEGED + [MEM])
def test_own_process_sampled(env, targets, kind):
    """The user profiles its own process with austin and austinp; the
    privileged austin runs as the user, with CAP_SYS_PTRACE permitted but
    not effective, and undumpable."""
    target = targets["user"]
    austinp = subprocess.Popen(env.as_user(env.cmd(kind, "austinp") + ["-x", "1", "-p",
                                                                         target.pid]),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               universal_newlines=True)
    austin = subprocess.Popen(env.as_user(env.cmd(kind, "austin") + ["-i", INTERVAL, "-x", "1",
                                                                       "-p", target.pid]),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True)
    if kind == MEM:  # env runs austin in its place
        exe = settled(lambda: os.readlink("/proc/%d/exe" % austin.pid),
                      lambda e: e == env.bin("cap", "austin"))
        assert exe == env.bin("cap", "austin")
    st = user_status(austin.pid, env.uid)
    owner = os.stat("/proc/%d/status" % austin.pid).st_uid
    out, err = austin.communicate(timeout=30)
    pout, perr = austinp.communicate(timeout=30)
    assert austin.returncode == 0, err
    assert _status_ids(st, "Uid") == [env.uid] * 4, st
    assert _status_ids(st, "Gid") == [env.gid] * 4, st
    assert int(st["CapEff"], 16) == 0, st
    assert int(st["CapPrm"], 16) == CAP_SYS_PTRACE, st
    assert int(st["CapInh"], 16) == 0 and int(st["CapAmb"], 16) == 0, st
    assert owner == 0, "austin's /proc files belong to %d: it is dumpable" % owner
    prof = parse_profile(out)
    assert any(f[1] == "wait_for" for s in prof.valid() for f in s.frames), out[:3000]
    assert austinp.returncode == 0, perr
    assert _samples_of(pout, ":wait_for:"), pout[:3000]
    assert_running_untraced(target)


# --------------------------------------------------------------------------
# What the user may not do


@pytest.mark.parametrize("kind", ["plain"] + PRIVILEGED)
@pytest.mark.parametrize("mode", [("austin", "-p"), ("austin", "-w"), ("austinp", "-p"),
                                  ("austinp", "-w")], ids=lambda m: "%s%s" % m)
def test_root_process_refused(env, targets, kind, mode):
    """Root's process: refused by the policy when privileged, by the kernel
    otherwise; the same status either way."""
    target = targets["root"]
    prog, flag = mode
    r = env.run([env.bin(kind, prog), flag, target.pid] + (["-x", "1"] if flag == "-p" else []))
    assert_one_line_error(r, PERMISSION)
    assert r.stdout == "", r.stdout
    if kind != "plain":
        assert "runs as uid 0/0/0" in r.stderr and "has privilege" in r.stderr, r.stderr
    assert_running_untraced(target)


@pytest.mark.parametrize("kind", ["plain"] + PRIVILEGED)
def test_setuid_process_refused(env, targets, kind):
    """The user's own setuid-root program: its real uid is the user's, its
    effective and saved uids are root's."""
    _need_setuid_python(env)
    r = env.run([env.bin(kind, "austin"), "-x", "1", "-p", targets["setuid"].pid])
    assert_one_line_error(r, PERMISSION)
    if kind != "plain":
        assert "runs as uid %d/0/0" % env.uid in r.stderr, r.stderr


@pytest.mark.parametrize("kind", PRIVILEGED)
@pytest.mark.parametrize("prog", ["austin", "austinp"])
def test_output_opened_as_user(env, kind, prog):
    # Where only root may write: refused before any target is looked at.
    r = env.run([env.bin(kind, prog), "-o", os.path.join(env.root_only, "p.austin"), "-p", "1"])
    assert_one_line_error(r, OUTPUT_CREATE)
    assert not os.listdir(env.root_only)
    # A root file in the user's directory is not the user's to overwrite.
    guarded = os.path.join(env.out, "root-file-%s-%s" % (kind, prog))
    with open(guarded, "w") as f:
        f.write("root's\n")
    os.chmod(guarded, 0o644)
    r = env.run([env.bin(kind, prog), "-o", guarded, "-p", "1"])
    assert_one_line_error(r, OUTPUT_CREATE)
    assert _read(guarded) == "root's\n"
    # A profile written is the user's.
    path = os.path.join(env.out, "%s-%s.austin" % (kind, prog))
    r = env.run([env.bin(kind, prog), "-i", INTERVAL, "-o", path, env.python,
                 env.target("target_privilege.py"), "creds", 0.2])
    assert r.returncode == 0, r.stderr
    st = os.stat(path)
    assert (st.st_uid, st.st_gid) == (env.uid, env.gid)
    assert _read(path).startswith("# austin:")


@pytest.mark.parametrize("kind", PRIVILEGED)
@pytest.mark.parametrize("prog", ["austin", "austinp"])
def test_launched_command_unprivileged(env, kind, prog):
    """The command runs as the user, with no capability in any set."""
    path = os.path.join(env.out, "launch-%s-%s.austin" % (kind, prog))
    r = env.run([env.bin(kind, prog), "-i", INTERVAL, "-o", path, env.python,
                 env.target("target_privilege.py"), "creds", 0.3])
    assert r.returncode == 0, r.stderr
    st = dict(l.split(":", 1) for l in r.stderr.splitlines() if ":" in l)
    st = {k: v.strip() for k, v in st.items()}
    assert _status_ids(st, "Uid") == [env.uid] * 4, r.stderr
    assert _status_ids(st, "Gid") == [env.gid] * 4, r.stderr
    assert st["Groups"] == "", r.stderr
    for cap in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
        assert int(st[cap], 16) == 0, r.stderr
    assert _samples_of(_read(path), "creds_wait"), "the command was not profiled"


# --------------------------------------------------------------------------
# Targets that change credentials: each privileged copy, run by the user,
# and root's austin (not privileged: the control, which shows that the test
# can fail), together.


def _privileged_and_root(env, argv, name):
    """argv (austin's arguments, with OUT for the output file) run by each
    privileged austin as the user and by the plain copy as root: {kind:
    (result, profile text)}."""
    kinds = PRIVILEGED + [MEM, "root"]
    paths = {k: os.path.join(env.out, "%s-%s.austin" % (name, k)) for k in kinds}
    cmds = []
    for k in kinds:
        cmd = env.cmd("plain" if k == "root" else k, "austin") + \
              [paths[k] if a == "OUT" else a for a in argv]
        cmds.append(cmd if k == "root" else env.as_user(cmd))
    results = _run_all(cmds)
    return {k: (r, _read(paths[k]) if r.returncode == 0 else "") for k, r in zip(kinds, results)}


def test_setuid_child_not_sampled(env):
    """-C: a child that runs a setuid program is not sampled; its sibling is."""
    _need_setuid_python(env)
    runs = _privileged_and_root(env, ["-i", INTERVAL, "-C", "-o", "OUT", env.python,
                                      env.target("target_privilege.py"), "parent",
                                      env.setuid_python, "0.5"], "children")
    for kind, (r, text) in runs.items():
        assert r.returncode == 0, (kind, r.stderr)
        assert _samples_of(text, "plain_child_wait"), (kind, text[:3000])
        assert bool(_samples_of(text, "elevated_child_wait")) == (kind == "root"), kind


def test_where_children(env, procs):
    """-C -w: the child that runs a setuid program is left out; its sibling
    and the parent are shown."""
    _need_setuid_python(env)
    parent = procs.start(env.as_user([env.python, env.target("target_privilege.py"), "parent",
                                      env.setuid_python, 30]))
    # Read the fd itself: both lines can come in one read, and a readline
    # of the buffered file would leave the second in its buffer, where
    # select does not see it (so on a loaded machine, that batches
    # them more often, the wait ran out with a line unread).
    ready, buf = set(), b""
    deadline = time.monotonic() + 20
    while ready != {b"plain", b"elevated"}:
        assert time.monotonic() < deadline, "the children did not start: %r" % ready
        if select.select([parent.stderr], [], [], 0.1)[0]:
            chunk = os.read(parent.stderr.fileno(), 4096)
            assert chunk, "the parent ended: %r" % buf
            *lines, buf = (buf + chunk).split(b"\n")
            ready.update(line.split(b" ")[0] for line in lines)
    kinds = PRIVILEGED + ["root"]
    cmds = [env.as_user(env.cmd(k, "austin") + ["-C", "-w", parent.pid]) for k in PRIVILEGED]
    cmds.append(env.cmd("plain", "austin") + ["-C", "-w", parent.pid])
    for kind, r in zip(kinds, _run_all(cmds)):
        assert r.returncode == 0, (kind, r.stderr)
        assert "parent_wait" in r.stdout and "plain_child_wait" in r.stdout, (kind, r.stdout)
        assert ("elevated_child_wait" in r.stdout) == (kind == "root"), (kind, r.stdout)


def test_exec_of_setuid_program(env):
    """A launched target runs a setuid program in its place: a privileged
    austin reads it no more (root's austin reads on)."""
    _need_setuid_python(env)
    runs = _privileged_and_root(env, ["-i", INTERVAL, "-o", "OUT", env.python,
                                      env.target("target_privilege.py"), "exec",
                                      env.setuid_python, "0.3"], "exec")
    for kind, (r, text) in runs.items():
        assert r.returncode == 0, (kind, r.stderr)
        # austin does not trace: the program runs with its setuid bit.
        assert "euid 0" in r.stderr, (kind, r.stderr)
        assert _samples_of(text, "before_exec"), (kind, text[:3000])
        assert bool(_samples_of(text, "after_exec")) == (kind == "root"), (kind, text[-3000:])


def test_traced_exec_gets_no_privilege(env):
    """austinp traces the target it launched: a setuid program that the
    target runs while traced must not get root's rights from austinp's
    CAP_SYS_PTRACE. austinp traces with its user's rights, so the kernel
    runs the program without its setuid bit, as under the user's debugger."""
    _need_setuid_python(env)
    cmds = [env.as_user([env.bin(kind, "austinp"), "-o", os.devnull, env.python,
                         env.target("target_privilege.py"), "exec", env.setuid_python, 0.2])
            for kind in PRIVILEGED]
    for kind, r in zip(PRIVILEGED, _run_all(cmds)):
        assert r.returncode == 0, (kind, r.stderr)
        assert "euid %d" % env.uid in r.stderr, (kind, r.stderr)


def test_traced_exec_of_unreadable_program(env):
    """austinp lets a thread go at exec and seizes what it became only if
    the user could trace it: a program the user may run but not read
    leaves the process undumpable. Sampling stops, the profile is whole and
    the command runs on to its end (root's austinp samples on: the
    control)."""
    argv = [env.python, env.target("target_privilege.py"), "exec", env.xonly_python, "0.3"]
    kinds = PRIVILEGED + ["root"]
    paths = {k: os.path.join(env.out, "xonly-%s.austin" % k) for k in kinds}
    cmds = [env.as_user(env.cmd(k, "austinp") + ["-o", paths[k]] + argv) for k in PRIVILEGED]
    cmds.append(env.cmd("plain", "austinp") + ["-o", paths["root"]] + argv)
    for kind, r in zip(kinds, _run_all(cmds)):
        assert r.returncode == 0, (kind, r.stderr)
        assert "euid %d" % (0 if kind == "root" else env.uid) in r.stderr, (kind, r.stderr)
        text = _read(paths[kind])
        assert text.rstrip().split("\n")[-1].startswith("# errors:"), (kind, text[-500:])
        assert _samples_of(text, "before_exec"), (kind, text[:3000])
        if kind == "root":
            assert _samples_of(text, "after_exec"), text[-3000:]
        else:
            assert "may no longer be traced by its user" in r.stderr, (kind, r.stderr)
            assert not _samples_of(text, "after_exec"), (kind, text[-3000:])


# --------------------------------------------------------------------------
# austinp-resolve


@pytest.mark.parametrize("kind", PRIVILEGED)
def test_resolve_drops_privilege(env, kind):
    resolve = env.bin(kind, "austinp-resolve")
    # A profile only root may read; the same, readable by the user.
    secret = os.path.join(env.root_only, "secret.austin")
    public = os.path.join(env.out, "public-%s.austin" % kind)
    for path in (secret, public):
        with open(path, "w") as f:
            f.write("# austin: 3.7.0\n")
    try:
        r = env.run([resolve, secret])
        assert_one_line_error(r, INPUT)
        r = env.run([resolve, "-o", os.path.join(env.root_only, "x.austin"), public])
        assert_one_line_error(r, OUTPUT)
    finally:
        os.unlink(secret)
    assert os.listdir(env.root_only) == []
    # While it runs (waiting for its input): the user, no capability at all.
    p = subprocess.Popen(env.as_user([resolve, "-q"]), stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        st = user_status(p.pid, env.uid)
    finally:
        p.communicate(b"", timeout=30)
    assert _status_ids(st, "Uid") == [env.uid] * 4, st
    assert int(st["CapPrm"], 16) == 0 and int(st["CapEff"], 16) == 0, st
