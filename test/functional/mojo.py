"""A decoder of MOJO, Austin's binary output (version 3), for the tests.

Written from the format's description (see src/sampler/emit_mojo.c and
man/austin.1), not from austin's code, so that it checks what austin writes
rather than repeating it:

    stream   := "MOJ" int(version) event*
    int      := first byte: bits 0-5 magnitude, bit 6 sign, bit 7 more;
                next bytes: 7 more bits each (least significant first), bit 7 more
    string   := bytes up to a NUL
    event    := one byte naming it, then its fields:
      1 METADATA      string key, string value
      2 STACK         int pid, int iid, string tid (hexadecimal)
      3 FRAME         int key, int file key, int name key,
                      int line, int end line, int column, int end column
                      (as Austin 3.7: columns 1-based, i.e. CPython's
                      co_positions() offsets plus one; end line and
                      columns 0 when unknown: before 3.11, native frames)
      4 INVALID       (nothing)
      5 FRAME_REF     int frame key
      6 KERNEL        string symbol
      7 GC            (nothing)
      8 IDLE          (nothing)
      9 TIME          int microseconds
      10 MEMORY       int bytes (signed)
      11 STRING       int key, string
      12 STRING_REF   int key

Keys of strings and frames are scoped to the process of the STACK event
they follow. String key 1 means "<unknown>".
"""

METADATA, STACK, FRAME, INVALID, FRAME_REF, KERNEL, GC, IDLE, TIME, MEMORY, \
    STRING, STRING_REF = range(1, 13)


class MojoError(Exception):
    pass


class Frame:
    """A frame as MOJO defines it; kernel frames have kind "kernel"."""
    __slots__ = ("kind", "filename", "name", "line", "end_line", "column", "end_column")

    def __init__(self, kind, filename, name, line, end_line=0, column=0, end_column=0):
        self.kind, self.filename, self.name = kind, filename, name
        self.line, self.end_line, self.column, self.end_column = line, end_line, column, end_column

    def text(self):
        if self.kind == "kernel":
            return "kernel:%s:0" % self.name
        return "%s:%s:%d" % (self.filename, self.name, self.line)

    def __repr__(self):
        return "<%s %d-%d:%d-%d>" % (self.text(), self.line, self.end_line,
                                      self.column, self.end_column)


class MojoSample:
    __slots__ = ("pid", "iid", "tid", "frames", "invalid", "gc", "idle", "time", "memory",
                 "order")

    def __init__(self, pid, iid, tid):
        self.pid, self.iid, self.tid = pid, iid, tid
        self.frames = []
        self.invalid = self.gc = self.idle = False
        self.time = self.memory = None
        self.order = []  # event names after the frames, in stream order

    def text(self, mode):
        """The line austin's text format has for this sample."""
        head = "P%d;T%d:%d" % (self.pid, self.iid, self.tid)
        parts = [head] + [f.text() for f in self.frames]
        if self.invalid:
            parts.append(":INVALID:")
        if self.gc:
            parts.append(":GC:")
        if mode == "full":
            metric = "%d,%d,%d" % (self.time, 1 if self.idle else 0, self.memory)
        elif mode == "memory":
            metric = "%d" % self.memory
        else:
            metric = "%d" % self.time
        return ";".join(parts) + " " + metric


class MojoProfile:
    def __init__(self, version, metadata, samples):
        self.version = version
        self.metadata = metadata  # [(key, value)] in stream order
        self.samples = samples

    @property
    def meta(self):
        return dict(self.metadata)

    def text_lines(self):
        mode = self.meta.get("mode", "wall")
        return [s.text(mode) for s in self.samples]


class _Reader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def byte(self):
        if self.pos >= len(self.data):
            raise MojoError("truncated at offset %d" % self.pos)
        b = self.data[self.pos]
        self.pos += 1
        return b

    def int(self):
        b = self.byte()
        value, negative, shift = b & 0x3F, bool(b & 0x40), 6
        while b & 0x80:
            if shift > 70:
                raise MojoError("integer too long at offset %d" % self.pos)
            b = self.byte()
            value |= (b & 0x7F) << shift
            shift += 7
        return -value if negative else value

    def string(self):
        end = self.data.find(b"\0", self.pos)
        if end < 0:
            raise MojoError("unterminated string at offset %d" % self.pos)
        s = self.data[self.pos:end].decode("utf-8", errors="replace")
        self.pos = end + 1
        return s


