"""rdvexec - the rdv exec store protocol for adapters written in Python.

The protocol is ref/src/stores/EXEC_PROTOCOL.md in the rdv tree. This
module is its adapter side in plain Python (standard library only): it
reads requests on stdin, calls your store's methods, and writes replies on
stdout. An adapter is then a class and two lines:

    import rdvexec

    class MyStore:
        def set(self, key, value, create_only): ...
        def get(self, key, timeout_ms): ...          # -> bytes
        def wait(self, keys, timeout_ms): ...
        ...

    opts = rdvexec.options()                         # {"path": "/tmp/x"}
    rdvexec.serve(MyStore(**opts), level="full")

Keys and values are bytes. timeout_ms is -1 (no limit), 0 (try once: never
wait) or a positive number of milliseconds. A method fails by raising
StoreError(status, message); any other exception becomes RDV_EIO with the
exception's text (and a traceback on stderr). The ops declared in the
hello are the methods your class has, among: set get wait add compare_set
delete delete_prefix multi_get multi_set list num_keys.

Method signatures and results:
    set(key, value, create_only)        None; create-only on a present key:
                                        raise StoreError(EEXIST, ...)
    get(key, timeout_ms)                the value (bytes)
    wait(keys, timeout_ms)              None once every key exists
    add(key, delta)                     the new value (int)
    compare_set(key, expected, desired) (won, current): expected None means
                                        "the key is absent"; current None
                                        when the key is absent
    delete(key)                         None (a missing key is fine)
    delete_prefix(prefix)               how many keys it removed
    multi_get(keys, timeout_ms)         the values, in order
    multi_set(pairs)                    None; pairs is a list of (key, value)
    list(prefix)                        the keys that start with prefix
    num_keys()                          how many keys there are

Blocking methods should sleep with rdvexec.pause(seconds): it returns
after that long, or ends the adapter at once when rdv has gone away
(stdin at end-of-file), so a closed store never leaves a waiter behind.
"""

import os
import select
import struct
import sys
import traceback

VERSION = 1
MAGIC = b"rdv-exec"

# rdv's statuses (rdv/status.h)
OK, ETIMEDOUT, ENOTFOUND, EEXIST, ECONN, EPROTO, EIO, EINVAL = 0, -1, -2, \
    -3, -4, -5, -6, -7
ENOMEM, ENOTSUP, EAUTH = -8, -9, -12

HELLO = 1
OPS = {2: "set", 3: "get", 4: "wait", 5: "add", 6: "compare_set",
       7: "delete", 8: "delete_prefix", 9: "multi_get", 10: "multi_set",
       11: "list", 12: "num_keys"}
KEY_MAX = 4096 + 1024
VALUE_MAX = 64 << 20
MSG_MAX = 64 << 10


