"""Shared by the test targets: the ids file that the tests wait for.

write_ids(path, {"main": tid, ...}) writes "pid <pid>" and one
"<name> <native thread id>" line per thread, atomically (a rename), so that
a test that sees the file sees all of it.  The tests copy this module
beside a target wherever they copy the target (a chroot).
"""

import os
import threading


def write_ids(path, ids=None):
    ids = dict(ids) if ids else {"main": threading.get_native_id()}
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("pid %d\n" % os.getpid())
        for name in sorted(ids):
            f.write("%s %d\n" % (name, ids[name]))
    os.rename(tmp, path)
