#!/usr/bin/python3
"""compare_c10d.py - rdv's tcp:// store beside c10d's TCPStore (PyTorch),
on the same machine, in the same run, interleaved, medians of the rounds.

    /usr/bin/python3 harness/bench/compare_c10d.py \
        --rdv build/release/harness/rdv [--rounds 5] [--ops 20000]

Needs PyTorch (Debian's python3-torch) in the interpreter that runs it:
use /usr/bin/python3, not a virtualenv shim. Each round measures, for
both stores, alternating which goes first:

  set/get/add p50   one client, 3-byte values; rdv through `rdv bench
                    store --procs 1` (its C client), and through librdv
                    from Python (ctypes) so that both sides also pay the
                    same per-call Python cost; c10d from Python (its
                    client is C++ under pybind11)
  store rendezvous  64 processes: set own key, wait for all, read all;
                    rdv through `rdv bench store-rendezvous --runs 1`
                    (one multi_get), c10d with one get per key (1.13 has
                    no multi_get); first process start -> last done
  1024 clients      one process opens 1024 clients, each sets a key, then
                    each reads another's; open -> last read

Both servers run in processes of their own: `rdv store-server` and a
Python process holding c10d's master TCPStore. The last column is
c10d / rdv: above 1, rdv is faster.
"""
import argparse
import ctypes
import datetime
import multiprocessing as mp
import os
import re
import resource
import statistics
import subprocess
import sys
import time

import torch
import torch.distributed as dist

TIMEOUT = datetime.timedelta(seconds=120)
VALUE = b"vvv"
KEYS = 1024


