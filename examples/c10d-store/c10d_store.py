#!/usr/bin/python3
"""c10d_store.py - an rdv exec adapter around any torch.distributed.Store,
so `rdv conform` can certify PyTorch's stores and yours.

    exec:/path/c10d_store.py?store=file&path=/tmp/c10d.db
    exec:/path/c10d_store.py?store=tcp&port=29500[&host=127.0.0.1][&server=first]
    exec:/path/c10d_store.py?store=hash
    exec:/path/c10d_store.py?store=mypkg.mymod:MyStore[&arg=value...]
    ... &store_prefix=P       wraps the store in c10d's PrefixStore(P, store)
    ... &store_timeout_ms=N   the c10d store's own timeout (c10d: 300 s)

store=tcp connects to a TCPStore server at host:port; with server=first the
first adapter that finds nobody listening there starts the server inside
itself (is_master=True) and the others connect to it. That server lives as
long as that adapter, i.e. the first handle opened: open it first and close
it last, as rank 0 does in a PyTorch job (`rdv run` and `rdv conform` both
do). store=hash is c10d's in-process HashStore: each adapter has its own,
so the adapter declares scope=process (see README.md). A user's class is
named by import path; the remaining options are passed to its constructor
as keyword arguments (strings).

What c10d 1.13 offers, and how the rdv ops map onto it (README.md has the
consequences):
    set          store.set(key, value); create-only is
                 compare_set(key, b"", value), which c10d documents as "set
                 if absent" (it also replaces an empty value)
    get          set_timeout(t), get(key), then the old timeout back
    wait         wait(keys, t)
    add          add(key, delta)
    compare_set  compare_set(key, expected or b"", desired): c10d returns
                 one value, so won = (returned == desired) and current =
                 returned
    delete       delete_key(key)
    num_keys     num_keys()
c10d has no list, no multi ops and no check, so the level is "gloo"; rdv
supplies multi_get and multi_set itself. Timeouts: c10d reads 0 as "no
timeout", so "try once" (0) becomes 1 ms and "no limit" (-1) a year.
c10d 1.13 raises RuntimeError for a timeout and for other failures alike;
one whose text mentions a timeout is reported as RDV_ETIMEDOUT, a
ValueError (add on a non-number: "stoll") as RDV_EPROTO, the rest as
RDV_EIO. Keys and values go to c10d as bytes, unchanged.
"""

import datetime
import importlib
import os
import socket
import sys

sys.dont_write_bytecode = True  # no __pycache__ next to the adapter

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "exec-store"))
import rdvexec  # noqa: E402
from rdvexec import StoreError, printable  # noqa: E402

C10D_METHODS = {"set": "set", "get": "get", "wait": "wait", "add": "add",
                "compare_set": "compare_set", "delete": "delete_key",
                "num_keys": "num_keys"}
NO_LIMIT = datetime.timedelta(days=365)


def about(op, key):
    return f"{op} '{printable(key)}'"


def timeout_of(ms):
    """rdv's timeout_ms as the timedelta c10d needs."""
    if ms < 0:
        return NO_LIMIT
    return datetime.timedelta(milliseconds=max(ms, 1))


class C10dAdapter:
    def __init__(self, store, name):
        self.store = store
        self.name = name
        self.default_timeout = store.timeout

    def fail(self, what, e):
        """The StoreError for c10d's exception e during what."""
        text = f"{what}: {self.name}: {type(e).__name__}: {e}"
        if isinstance(e, ValueError):
            return StoreError(rdvexec.EPROTO, text)
        if isinstance(e, RuntimeError) and "timeout" in str(e).lower():
            return StoreError(rdvexec.ETIMEDOUT, text)
        return StoreError(rdvexec.EIO, text)

    def set(self, key, value, create_only):
        try:
            if not create_only:
                self.store.set(key, value)
                return
            now = self.store.compare_set(key, b"", value)
        except Exception as e:
            raise self.fail(about("set", key), e)
        if now != value:
            raise StoreError(rdvexec.EEXIST, f"{about('set', key)}: "
                             f"{self.name}: the key exists (create-only, "
                             "done as c10d compare_set with expected b'')")

    def get(self, key, timeout_ms):
        try:
            self.store.set_timeout(timeout_of(timeout_ms))
            try:
                return self.store.get(key)
            finally:
                self.store.set_timeout(self.default_timeout)
        except Exception as e:
            raise self.fail(about("get", key), e)

    def wait(self, keys, timeout_ms):
        try:
            self.store.wait(keys, timeout_of(timeout_ms))
        except Exception as e:
            raise self.fail(f"wait for {len(keys)} keys", e)

    def add(self, key, delta):
        try:
            return self.store.add(key, delta)
        except Exception as e:
            raise self.fail(about("add", key), e)

    def compare_set(self, key, expected, desired):
        try:
            now = self.store.compare_set(key, expected or b"", desired)
        except Exception as e:
            raise self.fail(about("compare_set", key), e)
        return now == desired, now

    def delete(self, key):
        try:
            self.store.delete_key(key)
        except Exception as e:
            raise self.fail(about("delete", key), e)

    def num_keys(self):
        try:
            return self.store.num_keys()
        except Exception as e:
            raise self.fail("num_keys", e)


