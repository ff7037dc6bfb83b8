"""Target for the privilege tests of austin (test_privilege.py).

Usage:
  target_privilege.py creds [SECONDS]
      Writes the Uid, Gid, Groups and Cap* lines of its /proc/self/status on
      standard error, then waits in creds_wait for SECONDS (default 0.5).
  target_privilege.py parent SETUID_PYTHON SECONDS
      Starts two children that wait for SECONDS: this interpreter running
      plain_child_wait, and SETUID_PYTHON (a setuid-root copy of an
      interpreter) running elevated_child_wait; waits for both in
      parent_wait.
  target_privilege.py exec SETUID_PYTHON SECONDS
      Waits in before_exec for SECONDS, then runs SETUID_PYTHON on this file
      ("euid") in its place.
  target_privilege.py plain|elevated|euid SECONDS
      The children: "plain ready" or "elevated ready" on standard error,
      then plain_child_wait, elevated_child_wait; euid writes
      "euid N" on standard error, then waits in after_exec.

Every wait sleeps in short steps (nap): sampled as idle, it burns no CPU.

Python 3.8 and later, standard library only.
"""

import os
import subprocess
import sys
import time


def nap(seconds):
    """Sleep in short steps: sampled as idle, and the tests share two CPUs."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.005)


def creds_wait(seconds):
    return nap(seconds)


def plain_child_wait(seconds):
    ready("plain")  # from here: this function is on the stack until the end
    return nap(seconds)


def elevated_child_wait(seconds):
    ready("elevated")
    return nap(seconds)


def after_exec(seconds):
    return nap(seconds)


def before_exec(seconds):
    return nap(seconds)


def ready(role):
    sys.stderr.write("%s ready\n" % role)
    sys.stderr.flush()


def parent_wait(children):
    for c in children:
        c.wait()


def main():
    mode = sys.argv[1]
    if mode == "creds":
        with open("/proc/self/status") as f:
            for line in f:
                if line.split(":")[0] in ("Uid", "Gid", "Groups") or line.startswith("Cap"):
                    sys.stderr.write(line)
        sys.stderr.flush()
        creds_wait(float(sys.argv[2]) if len(sys.argv) > 2 else 0.5)
    elif mode == "parent":
        setuid_python, seconds = sys.argv[2], sys.argv[3]
        children = [subprocess.Popen([sys.executable, __file__, "plain", seconds]),
                    subprocess.Popen([setuid_python, __file__, "elevated", seconds])]
        parent_wait(children)
    elif mode == "exec":
        setuid_python, seconds = sys.argv[2], float(sys.argv[3])
        before_exec(seconds)
        os.execv(setuid_python, [setuid_python, __file__, "euid", str(seconds)])
    elif mode == "plain":
        plain_child_wait(float(sys.argv[2]))
    elif mode == "elevated":
        elevated_child_wait(float(sys.argv[2]))
    elif mode == "euid":
        sys.stderr.write("euid %d\n" % os.geteuid())
        sys.stderr.flush()
        after_exec(float(sys.argv[2]))


if __name__ == "__main__":
    main()
