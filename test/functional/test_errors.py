"""Command line and error statuses (interpreter-independent unless noted)."""

import glob
import os
import re
import signal
import subprocess
import time

import pytest

from conftest import AUSTIN, AUSTINP, BUILDDIR, assert_one_line_error, assert_running_untraced, \
    run_austin, wait_ids

# Austin 3.7's statuses (its src/error.h; 64 is argp's, 255 its -1) ...
NOT_PYTHON, LAUNCH, ATTACH, PERMISSION = 32, 33, 36, 37
BAD_OPTION, NO_TARGET, OUTPUT_CREATE = 64, 255, 255
# ... and ours for what Austin lacks (errors.h).
UNSUPPORTED = 69
RESOLVE = os.path.join(BUILDDIR, "src", "resolve", "austinp-resolve")

TEST_USER = "austin-fntest"


def test_version(austin_bin):
    res = run_austin(["-V"])
    assert res.returncode == 0, res
    assert re.match(r"^austin 3\.7\.0(\s.*)?$", res.stdout.split("\n")[0]), res
    res2 = run_austin(["--version"])
    assert res2.returncode == 0 and res2.stdout == res.stdout, res2


@pytest.mark.parametrize("opt", ["-?", "--help"])
def test_help(austin_bin, opt):
    res = run_austin([opt])
    assert res.returncode == 0, res
    for long_opt in ("--interval", "--timeout", "--exposure", "--output", "--pid",
                     "--sleepless", "--where", "--version", "--help", "--usage"):
        assert long_opt in res.stdout, "%s missing from %s output:\n%s" % (long_opt, opt, res.stdout)


def test_help_describes_each_program(austin_bin, austinp_bin):
    """austin's help opens with Austin 3.7's description; austinp's with its
    own: it stops threads (so not "practically no impact"), and it adds
    native and kernel stacks."""
    res = run_austin(["--help"])
    assert res.returncode == 0, res
    blurb = " ".join(res.stdout.split("\n\n")[0].split("\n")[1:])
    assert blurb == (
        "Austin is a frame stack sampler for CPython that is used to extract profiling "
        "data out of a running Python process (and all its children, if required) that "
        "requires no instrumentation and has practically no impact on the tracee."), blurb
    assert "--kernel" not in res.stdout, res.stdout
    res = run_austin(["--help"], binary=austinp_bin)
    assert res.returncode == 0, res
    text = " ".join(res.stdout.split())
    assert text.startswith("Usage: austinp [OPTION...] command [ARG...] austinp samples"), text
    assert "practically no impact" not in text, text
    for words in ("ptrace", "native stacks", "kernel stack", "--kernel", "austinp-resolve",
                  "(default is 10000"):
        assert words in text, (words, text)


def test_usage(austin_bin):
    res = run_austin(["--usage"])
    assert res.returncode == 0, res
    assert res.stdout.startswith("Usage: austin"), res
    for short in ("-i", "-p", "-w", "-x"):
        assert short in res.stdout, res


@pytest.mark.parametrize("arg", ["--H", "--HANG=3", "--program-name=x"])
@pytest.mark.parametrize("prog", ["austin", "austinp", "austinp-resolve"])
def test_no_hidden_argp_options(austin_bin, prog, arg):
    """glibc's argp hides two options among its standard ones: --HANG[=SECS],
    a sleep (an hour by default) that any prefix such as --H reaches, and
    --program-name. Neither is an option of ours (found by test/fuzz's
    fuzz_cli; its input is test/fuzz/regress/fuzz_cli/hang-HANG-prefix)."""
    binary = {"austin": AUSTIN, "austinp": AUSTINP,
              "austinp-resolve": os.path.join(BUILDDIR, "src", "resolve", "austinp-resolve")}[prog]
    rest = ["/dev/null"] if prog == "austinp-resolve" else ["-w", "1"]
    res = run_austin([arg] + rest, timeout=30, binary=binary, mojo_copy=False)
    assert res.returncode == BAD_OPTION, res
    assert "unrecognized option '%s'" % arg in res.stderr, res


