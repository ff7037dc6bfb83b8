"""The truth about native addresses, from binutils (readelf), for the tests
that check the names austinp and austinp-resolve give.

The rule the tools follow (man austinp, NATIVE FRAMES): an address is named
by a function symbol only when it lies inside it, [value, value + size);
the pieces a compiler makes of a function (.cold, .part.N, .isra.N,
.constprop.N, ...) are named after the function; a function no symbol
names is "<module>+0x<start>", its start taken from the unwind tables.

Symbols come from the file's .dynsym and .symtab and, when there is one,
its separate debug file by build-id under ROOT/usr/lib/debug (what the
tools read too)."""

import bisect
import os
import re
import subprocess

PIECE_RE = re.compile(r"^(.+?)((?:\.(?:cold|part|isra|constprop|lto_priv|localalias|clone)"
                      r"(?:\.\d+)*)+)$")
IDENTITY_RE = re.compile(r"^(.+)\+(0x[0-9a-f]+|\?\?)$")
FDE_RE = re.compile(r"^[0-9a-f]+ [0-9a-f]+ [0-9a-f]+ FDE cie=[0-9a-f]+ pc=([0-9a-f]+)\.\.([0-9a-f]+)$",
                    re.M)
EVAL = "_PyEval_EvalFrameDefault"


def run(argv):
    return subprocess.run([str(a) for a in argv], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True)


def base_name(name):
    """The function a piece belongs to: "f.constprop.0.isra.0" -> "f"."""
    m = PIECE_RE.match(name)
    return m.group(1) if m else name


def build_id(path):
    out = run(["readelf", "-n", path]).stdout
    m = re.search(r"Build ID: ([0-9a-f]+)", out)
    return m.group(1) if m else None


def debug_file(path, root=""):
    """The separate debug file of path found by build-id, or None."""
    bid = build_id(path)
    if bid is None:
        return None
    p = "%s/usr/lib/debug/.build-id/%s/%s.debug" % (root, bid[:2], bid[2:])
    return p if os.path.exists(p) else None


def _read_funcs(path):
    """[(value, size, name)] of the sized, defined function symbols."""
    out = run(["readelf", "-sW", path]).stdout
    funcs = []
    for line in out.splitlines():
        f = line.split()
        if len(f) < 8 or f[3] != "FUNC" or f[6] == "UND":
            continue
        size = int(f[2], 0) if f[2].startswith("0x") else int(f[2])
        if size > 0:
            funcs.append((int(f[1], 16), size, f[7].split("@")[0]))
    return funcs


class Symbols:
    """The sized function symbols of a file (and of its debug file)."""

    def __init__(self, path, root="", with_debug=True):
        funcs = _read_funcs(path)
        dbg = debug_file(path, root) if with_debug else None
        if dbg is not None:
            funcs += _read_funcs(dbg)
        self.path = path
        self.funcs = sorted(set(funcs))
        self.values = [f[0] for f in self.funcs]
        self.longest = max((f[1] for f in self.funcs), default=0)
        self.starts = {f[0] for f in self.funcs}

    def containing(self, addr):
        """The symbols that hold addr."""
        out = []
        i = bisect.bisect_right(self.values, addr)
        while i > 0:
            i -= 1
            v, size, name = self.funcs[i]
            if addr - v >= self.longest:
                break
            if v <= addr < v + size:
                out.append(self.funcs[i])
        return out

    def symbol_names(self, addr):
        """The names the symbols that hold addr allow (austinp-resolve's
        rule: it reads no unwind tables, and keeps the frame austinp named
        by split_parts)."""
        return {base_name(n) for _, _, n in self.containing(addr)}

    def names(self, addr):
        """The names the rule allows for addr (empty: no name allowed)."""
        names = self.symbol_names(addr)
        if not names:
            names = {n for lo, hi, n in self.split_parts() if lo <= addr < hi}
        return names

    def start(self, addr):
        """The start of the function that holds addr (the innermost of
        nested symbols), or None."""
        c = self.containing(addr)
        if c:
            return max(v for v, _, _ in c)
        return next((lo for lo, hi, _ in self.split_parts() if lo <= addr < hi), None)

    def split_parts(self):
        """[(start, end, function)]: the cold part of the evaluation loop
        that no symbol names (stripped PGO builds), which austinp names
        after its function: the unwind record right after the function's
        own in .eh_frame, at least a page away from it (readelf's order of
        the records is the section's)."""
        if hasattr(self, "_split"):
            return self._split
        self._split = []
        eval_syms = [(v, size) for v, size, n in self.funcs if n == EVAL]
        if not eval_syms:
            return self._split
        out = run(["readelf", "--debug-dump=frames", self.path]).stdout
        fdes = [(int(m.group(1), 16), int(m.group(2), 16))
                for m in FDE_RE.finditer(out)]
        for v, size in eval_syms:
            k = next((i for i, (lo, _) in enumerate(fdes) if lo == v), None)
            if k is None or k + 1 >= len(fdes):
                continue
            lo, hi = fdes[k + 1]
            near = lo + 4096 > v and lo < v + size + 4096
            if not near and not self.containing(lo) and not self.containing(hi - 1):
                self._split.append((lo, hi, EVAL))
        return self._split


_cache = {}


def symbols(path, root="", with_debug=True):
    key = (path, root, with_debug)
    if key not in _cache:
        _cache[key] = Symbols(path, root, with_debug)
    return _cache[key]


def module_name(path):
    """The module part of an unnamed frame's identity."""
    return re.sub(r"[;: \x00-\x1f\x7f]", "_", os.path.basename(path))