def start_rdv_server(rdv):
    p = subprocess.Popen([rdv, "store-server", "--bind", "127.0.0.1:0",
                          "--quiet"], stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    m = re.match(r"listening on 127\.0\.0\.1:(\d+)", line)
    if not m:
        p.kill()
        sys.exit("rdv store-server did not start: %r" % line)
    return p, int(m.group(1))


C10D_SERVER = """
import datetime, sys, time
import torch
import torch.distributed as dist
s = dist.TCPStore('127.0.0.1', 0, 1, True, datetime.timedelta(seconds=600),
                  wait_for_workers=False)
print(s.port, flush=True)
sys.stdin.read()
"""


def start_c10d_server():
    p = subprocess.Popen([sys.executable, "-c", C10D_SERVER],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True)
    return p, int(p.stdout.readline())


def c10d_client(port):
    return dist.TCPStore("127.0.0.1", port, 1, False, TIMEOUT)


class Rdv:
    """librdv's store API through ctypes."""

    def __init__(self, lib_path):
        self.lib = ctypes.CDLL(lib_path)
        self.libc = ctypes.CDLL(None)
        L = self.lib
        vp, cp, sz = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t
        L.rdv_store_open.argtypes = [cp, ctypes.POINTER(vp), cp, sz]
        L.rdv_store_close.argtypes = [vp]
        L.rdv_store_set.argtypes = [vp, cp, cp, sz, ctypes.c_int]
        L.rdv_store_get.argtypes = [vp, cp, ctypes.POINTER(vp),
                                    ctypes.POINTER(sz), ctypes.c_int]
        L.rdv_store_add.argtypes = [vp, cp, ctypes.c_int64,
                                    ctypes.POINTER(ctypes.c_int64)]
        L.rdv_store_errmsg.argtypes = [vp]
        L.rdv_store_errmsg.restype = cp
        self.libc.free.argtypes = [vp]

    def open(self, url):
        s, err = ctypes.c_void_p(), ctypes.create_string_buffer(512)
        if self.lib.rdv_store_open(url.encode(), ctypes.byref(s), err, 512):
            sys.exit("rdv_store_open: " + err.value.decode())
        return s

    def check(self, s, rc, op):
        if rc:
            sys.exit("rdv %s: %s" % (op, self.lib.rdv_store_errmsg(s)))

    def set(self, s, key, val):
        self.check(s, self.lib.rdv_store_set(s, key, val, len(val), 0), "set")

    def get(self, s, key):
        v, n = ctypes.c_void_p(), ctypes.c_size_t()
        self.check(s, self.lib.rdv_store_get(s, key, ctypes.byref(v),
                                             ctypes.byref(n), 5000), "get")
        self.libc.free(v)

    def add(self, s, key):
        out = ctypes.c_int64()
        self.check(s, self.lib.rdv_store_add(s, key, 1, ctypes.byref(out)),
                   "add")


def p50_us(samples):
    return statistics.median(samples) / 1e3


def time_ops(ops, do_set, do_get, do_add, prefix):
    keys = [("%s/%d" % (prefix, i)).encode() for i in range(KEYS)]
    for k in keys:
        do_set(k)
    out = {}
    for name, fn in (("set", do_set), ("get", do_get), ("add", do_add)):
        lat = []
        for i in range(ops):
            k = keys[i % KEYS] if name != "add" else keys[0] + b"-ctr"
            t = time.perf_counter_ns()
            fn(k)
            lat.append(time.perf_counter_ns() - t)
        out[name] = p50_us(lat)
    return out


def c10d_ops(port, ops, rnd):
    s = c10d_client(port)
    return time_ops(ops, lambda k: s.set(k.decode(), VALUE),
                    lambda k: s.get(k.decode()),
                    lambda k: s.add(k.decode(), 1), "c10d-ops/%d" % rnd)


def rdv_ctypes_ops(rdv, port, ops, rnd):
    s = rdv.open("tcp://127.0.0.1:%d" % port)
    out = time_ops(ops, lambda k: rdv.set(s, k, VALUE),
                   lambda k: rdv.get(s, k), lambda k: rdv.add(s, k),
                   "rdv-ops/%d" % rnd)
    rdv.lib.rdv_store_close(s)
    return out


def rdv_bench(rdv_bin, bench, port, *args):
    """Runs `rdv bench <bench>` on the tcp:// store at port; its stdout."""
    return subprocess.run([rdv_bin, "bench", bench, "--store",
                           "tcp://127.0.0.1:%d" % port] + list(args),
                          capture_output=True, text=True, check=True).stdout


def rdv_bench_ops(rdv_bin, port, ops):
    out = rdv_bench(rdv_bin, "store", port, "--ops", str(ops), "--procs", "1")
    res = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) == 5 and f[0] == "1" and f[1] in ("set", "get", "add"):
            res[f[1]] = float(f[3])
    return res


def rdv_store_rdv(rdv_bin, port, procs):
    out = rdv_bench(rdv_bin, "store-rendezvous", port, "--procs", str(procs),
                    "--runs", "1")
    return float(re.search(r"rendezvous_ms=([\d.]+)", out).group(1))


def c10d_worker(port, me, procs, rnd, barrier, times):
    s = c10d_client(port)
    keys = ["c10d-srdv/%d/%d" % (rnd, i) for i in range(procs)]
    val = bytes([97 + me % 26]) * 128
    barrier.wait()
    t0 = time.monotonic_ns()
    s.set(keys[me], val)
    s.wait(keys, TIMEOUT)
    for k in keys:
        s.get(k)
    times[2 * me] = t0
    times[2 * me + 1] = time.monotonic_ns()
    os._exit(0)


def c10d_store_rdv(port, procs, rnd):
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(procs)
    times = ctx.Array("q", 2 * procs, lock=False)
    ps = [ctx.Process(target=c10d_worker,
                      args=(port, i, procs, rnd, barrier, times))
          for i in range(procs)]
    for p in ps:
        p.start()
    for p in ps:
        p.join()
        if p.exitcode:
            sys.exit("a c10d rendezvous process failed")
    return (max(times[1::2]) - min(times[0::2])) / 1e6


def clients(n, open_one, set_one, get_one, close_one):
    t0 = time.monotonic()
    cs = [open_one() for _ in range(n)]
    for i, c in enumerate(cs):
        set_one(c, ("crowd/%d" % i).encode())
    for i, c in enumerate(cs):
        get_one(c, ("crowd/%d" % ((i + 1) % n)).encode())
    ms = (time.monotonic() - t0) * 1e3
    for c in cs:
        close_one(c)
    return ms