def decode(data):
    """Decode a whole MOJO stream (bytes) into a MojoProfile; MojoError when
    it is not well formed."""
    if data[:3] != b"MOJ":
        raise MojoError("no MOJ magic: %r" % data[:8])
    r = _Reader(data)
    r.pos = 3
    version = r.int()
    if version != 3:
        raise MojoError("version %d, expected 3" % version)
    metadata, samples = [], []
    strings, frames = {}, {}  # (pid, key) -> value
    current = None

    def need_sample(what):
        if current is None:
            raise MojoError("%s before any STACK at offset %d" % (what, r.pos))
        return current

    def string_of(key):
        if key == 1:
            return "<unknown>"
        try:
            return strings[(current.pid, key)]
        except KeyError:
            raise MojoError("undefined string %d (pid %d) at offset %d"
                            % (key, current.pid, r.pos))

    while r.pos < len(data):
        ev = r.byte()
        if ev == METADATA:
            key = r.string()
            metadata.append((key, r.string()))
        elif ev == STACK:
            pid, iid, tid = r.int(), r.int(), r.string()
            current = MojoSample(pid, iid, int(tid, 16))
            samples.append(current)
        elif ev == STRING:
            s = need_sample("STRING")
            key = r.int()
            strings[(s.pid, key)] = r.string()
        elif ev == STRING_REF:
            string_of(r.int())
        elif ev == FRAME:
            s = need_sample("FRAME")
            key, fkey, nkey = r.int(), r.int(), r.int()
            loc = [r.int() for _ in range(4)]
            filename, name = string_of(fkey), string_of(nkey)
            kind = "native" if filename.startswith("native@") else "python"
            frames[(s.pid, key)] = Frame(kind, filename, name, *loc)
        elif ev == FRAME_REF:
            s = need_sample("FRAME_REF")
            key = r.int()
            if s.order:
                raise MojoError("frame after %s at offset %d" % (s.order[-1], r.pos))
            try:
                s.frames.append(frames[(s.pid, key)])
            except KeyError:
                raise MojoError("undefined frame %d (pid %d) at offset %d"
                                % (key, s.pid, r.pos))
        elif ev == KERNEL:
            need_sample("KERNEL").frames.append(Frame("kernel", "kernel", r.string(), 0))
        elif ev in (INVALID, GC, IDLE):
            s = need_sample("flag")
            name = {INVALID: "invalid", GC: "gc", IDLE: "idle"}[ev]
            setattr(s, name, True)
            s.order.append(name)
        elif ev == TIME:
            s = need_sample("TIME")
            s.time = r.int()
            s.order.append("time")
        elif ev == MEMORY:
            s = need_sample("MEMORY")
            s.memory = r.int()
            s.order.append("memory")
        else:
            raise MojoError("unknown event %d at offset %d" % (ev, r.pos - 1))
    return MojoProfile(version, metadata, samples)


# The fields of each event: i an integer, s a string.
FIELDS = {METADATA: "ss", STACK: "iis", FRAME: "iiiiiii", INVALID: "", FRAME_REF: "i",
          KERNEL: "s", GC: "", IDLE: "", TIME: "i", MEMORY: "i", STRING: "is",
          STRING_REF: "i"}


def events(data):
    """[(offset, event, [fields])] of a stream, after its "MOJ" and version,
    without checking references: for tests that take streams apart."""
    r = _Reader(data)
    r.pos = 3
    r.int()
    out = []
    while r.pos < len(data):
        start, ev = r.pos, r.byte()
        if ev not in FIELDS:
            raise MojoError("unknown event %d at offset %d" % (ev, start))
        out.append((start, ev, [r.int() if f == "i" else r.string() for f in FIELDS[ev]]))
    return out


def encode_int(value):
    """The bytes of an integer, as MOJO writes it."""
    magnitude = -value if value < 0 else value
    first = (magnitude & 0x3F) | (0x40 if value < 0 else 0)
    magnitude >>= 6
    out = bytearray([first | (0x80 if magnitude else 0)])
    while magnitude:
        b = magnitude & 0x7F
        magnitude >>= 7
        out.append(b | (0x80 if magnitude else 0))
    return bytes(out)


def encode_event(ev, fields):
    return bytes([ev]) + b"".join(encode_int(f) if isinstance(f, int) else f.encode() + b"\0"
                                  for f in fields)
