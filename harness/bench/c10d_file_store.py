#!/usr/bin/python3
"""c10d_file_store.py - one round of c10d's FileStore (PyTorch), the anchor
ci/bench-compare puts beside `rdv bench store` on the file store.

    /usr/bin/python3 harness/bench/c10d_file_store.py --dir DIR [--ops 2000]

Opens a FileStore on a fresh file in DIR (tmpfs or ext4: the directory
decides) with one process, and prints one JSON line with the p50 in us
of set, get and add (3-byte values, compare_c10d.py's time_ops: 1024
keys set first, then --ops timed calls each) and of 64 gets of
distinct keys timed as one call (c10d 1.13 has no multi_get: this is
what a caller of it does instead). Timed from Python: c10d's client is
C++ under pybind11, so each call also pays the binding. The file is
removed at the end. Needs /usr/bin/python3 with Debian's python3-torch.
"""
import argparse
import json
import os
import time

import torch
import torch.distributed as dist

from compare_c10d import KEYS, TIMEOUT, VALUE, p50_us, time_ops

MGET = 64


def get64_p50(store, ops, prefix):
    """p50 of 64 gets of distinct keys, the keys time_ops already set."""
    lat = []
    for i in range(ops):
        keys = ["%s/%d" % (prefix, (i + k) % KEYS) for k in range(MGET)]
        t = time.perf_counter_ns()
        for k in keys:
            store.get(k)
        lat.append(time.perf_counter_ns() - t)
    return p50_us(lat)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", required=True, help="where the store's file goes")
    ap.add_argument("--ops", type=int, default=2000)
    a = ap.parse_args()
    path = os.path.join(a.dir, "c10d-file-store-%d" % os.getpid())
    store = dist.FileStore(path, 1)
    store.set_timeout(TIMEOUT)
    prefix = "c10d-file"
    try:
        row = time_ops(a.ops, lambda k: store.set(k.decode(), VALUE),
                       lambda k: store.get(k.decode()),
                       lambda k: store.add(k.decode(), 1), prefix)
        row = {op + "_p50_us": v for op, v in row.items()}
        row["get64_p50_us"] = get64_p50(store, max(a.ops // 10, 20), prefix)
    finally:
        del store
        if os.path.exists(path):
            os.unlink(path)
    row.update(store="c10d FileStore", torch=torch.__version__, dir=a.dir,
               ops=a.ops)
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
