"""Target for the privilege tests of austin (test_privilege.py).

Usage:
  target_privilege.py creds [SECONDS]
      Writes the Uid, Gid, Groups and Cap* lines of its /proc/self/status on
      standard error, then spins in creds_spin for SECONDS (default 0.5).
  target_privilege.py parent SETUID_PYTHON SECONDS
      Starts two children that spin for SECONDS: this interpreter running
      plain_child_spin, and SETUID_PYTHON (a setuid-root copy of an
      interpreter) running elevated_child_spin; waits for both in
      parent_wait.
  target_privilege.py exec SETUID_PYTHON SECONDS
      Spins in before_exec for SECONDS, then runs SETUID_PYTHON on this file
      ("euid") in its place.
  target_privilege.py plain|elevated|euid SECONDS
      The children: plain_child_spin, elevated_child_spin; euid writes
      "euid N" on standard error, then spins in after_exec.

Python 3.8 and later, standard library only.
"""

import os
import subprocess
import sys
import time


def spin(seconds):
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        n += 1
    return n


def creds_spin(seconds):
    return spin(seconds)


def plain_child_spin(seconds):
    return spin(seconds)


def elevated_child_spin(seconds):
    return spin(seconds)


def after_exec(seconds):
    return spin(seconds)


def before_exec(seconds):
    return spin(seconds)


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
        creds_spin(float(sys.argv[2]) if len(sys.argv) > 2 else 0.5)
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
        plain_child_spin(float(sys.argv[2]))
    elif mode == "elevated":
        elevated_child_spin(float(sys.argv[2]))
    elif mode == "euid":
        sys.stderr.write("euid %d\n" % os.geteuid())
        sys.stderr.flush()
        after_exec(float(sys.argv[2]))


if __name__ == "__main__":
    main()
