"""Every fusible primitive's Numba template against its NumPy impl on special values.

±0.0, NaN, ±inf, the largest finite and the smallest subnormal, and every
pair of them for binary prims, in float32 and float64 (and int64 where the
impl accepts it), compiled with every pass disabled, so each template must
be right on its own (not thanks to simplify rewriting it away). Results must
agree exactly in class (NaN, ±inf, ±0.0 with its sign); other finite values
to a few ulps (mathlib's exp/log/tanh are not libm's, see test_mathlib.py).
One compiled function per dtype returns every prim's result, so the sweep
costs two kernels per dtype.
"""
from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

import tracead as ta
from tracead.dispatch import bind
from tracead.ops import PRIMS
from tracead.passes import PIPELINE

NO_PASSES = list(PIPELINE)
POW_EXPONENTS = (0.5, 2, 2.0, 3, -1, -1.0, -2, 0, 1, -0.5, 1.5, 0.0)
CAST_TO = ("float32", "float64", "bool", "int64")


def _specials(dtype) -> np.ndarray:
    dtype = np.dtype(dtype)
    if dtype.kind == "i":
        info = np.iinfo(dtype)
        return np.array([0, 1, -1, 2, -3, 7, info.max, info.min], dtype)
    info = np.finfo(dtype)
    return np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 1.0, -1.0, 0.5, -2.5, 3.0,
                     info.max, -info.max, info.smallest_subnormal], dtype)


def _calls(dtype) -> dict[str, tuple]:
    """name -> (prim, which inputs ("x" unary values, "a b" pairs, "c a b" for where), params)."""
    calls = {}
    for name, prim in PRIMS.items():
        if prim.template is None or prim.kind != "elementwise":
            continue
        if name == "pow_scalar":
            for e in POW_EXPONENTS:
                calls[f"pow_scalar({e!r})"] = (prim, "x", {"exponent": e})
        elif name == "cast":
            for to in CAST_TO:
                calls[f"cast({to})"] = (prim, "x", {"dtype": to})
        else:
            calls[name] = (prim, {1: "x", 2: "ab", 3: "cab"}[prim.arity], {})
    kept = {}
    for label, (prim, ins, params) in calls.items():
        try:  # what the impl rejects (int ** negative int) eager rejects too
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _reference(prim, ins, params, _inputs(dtype))
        except (ValueError, TypeError):
            continue
        if np.dtype(dtype).kind == "f" and label == "cast(int64)":
            continue  # NaN/inf/huge to int is undefined in C (NumPy, Numba and LLVM differ)
        kept[label] = (prim, ins, params)
    return kept


def _inputs(dtype) -> dict[str, np.ndarray]:
    s = _specials(dtype)
    a, b = (np.array(p, dtype) for p in zip(*itertools.product(s, repeat=2)))
    return {"x": s, "a": a, "b": b, "c": np.arange(a.size) % 3 == 0}


def _reference(prim, ins, params, arrays):
    return np.asarray(prim.impl(*(arrays[k] for k in ins), **params))


def _mismatches(got: np.ndarray, want: np.ndarray, ulps: int) -> np.ndarray:
    if got.dtype != want.dtype or got.shape != want.shape:
        return np.ones(want.shape, bool)
    if want.dtype.kind != "f":
        return got != want
    nan = np.isnan(want)
    same_class = (np.isnan(got) == nan) & (np.isinf(got) == np.isinf(want)) & ((got == 0) == (want == 0))
    same_sign = nan | (np.signbit(got) == np.signbit(want))
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf
        close = nan | (got == want) | (np.abs(got - want) <= ulps * np.spacing(np.abs(want)))
    return ~(same_class & same_sign & close)


@pytest.fixture(scope="module", params=["float32", "float64", "int64"])
def sweep(request):
    """(dtype, calls, inputs, results per backend): one compiled function per backend."""
    dtype = np.dtype(request.param)
    calls, arrays = _calls(dtype), _inputs(dtype)
    order = list(calls)

    def all_prims(x, a, b, c):
        named = {"x": x, "a": a, "b": b, "c": c}
        return tuple(bind(calls[k][0], *(named[i] for i in calls[k][1]), **calls[k][2]) for k in order)

    results = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy warns on inf - inf etc.
        for backend in ("numba", "interpret"):
            cf = ta.compile(all_prims, backend=backend, disable=NO_PASSES)
            args = [arrays[k] for k in "xabc"]
            cf(*args)
            outs = cf(*args)  # the first call is the traced eager run
            assert cf.stats["hits"] >= 1 and cf.stats["eager_calls"] == 0
            results[backend] = dict(zip(order, (o.numpy() for o in outs)))
    return dtype, calls, arrays, results


@pytest.mark.parametrize("backend", ["numba", "interpret"])
def test_template_equals_impl_on_special_values(sweep, backend):
    dtype, calls, arrays, results = sweep
    ulps = 0 if backend == "interpret" else 4
    failures = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for label, (prim, ins, params) in calls.items():
            want = _reference(prim, ins, params, arrays)
            got = results[backend][label]
            bad = _mismatches(got, want, ulps)
            if bad.any():
                at = np.flatnonzero(bad)[:4]
                operands = [tuple(arrays[k][i] for k in ins) for i in at]
                failures.append(f"{label} {dtype}: at {operands} got {got.reshape(-1)[at]} "
                                f"NumPy {want.reshape(-1)[at]}")
    assert not failures, "\n".join(failures)


def test_every_fusible_prim_is_swept():
    # float-only and integer-only rows (the bit operations) are swept in their own dtype
    names = {label.split("(")[0] for dtype in (np.float64, np.int64) for label in _calls(dtype)}
    fusible = {n for n, p in PRIMS.items() if p.template is not None and p.kind == "elementwise"}
    assert fusible <= names


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_reductions_propagate_nan_and_inf(dtype):
    cases = [[np.nan, 1.0], [1.0, np.nan], [np.inf, -np.inf], [-np.inf, -np.inf], [np.nan, np.inf],
             [-0.0, -0.0], [-0.0], [np.inf, 1.0], [-np.inf, 5.0]]
    # Mixed-sign zero ties are left out: NumPy's own max of [0.0, -0.0] depends on the
    # position of each zero in its SIMD lanes.
    xs = np.array([c + [c[-1]] * (2 - len(c)) for c in cases], dtype)
    fn = lambda x: (x.sum(axis=1), x.max(axis=1))
    cf = ta.compile(fn, disable=NO_PASSES)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        cf(xs)
        s, m = cf(xs)
        assert cf.stats["hits"] >= 1
        for got, want in ((s.numpy(), xs.sum(axis=1)), (m.numpy(), xs.max(axis=1))):
            assert not _mismatches(got, want, 0).any(), (got, want)


def test_pow_scalar_half_matches_numpy_without_simplify():
    x = np.array([-0.0, -np.inf, 4.0, 2.0, np.nan, np.inf, 0.0])
    cf = ta.compile(lambda t: t ** 0.5, disable=["simplify"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        cf(x)
        got = cf(x).numpy()
        want = x ** 0.5
    assert cf.stats["hits"] >= 1
    assert not _mismatches(got, want, 0).any(), (got, want)
    assert np.signbit(got[0]) and np.isnan(got[1])
