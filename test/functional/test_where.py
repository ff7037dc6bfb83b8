"""Where mode (-w PID): every thread listed with its frames.  Every interpreter."""

import re
import time

from conftest import assert_running_untraced, marks, run_austin, wait_ids

SLEEP = "target_sleep.py"
BUSY = "target_busy.py"


def thread_blocks(text, tids):
    """{tid: text of the lines that follow each line naming tid (as a word),
    up to the next line naming any of tids}."""
    lines = text.splitlines()
    word = {t: re.compile(r"(?<![0-9A-Fa-fx])%d(?![0-9])" % t) for t in tids}
    blocks = {t: [] for t in tids}
    current = []
    for line in lines:
        named = [t for t in tids if word[t].search(line)]
        if named:
            current = []
            for t in named:
                blocks[t].append(current)
            continue
        current.append(line)
    return {t: "\n".join("\n".join(b) for b in bs) for t, bs in blocks.items()}


def check_where_soon(proc, ids, expected):
    """check_where on dumps of proc until one shows the expected frames.
    The ids file is written while the threads are still leaving their
    start-up barrier (and, in the busy target, before the main thread
    enters run_busy): a dump taken then rightly shows those frames. Every
    dump must be well formed (check_where's first checks), and one must
    show the steady state. Up to 30 s, not a number of attempts: how soon
    the threads get there is the machine's load."""
    deadline = time.monotonic() + 30
    while True:
        res = run_austin(["-w", proc.pid], timeout=30)
        assert res.returncode == 0 and res.stdout.strip(), res
        try:
            check_where(res, ids, expected)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def check_where(res, ids, expected):
    """expected: {thread name: [(function, file, line or None)]}."""
    assert res.returncode == 0, res
    out = res.stdout
    assert out.strip(), "where mode printed nothing: %r" % res
    assert "\x1b" not in out, "ANSI escape codes in piped output: %r" % out[:1000]
    tids = [ids[name] for name in expected]
    for name in expected:
        assert re.search(r"(?<![0-9A-Fa-fx])%d(?![0-9])" % ids[name], out), \
            "thread %s (tid %d) not listed:\n%s" % (name, ids[name], out)
    blocks = thread_blocks(out, tids)
    for name, frames in expected.items():
        block = blocks[ids[name]]
        for function, path, line in frames:
            # The function and its location are on one line of the thread's block.
            loc = path if line is None else "%s:%d" % (path, line)
            func = re.compile(r"(?<![\w.<>])%s(?![\w.<>])" % re.escape(function))
            assert any(func.search(ln) and loc in ln for ln in block.splitlines()), \
                "thread %s (tid %d): no line with function %r at %r in\n%s\n--- full output:\n%s" % (
                    name, ids[name], function, loc, block, out)


def test_where_sleeping_threads(austin_bin, interp, procs, tmp_path):
    host_ids, target_ids = interp.side_file(tmp_path)
    path = interp.target(SLEEP)
    proc = procs.start(interp.command(SLEEP, 600, target_ids))
    ids = wait_ids(host_ids, proc)
    assert ids["pid"] == proc.pid == ids["main"]
    mk = marks(SLEEP)
    n = interp.name
    check_where_soon(proc, ids, {
        "main": [("<module>", path, mk["main_call"]), ("main", path, mk["idle_call"]),
                 ("idle", path, mk["main_sleep"])],
        "napper": [(n("Napper.nap"), path, mk["napper_sleep"])],
        "dozer": [(n("make_dozer.<locals>.doze"), path, mk["dozer_sleep"])],
    })
    assert_running_untraced(proc)


def test_where_busy_threads(austin_bin, interp, procs, tmp_path):
    host_ids, target_ids = interp.side_file(tmp_path)
    path = interp.target(BUSY)
    proc = procs.start(interp.command(BUSY, 600, target_ids))
    ids = wait_ids(host_ids, proc)
    mk = marks(BUSY)
    n = interp.name
    expected = {
        "main": [("<module>", path, mk["main_call"]), ("main", path, mk["run_busy_call"]),
                 ("run_busy", path, None)],
        "worker": [(n("Worker.run"), path, None)],
        "sleeper": [("sleeper", path, mk["sleeper_sleep"])],
    }
    # Busy threads move: only the frames that are always there have a known line.
    check_where_soon(proc, ids, expected)
    assert_running_untraced(proc)