def listening(host, port):
    """1 when something accepts connections at host:port."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def need(opts, key, kind):
    if key not in opts:
        raise ValueError(f"store={kind} needs the option {key}=")
    return opts.pop(key)


def open_tcp(d, opts, timeout):
    """A TCPStore client, or the server when server=first and nobody
    listens yet; its description."""
    host = opts.pop("host", "127.0.0.1")
    port = int(need(opts, "port", "tcp"))
    first = opts.pop("server", "no")
    if first not in ("first", "no"):
        raise ValueError(f"server={first}: want server=first or server=no")
    if first == "first" and not listening(host, port):
        try:
            return d.TCPStore(host, port, None, True, timeout,
                              wait_for_workers=False), \
                f"c10d TCPStore {host}:{port} (server)"
        except RuntimeError:
            pass  # another adapter won the race: be its client
    return d.TCPStore(host, port, None, False, timeout,
                      wait_for_workers=False), \
        f"c10d TCPStore {host}:{port}"


def open_store(opts):
    """The c10d store the options name, its description, and whether it
    lives in this process only."""
    import torch.distributed as d

    kind = opts.pop("store", None)
    timeout = datetime.timedelta(
        milliseconds=int(opts.pop("store_timeout_ms", "300000")))
    prefix = opts.pop("store_prefix", None)
    local = False
    if kind == "file":
        path = need(opts, "path", "file")
        store, name = d.FileStore(path, -1), f"c10d FileStore {path}"
        store.set_timeout(timeout)
    elif kind == "tcp":
        store, name = open_tcp(d, opts, timeout)
    elif kind == "hash":
        store, name, local = d.HashStore(), "c10d HashStore", True
        store.set_timeout(timeout)
    elif kind and ":" in kind:
        module, _, cls = kind.partition(":")
        store = getattr(importlib.import_module(module), cls)(**opts)
        name, opts = f"{kind}", {}
    else:
        raise ValueError("store= must be file, tcp, hash or MODULE:CLASS")
    if opts:
        raise ValueError(f"unknown options for store={kind}: "
                         f"{', '.join(opts)}")
    if prefix is not None:
        store, name = d.PrefixStore(prefix, store), \
            f"c10d PrefixStore '{prefix}' over {name}"
    return store, name, local


def offered(store):
    """The rdv ops the store offers: c10d's own classes offer them all; a
    Python subclass offers the methods it defines."""
    import torch.distributed as d

    cls = type(store)
    if cls.__module__.startswith("torch"):
        return list(C10D_METHODS)
    mine = {m for k in cls.__mro__ if k is not d.Store and
            not k.__module__.startswith(("torch", "pybind11"))
            for m in vars(k)}
    return [op for op, m in C10D_METHODS.items() if m in mine]


def main():
    opts = rdvexec.options()
    try:
        store, name, local = open_store(opts)
    except Exception as e:
        rdvexec.refuse(rdvexec.EINVAL if isinstance(e, (ValueError,
                       KeyError, ImportError, TypeError)) else rdvexec.ECONN,
                       f"c10d store: {type(e).__name__}: {e}")
    ops = offered(store)
    missing = {"set", "get", "wait"} - set(ops)
    if missing:
        rdvexec.refuse(rdvexec.ENOTSUP, f"{name} does not define "
                       f"{', '.join(sorted(missing))}: the gloo level needs "
                       "set, get and wait")
    rdvexec.serve(C10dAdapter(store, name), level="gloo", ops=ops,
                  scope="process" if local else "shared", name=name)


if __name__ == "__main__":
    main()