@pytest.mark.parametrize("prog", ["austin", "austinp"])
def test_no_arguments(austin_bin, austinp_bin, prog):
    """No argument at all: the usage on stdout and status 0, as Austin 3.7."""
    binary = austin_bin if prog == "austin" else austinp_bin
    res = run_austin([], timeout=30, binary=binary, mojo_copy=False)
    assert res.returncode == 0 and res.stderr == "", res
    assert res.stdout.startswith("Usage: %s [-" % prog) and "command [ARG...]" in res.stdout, res
    assert res.stdout == run_austin(["--usage"], binary=binary, mojo_copy=False).stdout


@pytest.mark.parametrize("prog", ["austin", "austinp"])
def test_no_target(austin_bin, austinp_bin, prog):
    """Options but neither a command nor a PID: Austin 3.7's -1 (255)."""
    binary = austin_bin if prog == "austin" else austinp_bin
    res = run_austin(["-i", "10ms"], timeout=30, binary=binary, mojo_copy=False)
    assert_one_line_error(res, NO_TARGET)
    assert "I need either a command to run or a PID to attach to" in res.stderr, res
    assert res.stdout == "", res


def test_resolve_no_arguments_is_a_filter(austin_bin):
    """austinp-resolve with no argument reads its standard input (it is a
    filter, which Austin has no counterpart of): an empty one is malformed."""
    res = subprocess.run([RESOLVE], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, universal_newlines=True, timeout=30)
    assert_one_line_error(res, 65)


@pytest.mark.parametrize("prog", ["austin", "austinp"])
def test_no_such_process(austin_bin, austinp_bin, unused_pid, prog):
    binary = austin_bin if prog == "austin" else austinp_bin
    pid = unused_pid()
    res = run_austin(["-p", pid, "-x", "1"], timeout=30, binary=binary)
    assert_one_line_error(res, ATTACH)
    assert "Cannot attach to the given process" in res.stderr, res
    assert res.stdout == "", res


@pytest.mark.parametrize("prog", ["austin", "austinp"])
def test_where_no_such_process(austin_bin, austinp_bin, unused_pid, prog):
    binary = austin_bin if prog == "austin" else austinp_bin
    res = run_austin(["-w", unused_pid()], timeout=30, binary=binary)
    assert_one_line_error(res, ATTACH)
    assert "Cannot attach" in res.stderr, res
    assert res.stdout == "", res


@pytest.mark.parametrize("prog", ["austin", "austinp"])
def test_not_python(austin_bin, austinp_bin, procs, prog):
    """austin and austinp give up on a process that is not Python (-t 500)
    while it still runs: they ended neither with the process nor at
    run_austin's timeout."""
    binary = austin_bin if prog == "austin" else austinp_bin
    proc = procs.start(["sleep", "600"])
    time.sleep(0.1)
    res = run_austin(["-t", "500", "-p", proc.pid], timeout=30, binary=binary)
    assert_one_line_error(res, NOT_PYTHON)
    assert "not a Python process" in res.stderr, res
    assert res.stdout == "", res
    assert_running_untraced(proc)


def test_launch_not_python(austin_bin):
    # The command outlives any wait a loaded machine can add to -t 500
    # (austin ends it when it gives up).
    res = run_austin(["-t", "500", "sleep", "600"], timeout=30)
    assert_one_line_error(res, NOT_PYTHON)
    assert "not a Python process" in res.stderr, res
    assert res.stdout == "", res


@pytest.mark.parametrize("prog", ["austin", "austinp"])
def test_launch_ends_too_quickly(austin_bin, austinp_bin, prog):
    """A command that ends before a Python runtime shows: Austin 3.7's 33."""
    binary = austin_bin if prog == "austin" else austinp_bin
    res = run_austin(["true"], timeout=30, binary=binary)
    assert_one_line_error(res, LAUNCH)
    assert "Cannot launch the given command or it terminated too quickly" in res.stderr, res
    assert res.stdout == "", res


@pytest.mark.parametrize("prog", ["austin", "austinp"])
def test_output_cannot_be_created(austin_bin, austinp_bin, tmp_path, prog):
    binary = austin_bin if prog == "austin" else austinp_bin
    res = run_austin(["-o", str(tmp_path / "no" / "such" / "dir"), "true"], timeout=30,
                     binary=binary, mojo_copy=False)
    assert_one_line_error(res, OUTPUT_CREATE)
    assert "Unable to create the given output file" in res.stderr, res


