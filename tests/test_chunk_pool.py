"""Chunked kernels on the thread pool (backends/numba/threads.py) against NumPy.

Large kernels are serial functions over fixed chunks of their outer loop;
`ChunkPool` splits the chunks over threads. Here: the pool covers every chunk
once and passes errors on; each kernel kind matches NumPy just below and just
above the parallel threshold (serial, then pooled: the record says which ran),
in float32 and float64, compiled and with the JIT off; and results are
bit-identical whatever the pool's thread count.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import tracead as ta
from tracead.backends.numba import threads

RNG = np.random.default_rng(11)
THRESHOLD = 2048  # parallel_threshold for these tests (work units: elements x cost / 2)


def _records(cf):
    return [k for variants in cf.variants.values() for v in variants for k in v.forward_exec.kernels if k.path]


def _softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# (id, fn, NumPy twin, kernel kind, shape with rows*cols just above THRESHOLD work; cost-2 ops)
CASES = [
    ("elementwise_flat", lambda x: x * 2.0 + 1.0, lambda x: x * 2.0 + 1.0, "elementwise", (4099,)),
    ("elementwise_nd", lambda x: x * 2.0 + 1.0, lambda x: x * 2.0 + 1.0, "elementwise", (37, 111)),
    ("sum_all", lambda x: (x * x).sum(), lambda x: (x * x).sum(), "reduce", (4099,)),
    ("sum_outer", lambda x: (x * x).sum(axis=0), lambda x: (x * x).sum(axis=0), "reduce", (37, 111)),
    ("sum_inner", lambda x: (x * x).sum(axis=1), lambda x: (x * x).sum(axis=1), "reduce", (37, 111)),
    ("max_middle", lambda x: (x + 1.0).max(axis=1), lambda x: (x + 1.0).max(axis=1), "reduce", (5, 37, 23)),
    ("max_outer_and_inner", lambda x: (x + 1.0).max(axis=(0, 2)), lambda x: (x + 1.0).max(axis=(0, 2)),
     "reduce", (5, 37, 23)),
    ("softmax_rows", lambda x: ta.softmax(x, axis=-1), _softmax, "rowwise", (37, 111)),
]


def _compiled(fn, x, threshold=THRESHOLD, **options):
    cf = ta.compile(fn, parallel_threshold=threshold, **options)
    cf(x)
    out = cf(x)
    assert cf.stats["hits"] >= 1 and cf.stats["eager_calls"] == 0
    return out.numpy(), cf


def _record(cf, kind) -> int:
    (rec,) = [r for r in _records(cf) if r.kind == kind]
    return rec


def _work(cf, kind) -> int:
    """The kernel's work units, as codegen compares them with the threshold."""
    from tracead.backends.numba.codegen import kernel_cost

    exe = cf.order[-1].forward_exec
    (kernel,) = [k for k in exe.schedule.kernels if k.kind == kind]
    return int(np.prod(kernel.shape)) * max(kernel_cost(kernel), 2) // 2


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_below_and_above_the_threshold_match_numpy(case, dtype):
    _, fn, twin, kind, shape = case
    tol = 2e-5 if dtype == np.float32 else 1e-12
    x = RNG.standard_normal(shape).astype(dtype)
    _, cf = _compiled(fn, x)
    work = _work(cf, kind)
    for threshold, pooled in ((work, False), (work - 1, True)):  # at the threshold: serial
        got, cf = _compiled(fn, x, threshold)
        assert _record(cf, kind).parallel == pooled, (threshold, work)
        want = twin(x)
        assert got.dtype == dtype and got.shape == np.shape(want)
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * 10)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_pooled_without_the_jit_matches_numpy(case):
    _, fn, twin, kind, shape = case
    x = RNG.standard_normal(shape)
    got, cf = _compiled(fn, x, jit=False)
    assert _record(cf, kind).parallel
    np.testing.assert_allclose(got, twin(x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", [c for c in CASES if c[3] == "reduce"], ids=lambda c: c[0])
def test_results_do_not_depend_on_the_thread_count(monkeypatch, case):
    """float32 sums and maxima, bit for bit, on 1, 2, 3 and 5 threads."""
    _, fn, _, kind, shape = case
    x = RNG.standard_normal(shape).astype(np.float32) * 1e3
    cf = ta.compile(fn, parallel_threshold=THRESHOLD)
    cf(x)
    results = []
    for size in (1, 2, 3, 5):
        monkeypatch.setattr(threads, "POOL", threads.ChunkPool(size))
        results.append(cf(x).numpy().copy())
    assert _record(cf, kind).parallel
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])


def test_pool_runs_every_chunk_once_on_several_threads():
    pool = threads.ChunkPool(3)
    seen, names = [], set()

    def fn(out, c0, c1):
        names.add(threading.current_thread().name)
        seen.append((c0, c1))
        out[c0:c1] += 1
        time.sleep(0.01)  # releases the GIL, as the kernels do: the other threads take pieces

    for chunks in (1, 2, 3, 7, 32):
        out = np.zeros(chunks)
        seen.clear()
        pool.run(fn, (out,), chunks)
        assert (out == 1).all(), (chunks, out)
        pieces = sorted(seen)  # contiguous, in order, covering [0, chunks)
        assert pieces[0][0] == 0 and pieces[-1][1] == chunks
        assert all(a[1] == b[0] for a, b in zip(pieces, pieces[1:]))
    assert "tracead-chunks" in names and threading.current_thread().name in names


def test_pool_hands_a_worker_error_to_the_caller():
    pool = threads.ChunkPool(2)

    def fn(c0, c1):
        if c0 > 0:
            raise ZeroDivisionError("in a worker")

    with pytest.raises(ZeroDivisionError, match="in a worker"):
        pool.run(fn, (), 4)
    out = np.zeros(4)  # the pool still works afterwards
    pool.run(lambda o, c0, c1: o.__setitem__(slice(c0, c1), 1.0), (out,), 4)
    assert (out == 1).all()


def test_a_second_caller_runs_all_chunks_itself():
    """Only one call uses the pool at a time; another thread runs serially meanwhile."""
    pool = threads.ChunkPool(2)
    inside, release = threading.Event(), threading.Event()
    seen = []

    def slow(c0, c1):
        if c0 == 0:
            inside.set()
            release.wait(5)

    t = threading.Thread(target=pool.run, args=(slow, (), 2))
    t.start()
    assert inside.wait(5)
    pool.run(lambda c0, c1: seen.append((c0, c1)), (), 2)  # the lock is taken: all chunks here
    release.set()
    t.join(5)
    assert seen == [(0, 2)]


_NO_LAYER = r"""
import numpy as np, tracead as ta
from numba.np.ufunc import parallel
cf = ta.compile(lambda x: (x * 2.0).sum(axis=0), parallel_threshold=0)
x = np.ones((40, 3))
cf(x)
assert cf(x).numpy().tolist() == [80.0, 80.0, 80.0]
print(parallel._is_initialized)
"""


def test_pooled_kernels_never_start_numbas_threading_layer(fresh_cache):
    """Its layers' threads fight BLAS's for the cores (threads.py); nothing starts one now."""
    env = dict(os.environ, TRACEAD_CACHE_DIR=str(fresh_cache))
    out = subprocess.run([sys.executable, "-c", _NO_LAYER], env=env, check=True,
                         capture_output=True, text=True).stdout
    assert out.strip() == "False"
