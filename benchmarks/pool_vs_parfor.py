"""Chunked kernels run by tracead's thread pool against the same kernels as Numba parfors.

    python -m benchmarks.pool_vs_parfor [--rounds 7] [--calls 20] [--only W1,W3,W2]

The backend generates every large kernel as a serial function over a range
of fixed chunks of its outer loop and runs the chunks on a small pool of
Python threads (tracead/backends/numba/threads.py). This benchmark compiles
each workload twice in one process: as the backend does, and with the chunk
loop rewritten to `prange` in a `parallel=True` function called once over all
chunks (what the backend did before: Numba parfors on the workqueue layer).
Calls alternate between the two in rounds; printed is the median per-call
time of each and the median of the per-round ratios (pool / parfor), which
is what to read on a shared machine. `--dispatch` times one chunked `2*x+1`
kernel, serial, pooled and as a parfor, at sizes around the threshold.
"""
from __future__ import annotations

import argparse
import re
import statistics

import numpy as np

from . import timing

CHUNK_HEADER = "for c in range(c0, c1):"


def as_parfor(body: str) -> str:
    """A generated module's chunk functions as parfors: prange over the chunks, parallel=True."""
    if CHUNK_HEADER not in body:
        return body
    body = body.replace("from numba import njit\n", "from numba import njit, prange\n")
    parts = re.split(r"(?m)^(?=@njit\()", body)
    for i, part in enumerate(parts):
        if CHUNK_HEADER in part:
            part = part.replace(CHUNK_HEADER, "for c in prange(c0, c1):")
            parts[i] = part.replace('error_model="numpy")', 'error_model="numpy", parallel=True)', 1)
    return "".join(parts)


def parfor_compile(make):
    """`make()` (a ta.compile call) with kernels generated as parfors, called without the pool."""
    import numba

    from tracead.backends.numba import backend, codegen, steps, threads

    numba.config.THREADING_LAYER = "workqueue"  # the layer the backend used for parfors

    def generate(*args, **kwargs):
        code = codegen.generate(*args, **kwargs)
        return codegen.KernelCode(as_parfor(code.body), code.entries, code.parallel)

    def direct(fn, chunks, combine=None, part=None):
        def call(*args):
            if part is not None:
                args = args + (np.empty(*part),)
            fn(*args, 0, chunks)
            if combine is not None:
                combine(*args, 0, chunks)
        return call

    saved = backend.generate, steps.threads.pooled
    backend.generate, steps.threads.pooled = generate, direct
    try:
        fn = make()
        fn()  # traces, compiles and links with the patched generator and call
        fn()
    finally:
        backend.generate, steps.threads.pooled = saved
    assert threads.POOL is not None
    return fn


def workload(name: str):
    """A zero-argument factory of the compiled call of workload `name`."""
    from . import tracead_impls, workloads

    case = {"W1": lambda: workloads.make_w1(4_000_000, np.float32),
            "W3": lambda: workloads.make_w3(4096, 1024),
            "W2": lambda: workloads.make_w2(1024)}[name]()
    assert tracead_impls  # registers the implementations
    return lambda: workloads.IMPLEMENTATIONS[case.workload]["tracead numba"](case)


def _median_call(fn, calls: int) -> float:
    return statistics.median(timing.time_once(fn)[0] for _ in range(calls))


def compare(name: str, rounds: int, calls: int, pool_threshold: int | None = None) -> None:
    """pool_threshold: the pooled version's parallel threshold (the parfor's stays the default)."""
    import os

    make = workload(name)
    saved = os.environ.get("TRACEAD_PARALLEL_THRESHOLD")
    if pool_threshold is not None:
        os.environ["TRACEAD_PARALLEL_THRESHOLD"] = str(pool_threshold)
    try:
        pool = make()
        pool()
        pool()
    finally:
        if saved is None:
            os.environ.pop("TRACEAD_PARALLEL_THRESHOLD", None)
        else:
            os.environ["TRACEAD_PARALLEL_THRESHOLD"] = saved
    parfor = parfor_compile(make)
    ratios, a, b = [], [], []
    for _ in range(rounds):
        ta_, tb = _median_call(pool, calls), _median_call(parfor, calls)
        a.append(ta_)
        b.append(tb)
        ratios.append(ta_ / tb)
    print(f"{name}: pool {statistics.median(a) * 1e3:.3f} ms, parfor {statistics.median(b) * 1e3:.3f} ms, "
          f"pool/parfor median of {rounds} rounds {statistics.median(ratios):.3f} "
          f"(range {min(ratios):.2f}-{max(ratios):.2f})", flush=True)


def dispatch(rounds: int) -> None:
    """Serial, pooled and parfor `2*x+1` (float32) over sizes around the threshold."""
    import numba
    from numba import njit, prange

    from tracead.backends.numba.threads import POOL
    from tracead.backends.numba.writer import CHUNKS

    numba.config.THREADING_LAYER = "workqueue"

    @njit(nogil=True, error_model="numpy")
    def chunked(a, out, c0, c1):
        n = a.shape[0]
        for c in range(c0, c1):
            for i in range(np.uint64(c * n // CHUNKS), np.uint64((c + 1) * n // CHUNKS)):
                out[i] = np.float32(2.0) * a[i] + np.float32(1.0)

    @njit(nogil=True, error_model="numpy", parallel=True)
    def parfor(a, out):
        for i in prange(a.shape[0]):
            out[i] = np.float32(2.0) * a[i] + np.float32(1.0)

    for n in (16384, 65536, 131072, 262144, 524288, 1048576, 4194304):
        a = np.random.rand(n).astype(np.float32)
        o = np.empty_like(a)
        ways = {"serial": lambda a=a, o=o: chunked(a, o, 0, CHUNKS),
                "pool": lambda a=a, o=o: POOL.run(chunked, (a, o), CHUNKS),
                "parfor": lambda a=a, o=o: parfor(a, o)}
        calls = max(20, min(2000, int(2e7 // n)))
        res = {k: [] for k in ways}
        for f in ways.values():
            f()
        for _ in range(rounds):
            for k, f in ways.items():
                res[k].append(_median_call(f, calls))
        print(f"2*x+1 f32 n={n:>8}: " + "  ".join(f"{k} {statistics.median(v) * 1e6:8.1f} us"
                                                   for k, v in res.items()), flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--calls", type=int, default=20)
    ap.add_argument("--only", default="W1,W3,W2")
    ap.add_argument("--dispatch", action="store_true")
    ap.add_argument("--pool-threshold", type=int, default=None,
                    help="parallel threshold of the pooled version (default: the library's)")
    args = ap.parse_args(argv)
    if args.dispatch:
        dispatch(args.rounds)
        return 0
    for name in args.only.split(","):
        compare(name, args.rounds, args.calls, args.pool_threshold)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