def rdv_clients(rdv, port, n):
    url = "tcp://127.0.0.1:%d" % port
    return clients(n, lambda: rdv.open(url),
                   lambda s, k: rdv.set(s, k, VALUE), rdv.get,
                   rdv.lib.rdv_store_close)


def c10d_clients(port, n):
    return clients(n, lambda: c10d_client(port),
                   lambda s, k: s.set(k.decode(), VALUE),
                   lambda s, k: s.get(k.decode()), lambda s: None)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rdv", required=True, help="the rdv binary")
    ap.add_argument("--lib", help="librdv.so (default: beside --rdv)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--ops", type=int, default=20000)
    ap.add_argument("--procs", type=int, default=64)
    ap.add_argument("--clients", type=int, default=1024)
    a = ap.parse_args()
    lib = a.lib or os.path.join(os.path.dirname(os.path.abspath(a.rdv)),
                                "..", "ref", "librdv.so")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE,
                       (min(hard, max(soft, 4 * a.clients + 256)), hard))
    rdv = Rdv(lib)
    rsrv, rport = start_rdv_server(a.rdv)
    csrv, cport = start_c10d_server()
    rows = {}

    def record(metric, who, value):
        rows.setdefault(metric, {}).setdefault(who, []).append(value)

    try:
        for rnd in range(a.rounds):
            order = ["rdv", "c10d"] if rnd % 2 == 0 else ["c10d", "rdv"]
            for who in order:
                if who == "rdv":
                    for op, v in rdv_bench_ops(a.rdv, rport, a.ops).items():
                        record(op + " p50 us", "rdv C", v)
                    for op, v in rdv_ctypes_ops(rdv, rport, a.ops,
                                                rnd).items():
                        record(op + " p50 us", "rdv Py", v)
                    record("store rendezvous %d procs ms" % a.procs,
                           "rdv C", rdv_store_rdv(a.rdv, rport, a.procs))
                    record("%d clients ms" % a.clients, "rdv Py",
                           rdv_clients(rdv, rport, a.clients))
                else:
                    for op, v in c10d_ops(cport, a.ops, rnd).items():
                        record(op + " p50 us", "c10d Py", v)
                    record("store rendezvous %d procs ms" % a.procs,
                           "c10d Py", c10d_store_rdv(cport, a.procs, rnd))
                    record("%d clients ms" % a.clients, "c10d Py",
                           c10d_clients(cport, a.clients))
            print("round %d/%d done" % (rnd + 1, a.rounds), file=sys.stderr)
    finally:
        rsrv.terminate()
        csrv.stdin.close()
        csrv.terminate()
        rsrv.wait()
        csrv.wait()
    report(rows, a.rounds)


def report(rows, rounds):
    cols = ["rdv C", "rdv Py", "c10d Py"]
    print("rdv tcp:// vs c10d TCPStore (torch %s): medians of %d rounds, "
          "interleaved" % (torch.__version__, rounds))
    print("%-30s %9s %9s %9s %11s %12s" % ("metric", *cols, "c10d/rdv C",
                                            "c10d/rdv Py"))
    for metric, v in rows.items():
        med = {c: statistics.median(v[c]) for c in cols if c in v}
        cells = ["%9.1f" % med[c] if c in med else "%9s" % "-"
                 for c in cols]
        ratios = ["%11.2f" % (med["c10d Py"] / med[r]) if r in med
                  else "%11s" % "-" for r in ("rdv C", "rdv Py")]
        print("%-30s %s %s %s" % (metric, " ".join(cells), ratios[0],
                                  " " + ratios[1]))
    print("rdv C: rdv's C client (rdv bench); rdv Py: librdv through "
          "ctypes; c10d Py: c10d's client from Python (C++ under "
          "pybind11). Ratios above 1: rdv is faster.")


if __name__ == "__main__":
    main()