class StoreError(Exception):
    """A failed operation: status is one of the negative codes above."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def printable(key):
    """A key for a message: text, with odd bytes escaped."""
    return key.decode("utf-8", "backslashreplace")


_channel = None


class _Channel:
    """The protocol stream, moved off fds 0 and 1 so that stray prints
    (ours or a library's) land on stderr instead of corrupting it."""

    def __init__(self):
        self.rfd = os.dup(0)
        self.wfd = os.dup(1)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        os.dup2(2, 1)

    def read(self, n):
        buf = bytearray(n)
        view, got = memoryview(buf), 0
        while got < n:
            k = os.readv(self.rfd, [view[got:]])
            if k == 0:
                raise EOFError
            got += k
        return bytes(buf)

    def u8(self):
        return self.read(1)[0]

    def u32(self):
        return struct.unpack(">I", self.read(4))[0]

    def i64(self):
        return struct.unpack(">q", self.read(8))[0]

    def bytes(self, limit):
        n = self.u32()
        if n > limit:
            raise StoreError(EPROTO, f"a field of {n} bytes (limit {limit})")
        return self.read(n)

    def key(self):
        return self.bytes(KEY_MAX)

    def keys(self):
        return [self.key() for _ in range(self.u32())]

    def write(self, data):
        view = memoryview(data)
        while view:
            view = view[os.write(self.wfd, view):]

    def gone(self, seconds):
        """Waits up to seconds; True when rdv has gone (stdin readable:
        rdv sends nothing while a request is outstanding)."""
        r, _, _ = select.select([self.rfd], [], [], max(seconds, 0))
        return bool(r)


def pause(seconds):
    """Sleeps up to seconds inside a blocking op; exits when rdv is gone."""
    if _channel is None:
        select.select([], [], [], max(seconds, 0))
    elif _channel.gone(seconds):
        sys.exit(0)


def options(argv=None):
    """The adapter's arguments (--key=value, from the URL's options) as a
    dict; anything else refuses the start with a message to rdv."""
    opts = {}
    for arg in sys.argv[1:] if argv is None else argv:
        key, eq, value = arg[2:].partition("=")
        if not arg.startswith("--") or not eq or not key:
            refuse(EINVAL, f"unexpected argument '{arg}': URL options "
                   "arrive as --key=value")
        opts[key] = value
    return opts


def _b(data):
    return struct.pack(">I", len(data)) + data


def _reply(ch, type_, status, payload=b""):
    ch.write(bytes([type_]) + struct.pack(">i", status) + payload)


def _error(ch, type_, status, message):
    _reply(ch, type_, status, _b(message.encode("utf-8", "replace")[:MSG_MAX]))


def _hello(ch):
    """Reads rdv's hello; returns False (after refusing) on a mismatch."""
    if ch.u8() != HELLO or ch.bytes(16) != MAGIC:
        raise StoreError(EPROTO, "rdv did not start with a hello")
    lo, hi = ch.u32(), ch.u32()
    if not lo <= VERSION <= hi:
        _error(ch, HELLO, ENOTSUP, f"this adapter speaks exec protocol "
               f"version {VERSION}, rdv speaks {lo} to {hi}")
        return False
    return True


def refuse(status, message):
    """Answers rdv's hello with an error (bad options, backend down): rdv
    fails the open with message. Does not return."""
    ch = _channel or _Channel()
    try:
        if _hello(ch):
            _error(ch, HELLO, status, message)
    except (EOFError, StoreError):
        pass
    sys.exit(2)


def _request(ch, t):
    """Reads the fields of a request of type t: the method's arguments."""
    if t == 2:
        return ch.key(), ch.u32(), ch.bytes(VALUE_MAX)
    if t in (3, 4, 9):
        keys = [ch.key()] if t == 3 else ch.keys()
        return keys, ch.i64()
    if t == 5:
        return ch.key(), ch.i64()
    if t == 6:
        key, has = ch.key(), ch.u8()
        expected, desired = ch.bytes(VALUE_MAX), ch.bytes(VALUE_MAX)
        return key, expected if has else None, desired
    if t in (7, 8, 11):
        return (ch.bytes(KEY_MAX),)
    if t == 10:
        return ([(ch.key(), ch.bytes(VALUE_MAX)) for _ in range(ch.u32())],)
    if t == 12:
        return ()
    raise StoreError(EPROTO, f"unknown request type {t}")


def _run(store, t, args):
    """Calls the store's method for request t; the reply's payload."""
    if t == 2:
        key, flags, value = args
        store.set(key, value, bool(flags & 1))
        return b""
    if t == 3:
        return _b(store.get(args[0][0], args[1]))
    if t == 4:
        store.wait(*args)
        return b""
    if t in (5, 8, 12):
        n = getattr(store, OPS[t])(*args)
        return struct.pack(">q", n)
    if t == 6:
        won, cur = store.compare_set(*args)
        return bytes([1 if won else 0, cur is not None]) + _b(cur or b"")
    if t == 9:
        values = store.multi_get(*args)
        return struct.pack(">I", len(values)) + b"".join(map(_b, values))
    if t == 11:
        keys = store.list(args[0])
        return struct.pack(">I", len(keys)) + b"".join(map(_b, keys))
    getattr(store, OPS[t])(*args)  # delete, multi_set
    return b""


def serve(store, level="full", scope="shared", name=None, ops=None):
    """Serves store until rdv closes the stream. level is "full" or "gloo",
    scope "shared" (every adapter of the URL sees the same data) or
    "process" (the data lives in this process); ops defaults to the
    methods store has."""
    global _channel
    ch = _channel = _channel or _Channel()
    if ops is None:
        ops = [op for op in OPS.values() if callable(getattr(store, op, None))]
    pairs = [(b"level", level), (b"ops", ",".join(ops)), (b"scope", scope)]
    if name:
        pairs.append((b"name", name))
    try:
        if not _hello(ch):
            sys.exit(2)
        _reply(ch, HELLO, OK, _b(MAGIC) + struct.pack(">II", VERSION,
               len(pairs)) + b"".join(_b(k) + _b(v.encode()) for k, v in pairs))
        while True:
            t = ch.u8()
            try:
                args = _request(ch, t)
            except StoreError as e:  # out of step with rdv: end it
                print(f"rdvexec: bad request: {e.message}", file=sys.stderr)
                sys.exit(3)
            try:
                payload = _run(store, t, args)
            except StoreError as e:
                _error(ch, t, e.status, e.message)
                continue
            except Exception as e:  # the store's own bug or its backend's
                traceback.print_exc(file=sys.stderr)
                _error(ch, t, EIO, f"{OPS[t]}: {type(e).__name__}: {e}")
                continue
            _reply(ch, t, OK, payload)
    except (EOFError, BrokenPipeError, ConnectionResetError):
        sys.exit(0)  # rdv closed the store
