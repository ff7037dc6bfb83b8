#!/usr/bin/env python3
"""Write a line-table fixture for the running interpreter to stdout.

Works on CPython 3.8 to 3.15 with the standard library only. Compiles a few
standard-library modules and a synthetic module with tricky cases, then
prints, for every code object (recursively through co_consts), its line
table and the location the interpreter itself gives to every instruction.

Format (plain text, one item per line, fields separated by one space):

    version MAJOR.MINOR
    format lnotab|pep626|locations
    code NAME FIRSTLINENO NLOCS TABLEHEX      (TABLEHEX is "-" when empty)
    OFFSET LINE END_LINE COLUMN END_COLUMN    (NLOCS lines follow "code")
    end NCODES

OFFSET is a byte offset into the bytecode. LINE is 0 when the instruction
has no line; END_LINE is LINE when unknown; columns are -1 when unknown
(always before 3.11). NAME has no whitespace.

Expected locations come from the interpreter:
  3.8, 3.9   dis.findlinestarts (cross-checked with PyCode_Addr2Line through
             ctypes when ctypes is available)
  3.10       code.co_lines()
  3.11+      code.co_positions()
"""

import dis
import importlib.util
import sys
import types

MODULES = ["dis", "json.decoder", "argparse", "textwrap", "difflib", "string",
           "inspect", "typing", "asyncio.base_events"]

# Synthetic module: built from pieces so that the line numbers are known.
_SYNTH_HEAD = '''\
# -*- coding: utf-8 -*-
import os

def multi(a, b):
    x = (a +
         b)
    y = dict(
        first=a,
        second=b,
    )
    r = os.path.join(
        "x",
        str(x),
        str(y)
    ).upper()
    return [v * 2 for v in range(x)
            if v % 3] and {k: v for k, v in y.items()}

late_lambda = lambda q: (q,
    q + 1)

class Klass:
    """Doc."""
    attr = [i for i in range(3)]

    def method(self, ünïcödé="héllo wörld ✓"):
        ünïcödé = ünïcödé + "ü" * 3; self.z = ünïcödé.upper()
        return ünïcödé

def gen():
    try:
        yield 1
    except ValueError as e:
        yield str(e)
    finally:
        pass
    with open(os.devnull) as fh:
        yield fh

async def coro(x):
    async with x as y:
        await y
    async for z in y:
        pass
'''

_SYNTH_LATE = '''\
def far_away(a, b, c):
    x = a
'''

_SYNTH_GAP_TAIL = '''\
    y = x + b
'''


def _long_line(indent, target, n):
    # A single line that is much longer than 255 columns, with instructions
    # attributed to columns > 255.
    terms = " + ".join("v%d(a)" % i if i % 2 else "a[%d]" % i for i in range(n))
    return "%s%s = %s\n" % (indent, target, terms)


def synthetic_source():
    parts = [_SYNTH_HEAD]
    line = _SYNTH_HEAD.count("\n") + 1
    # Pad so that the next function starts past line 1000.
    parts.append("\n" * (1010 - line))
    parts.append(_SYNTH_LATE)
    # A gap of more than 255 lines inside a function.
    parts.append("\n" * 300)
    parts.append(_SYNTH_GAP_TAIL)
    # A gap of more than 127 (but less than 255) lines.
    parts.append("\n" * 150)
    parts.append("    z = y * c\n")
    # A very long line, and one huge single-line expression (lots of bytecode
    # on one line: byte increments > 255).
    parts.append(_long_line("    ", "w", 60))
    parts.append("    t = (" + ", ".join(["a", "b", "c"] * 150) + ")\n")
    # A call spanning more than 255 lines: the call instruction goes back to
    # the first line of the statement (negative line deltas < -255).
    parts.append("    u = max(\n")
    for i in range(300):
        parts.append("        a + %d,\n" % i if i % 50 == 0 else "\n")
    parts.append("    )\n")
    # Same with a span of more than 127 lines.
    parts.append("    s = min(a,\n" + "\n" * 140 + "        b)\n")
    parts.append("    return x, y, z, w, t, u, s\n")
    # A long unicode line with columns > 255 in bytes.
    parts.append("\ndef wide(a):\n")
    parts.append("    é = '" + "ü" * 140 + "'; ö = len(é) + a; return [é, ö, a.ü]\n")
    # Deeply nested lambdas / comprehensions over several lines.
    parts.append(
        "\nnested = [(lambda p: [q for q in p\n"
        "                      if q])(range(k))\n"
        "          for k in range(4)]\n"
    )
    return "".join(parts)


def module_source(name):
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise RuntimeError("module %s not found" % name)
    with open(spec.origin, "rb") as f:
        return spec.origin, f.read()


def walk(code):
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            for sub in walk(const):
                yield sub


def _addr2line():
    try:
        import ctypes
        f = ctypes.pythonapi.PyCode_Addr2Line
        f.argtypes = [ctypes.py_object, ctypes.c_int]
        f.restype = ctypes.c_int
        return f
    except Exception:
        return None


def locs_lnotab(code, addr2line):
    starts = list(dis.findlinestarts(code))
    result = []
    i = 0
    line = code.co_firstlineno
    for offset in range(0, len(code.co_code), 2):
        while i < len(starts) and starts[i][0] <= offset:
            line = starts[i][1]
            i += 1
        if addr2line is not None:
            other = addr2line(code, offset)
            if other != line:
                raise RuntimeError("%s offset %d: findlinestarts %d, PyCode_Addr2Line %d"
                                   % (code.co_name, offset, line, other))
        result.append((offset, line, line, -1, -1))
    return result


def locs_pep626(code):
    result = []
    for start, end, line in code.co_lines():
        line = 0 if line is None else line
        for offset in range(start, end, 2):
            result.append((offset, line, line, -1, -1))
    return result


def locs_positions(code):
    result = []
    for i, pos in enumerate(code.co_positions()):
        line, end_line, col, end_col = pos
        line = 0 if line is None else line
        end_line = line if end_line is None else end_line
        col = -1 if col is None else col
        end_col = -1 if end_col is None else end_col
        result.append((2 * i, line, end_line, col, end_col))
    return result


def main():
    version = sys.version_info[:2]
    if version < (3, 8):
        sys.exit("gen-linetable-fixtures: Python >= 3.8 required")
    if version < (3, 10):
        fmt = "lnotab"
    elif version < (3, 11):
        fmt = "pep626"
    else:
        fmt = "locations"
    addr2line = _addr2line() if fmt == "lnotab" else None

    sources = [("synthetic", "<synthetic>", synthetic_source())]
    for name in MODULES:
        path, src = module_source(name)
        sources.append((name, path, src))

    out = []
    out.append("version %d.%d" % version)
    out.append("format %s" % fmt)
    ncodes = 0
    for modname, path, src in sources:
        top = compile(src, path, "exec", dont_inherit=True)
        for code in walk(top):
            if fmt == "lnotab":
                table = code.co_lnotab
                locs = locs_lnotab(code, addr2line)
            elif fmt == "pep626":
                table = code.co_linetable
                locs = locs_pep626(code)
            else:
                table = code.co_linetable
                locs = locs_positions(code)
            name = "%s:%s" % (modname, getattr(code, "co_qualname", code.co_name))
            name = "".join("_" if c.isspace() else c for c in name)
            out.append("code %s %d %d %s" % (name, code.co_firstlineno, len(locs),
                                             table.hex() if table else "-"))
            for loc in locs:
                out.append("%d %d %d %d %d" % loc)
            ncodes += 1
    out.append("end %d" % ncodes)
    data = ("\n".join(out) + "\n").encode("utf-8", "backslashreplace")
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
