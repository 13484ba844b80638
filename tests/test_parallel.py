"""Parallel (chunked, run on the thread pool) kernels against NumPy, end to end through `ta.compile`.

The op table runs a few dozen elements, far below the parallel threshold, so
a one-line bug in a parallel loop (a chunk skipping index 0, a partial sum
dropped) would pass it. Here every kernel kind runs parallel twice: at sizes
above the default threshold, and with `parallel_threshold=0` at small odd
shapes (fewer rows than reduction chunks, rows not a multiple of them), and
each test checks that the kernel it meant really ran parallel and compiled.
The env var TRACEAD_PARALLEL_THRESHOLD=0 runs the whole suite this way.
"""
from __future__ import annotations

import numpy as np
import pytest

import tracead as ta

RNG = np.random.default_rng(7)


def _records(cf):
    return [k for variants in cf.variants.values() for v in variants for k in v.forward_exec.kernels]


def _run(fn, args, **options):
    """The second call's results (the first is the traced eager run) and the kernel records."""
    cf = ta.compile(fn, **options)
    cf(*args)
    out = cf(*args)
    assert cf.stats["hits"] >= 1 and cf.stats["eager_calls"] == 0
    outs = out if isinstance(out, tuple) else (out,)
    return [o.numpy() for o in outs], _records(cf)


def _close(got, want, dtype):
    tol = 2e-5 if np.dtype(dtype) == np.float32 else 1e-12
    for g, w in zip(got, want):
        assert g.shape == np.shape(w) and g.dtype == np.dtype(dtype)
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol * 10)


def _softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# (id, fn, NumPy twin, kind of the kernel that must run parallel, shapes: default / forced)
CASES = [
    ("elementwise", lambda x, b: 2.0 * x + b, lambda x, b: 2.0 * x + b, "elementwise",
     [(300_001,), (300_001,)], [(37, 53), (53,)]),
    ("elementwise_1d", lambda x, b: ta.tanh(x) * b, lambda x, b: np.tanh(x) * b, "elementwise",
     [(150_001,), (150_001,)], [(1001,), (1,)]),
    ("sum_all", lambda x, b: (x * b).sum(), lambda x, b: (x * b).sum(), "reduce",
     [(300_007,), (300_007,)], [(1001,), (1001,)]),
    ("sum_outer_axis", lambda x, b: (x * b).sum(axis=0), lambda x, b: (x * b).sum(axis=0), "reduce",
     [(601, 501), (501,)], [(37, 53), (53,)]),
    ("sum_few_rows", lambda x, b: (x + b).sum(axis=0), lambda x, b: (x + b).sum(axis=0), "reduce",
     [(601, 501), (1, 501)], [(5, 7), (1, 7)]),
    ("max_inner_axis", lambda x, b: (x - b).max(axis=1), lambda x, b: (x - b).max(axis=1), "reduce",
     [(601, 501), (601, 1)], [(37, 53), (37, 1)]),
    ("softmax_rows", lambda x, b: ta.softmax(x * b, axis=-1), lambda x, b: _softmax(x * b), "rowwise",
     [(701, 451), (451,)], [(37, 53), (53,)]),
]


def _inputs(shapes, dtype):
    return [RNG.standard_normal(s).astype(dtype) for s in shapes]


@pytest.mark.parametrize("size, dtype", [("above_threshold", "float32"), ("threshold_0", "float32"),
                                         ("threshold_0", "float64")])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_parallel_kernels_match_numpy(case, size, dtype):
    _, fn, twin, kind, big, small = case
    args = _inputs(big if size == "above_threshold" else small, dtype)
    options = {} if size == "above_threshold" else {"parallel_threshold": 0}
    got, records = _run(fn, args, **options)
    assert any(r.kind == kind and r.parallel for r in records), [(r.kind, r.parallel) for r in records]
    _close(got, [twin(*args)], dtype)


@pytest.mark.parametrize("size", ["above_threshold", "threshold_0"])
def test_parallel_matmul_epilogue_matches_numpy(size):
    m, k, n = (601, 64, 503) if size == "above_threshold" else (37, 29, 53)
    x, w, b = (RNG.standard_normal(s) for s in ((m, k), (k, n), (n,)))
    options = {} if size == "above_threshold" else {"parallel_threshold": 0}
    got, records = _run(lambda x, w, b: ta.relu(x @ w + b) * 0.5, (x, w, b), **options)
    assert any(r.kind == "matmul" and r.parallel for r in records)
    _close(got, [np.maximum(x @ w + b, 0.0) * 0.5], np.float64)


def test_threshold_from_the_environment(monkeypatch):
    monkeypatch.setenv("TRACEAD_PARALLEL_THRESHOLD", "0")
    x = RNG.standard_normal((3, 5))
    got, records = _run(lambda x: ta.exp(x) + 1.0, (x,))
    assert all(r.parallel for r in records if r.path)
    _close(got, [np.exp(x) + 1.0], np.float64)
