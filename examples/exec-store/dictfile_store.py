#!/usr/bin/python3
"""dictfile_store.py - the reference rdv exec adapter: a dict kept in one
file, shared by every adapter process that names the same file.

    exec:/path/to/dictfile_store.py?path=/tmp/rdv-store.db

It serves the whole rdv store contract (level "full") with the standard
library only, and `rdv conform` passes it. Copy its shape for a store in
another language: rdvexec.py is the protocol, this file is the store.

The file: b"RDVDICT1", an 8-byte random id, an 8-byte generation, then
one record per key (u32 length, key, u32 length, value), big-endian.
Writers take an exclusive flock on PATH.lock, re-read the file if its id
or generation moved, change the dict, write PATH.<pid>.tmp and rename it
over PATH (generation + 1): a reader opening PATH sees a whole version,
never a torn one, so reads take no lock. Each process caches the dict
and re-reads the file only when the generation in its header changes.
Blocking ops poll the header with backoff (0.5 ms, doubling to 5 ms)
through rdvexec.pause(), which ends the adapter if rdv goes away.
"""

import fcntl
import os
import struct
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ next to the adapter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rdvexec  # noqa: E402
from rdvexec import StoreError, printable  # noqa: E402

MAGIC = b"RDVDICT1"
HEAD = len(MAGIC) + 16
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


def encode(data):
    parts = []
    for k, v in data.items():
        parts += [struct.pack(">I", len(k)), k, struct.pack(">I", len(v)), v]
    return b"".join(parts)


def decode(body):
    data, at, view = {}, 0, memoryview(body)
    while at < len(body):
        (n,) = struct.unpack_from(">I", body, at)
        key = bytes(view[at + 4:at + 4 + n])
        at += 4 + n
        (n,) = struct.unpack_from(">I", body, at)
        data[key] = bytes(view[at + 4:at + 4 + n])
        at += 4 + n
    return data


class Deadline:
    """timeout_ms as the protocol gives it: -1 none, 0 try once."""

    def __init__(self, timeout_ms):
        self.ms = timeout_ms
        self.start = time.monotonic()
        self.end = None if timeout_ms < 0 else self.start + timeout_ms / 1e3
        self.nap = 0.0005

    def passed(self):
        return self.end is not None and time.monotonic() >= self.end

    def elapsed_ms(self):
        return int((time.monotonic() - self.start) * 1000)

    def sleep(self):
        left = 3600 if self.end is None else self.end - time.monotonic()
        rdvexec.pause(min(self.nap, max(left, 0)))
        self.nap = min(self.nap * 2, 0.005)