@pytest.fixture(scope="module")
def test_user():
    if os.geteuid() != 0:
        pytest.skip("needs root to create an unprivileged user")
    created = False
    if subprocess.run(["id", "-u", TEST_USER], stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        "--user-group", TEST_USER], check=True)
        created = True
    yield TEST_USER
    if created:
        subprocess.run(["userdel", TEST_USER], check=False)


def _user_can_run_austin(user, austin):
    return subprocess.run(["runuser", "-u", user, "--", "test", "-x", austin]).returncode == 0


@pytest.mark.parametrize("mode", ["-p", "-w"])
def test_permission_denied(austin_bin, any_interp, procs, test_user, mode):
    if not _user_can_run_austin(test_user, austin_bin):
        pytest.skip("user %s cannot execute %s (directory permissions)" % (test_user, austin_bin))
    if any_interp.root is not None:
        pytest.skip("needs a host interpreter")
    proc = procs.start(any_interp.command("target_wait.py", 30), stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == str(proc.pid).encode()
    args = [mode, proc.pid] + (["-x", "1"] if mode == "-p" else [])
    res = run_austin(args, timeout=30, user=test_user)
    assert_one_line_error(res, PERMISSION)
    assert "Permission denied" in res.stderr, res
    assert res.stdout == "", res
    assert_running_untraced(proc)


def _old_python():
    root = os.environ.get("PYENV_ROOT") or "/root/.pyenv"
    for minor in ("3.7", "3.6"):
        for exe in sorted(glob.glob(os.path.join(root, "versions", minor + ".*", "bin", "python" + minor))):
            if os.access(exe, os.X_OK):
                return exe
    return None


def test_unsupported_version(austin_bin, procs):
    exe = _old_python()
    if exe is None:
        pytest.skip("no CPython 3.6 or 3.7 under pyenv to attach to")
    target = os.path.join(os.path.dirname(__file__), "..", "targets", "target_wait.py")
    proc = procs.start([exe, target, "30"], stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == str(proc.pid).encode()
    res = run_austin(["-t", "1000", "-p", proc.pid, "-x", "1"], timeout=30)
    assert_one_line_error(res, UNSUPPORTED)
    assert res.stdout == "", res
    assert_running_untraced(proc)


@pytest.mark.parametrize("cmd", ["/nonexistent/cmd", "austin-no-such-command-xyz"])
@pytest.mark.parametrize("prog", ["austin", "austinp"])
def test_command_not_found(austin_bin, austinp_bin, cmd, prog):
    binary = austin_bin if prog == "austin" else austinp_bin
    res = run_austin([cmd], timeout=30, binary=binary)
    assert_one_line_error(res, LAUNCH)
    assert "Cannot launch" in res.stderr, res
    assert res.stdout == "", res


@pytest.mark.parametrize("args", [
    ["-i", "foo"],
    ["-i", "10xs"],
    ["-x", "-3"],
    ["-t", "bar"],
    ["--interval=foo"],
    ["-p", "notapid"],
])
def test_bad_option_value(austin_bin, args):
    res = run_austin(args + ["/bin/true"], timeout=30)
    assert_one_line_error(res, BAD_OPTION)
    assert res.stdout == "", res


@pytest.mark.parametrize("signo", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP],
                         ids=lambda s: s.name)
@pytest.mark.parametrize("prog", ["austin", "austinp"])
def test_signal_status(austin_bin, austinp_bin, any_interp, procs, tmp_path, prog, signo):
    """Stopped by SIGINT or SIGTERM: the profile is complete and the status
    Austin 3.7's (minus the signal: 254, 241); SIGHUP, which Austin does not
    catch, ends ours with 0."""
    binary = austin_bin if prog == "austin" else austinp_bin
    host, side = any_interp.side_file(tmp_path)
    proc = procs.start(any_interp.command("target_busy.py", 20, side))
    wait_ids(host, proc)
    p = subprocess.Popen([binary, "-i", "1ms", "-p", str(proc.pid)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, universal_newlines=True)
    time.sleep(1.0)
    p.send_signal(signo)
    out, err = p.communicate(timeout=10)
    expected = 0 if signo == signal.SIGHUP else 256 - signo
    assert p.returncode == expected, (p.returncode, err)
    assert out.rstrip("\n").split("\n")[-1].startswith("# errors: "), out[-300:]
    assert_running_untraced(proc)