class DictFileStore:
    def __init__(self, path):
        self.path = path
        self.lockfd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT |
                              os.O_CLOEXEC, 0o644)
        self.version = None  # (id, generation) of self.data
        self.data = {}

    # -- the file ---------------------------------------------------------

    def load(self):
        """Brings self.data up to the file's current version."""
        try:
            f = open(self.path, "rb")
        except FileNotFoundError:
            self.version, self.data = (b"", 0), {}
            return
        with f:
            head = f.read(HEAD)
            if len(head) != HEAD or not head.startswith(MAGIC):
                raise StoreError(rdvexec.EIO, f"{self.path} is not a "
                                 "dictfile store (bad header)")
            version = (head[8:16], struct.unpack(">Q", head[16:])[0])
            if version != self.version:
                self.data, self.version = decode(f.read()), version
        return

    def save(self):
        """Writes self.data as the next version (under the lock)."""
        ident, gen = self.version
        ident = ident or os.urandom(8)
        tmp = f"{self.path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            f.write(MAGIC + ident + struct.pack(">Q", gen + 1) +
                    encode(self.data))
        os.rename(tmp, self.path)
        self.version = (ident, gen + 1)

    def update(self, change):
        """Runs change(data) under the lock on the newest version; saves
        when it returns True as its first result."""
        fcntl.flock(self.lockfd, fcntl.LOCK_EX)
        try:
            self.load()
            dirty, result = change(self.data)
            if dirty:
                self.save()
            return result
        except BaseException:
            self.version = None  # the cache may be half-changed: re-read
            raise
        finally:
            fcntl.flock(self.lockfd, fcntl.LOCK_UN)

    def until_present(self, keys, timeout_ms, what):
        """Waits until every key exists; the dict that has them."""
        d = Deadline(timeout_ms)
        while True:
            self.load()
            missing = [k for k in keys if k not in self.data]
            if not missing:
                return self.data
            if d.passed() or d.ms == 0:
                names = ", ".join(printable(k) for k in missing[:8])
                more = f" and {len(missing) - 8} more" if len(missing) > 8 \
                    else ""
                raise StoreError(rdvexec.ETIMEDOUT, f"{what} timed out after "
                                 f"{d.elapsed_ms()} ms: {len(missing)} of "
                                 f"{len(keys)} keys missing: {names}{more}")
            d.sleep()

    # -- the ops ----------------------------------------------------------

    def set(self, key, value, create_only):
        def change(data):
            if create_only and key in data:
                raise StoreError(rdvexec.EEXIST, f"set '{printable(key)}': "
                                 "the key exists (create-only)")
            data[key] = value
            return True, None
        self.update(change)

    def get(self, key, timeout_ms):
        return self.until_present([key], timeout_ms, "get")[key]

    def wait(self, keys, timeout_ms):
        self.until_present(keys, timeout_ms, "wait")

    def multi_get(self, keys, timeout_ms):
        data = self.until_present(keys, timeout_ms, "multi_get")
        return [data[k] for k in keys]

    def add(self, key, delta):
        def change(data):
            old = data.get(key, b"0")
            text = old.decode("ascii", "replace")
            digits = text[1:] if text.startswith("-") else text
            if not digits.isdigit() or not digits.isascii() or \
                    not INT64_MIN <= int(text) <= INT64_MAX:
                raise StoreError(rdvexec.EPROTO, f"add '{printable(key)}': "
                                 f"the value '{text[:40]}' is not a decimal "
                                 "int64")
            new = int(text) + delta
            if not INT64_MIN <= new <= INT64_MAX:
                raise StoreError(rdvexec.EINVAL, f"add '{printable(key)}': "
                                 f"{text} + {delta} overflows int64")
            data[key] = str(new).encode()
            return True, new
        return self.update(change)

    def compare_set(self, key, expected, desired):
        def change(data):
            cur = data.get(key)
            if cur == expected:  # None == None: "absent" was expected
                data[key] = desired
                return True, (True, desired)
            return False, (False, cur)
        return self.update(change)

    def delete(self, key):
        self.update(lambda data: (data.pop(key, None) is not None, None))

    def delete_prefix(self, prefix):
        def change(data):
            gone = [k for k in data if k.startswith(prefix)]
            for k in gone:
                del data[k]
            return bool(gone), len(gone)
        return self.update(change)

    def multi_set(self, pairs):
        def change(data):
            data.update(pairs)
            return True, None
        self.update(change)

    def list(self, prefix):
        self.load()
        return [k for k in self.data if k.startswith(prefix)]

    def num_keys(self):
        self.load()
        return len(self.data)


def main():
    opts = rdvexec.options()
    path = opts.pop("path", None)
    if not path or opts:
        rdvexec.refuse(rdvexec.EINVAL, "dictfile_store.py takes one option, "
                       "path=FILE" + (f"; unknown: {', '.join(opts)}"
                                      if opts else ""))
    try:
        store = DictFileStore(path)
        store.load()
    except (OSError, StoreError) as e:
        rdvexec.refuse(rdvexec.EIO, f"dictfile store {path}: {e}")
    rdvexec.serve(store, level="full", name=f"dictfile {path}")


if __name__ == "__main__":
    main()
