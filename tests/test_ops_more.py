"""Semantics of the op-breadth ops the OpInfo sweep cannot see from random inputs.

Hand-computed values and NumPy / Python references for: division signs and
special values (Python's `//` and `%`, NumPy's inf/nan/-0.0 rules, INT_MIN //
-1), round half to even, gradients of prod and cumprod through exact zeros,
stable sorting with ties and NaN, torch's cummax index rules, std's ddof at
the edges, the torch-style Tensor API, dim=/keepdim=, NumPy calls on tensors
and explicit randomness. Compiled modes use `run_strict` (the compiled
variant really ran, and its second call is compared).
"""
from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest

import tracead as ta
from strict import run_strict

SPECIALS = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 1.0, -1.0, 0.5, -2.5, 3.0, 7.25])


def _same(got, want) -> bool:
    got, want = np.asarray(got), np.asarray(want)
    return got.dtype == want.dtype and got.shape == want.shape and bool(np.all(
        (np.isnan(got) & np.isnan(want)) | ((got == want) & (np.signbit(got) == np.signbit(want)))))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_division_family_on_special_values_is_numpys(mode, dtype):
    a, b = (np.array(p, dtype) for p in zip(*itertools.product(SPECIALS, repeat=2)))
    out = run_strict(mode, lambda a, b: (a // b, a % b, ta.fmod(a, b), ta.copysign(a, b)),
                     ta.tensor(a), ta.tensor(b))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = (np.floor_divide(a, b), np.remainder(a, b), np.fmod(a, b), np.copysign(a, b))
    for name, got, ref in zip(("//", "%", "fmod", "copysign"), out, want):
        bad = ~np.array([_same(g, r) for g, r in zip(np.asarray(got), ref)])
        assert not bad.any(), f"{name}: {list(zip(a[bad], b[bad], np.asarray(got)[bad], ref[bad]))}"


def test_integer_division_follows_python_and_wraps_int_min(mode):
    lo = np.iinfo(np.int64).min
    a = np.array([7, -7, 7, -7, 0, lo, lo, 5], np.int64)
    b = np.array([2, 2, -2, -2, 3, -1, 1, 0], np.int64)
    out = run_strict(mode, lambda a, b: (a // b, a % b, ta.fmod(a, b)), ta.tensor(a), ta.tensor(b))
    py = [(x // y, x % y, int(math.fmod(x, y))) if y else (0, 0, 0) for x, y in zip(a.tolist(), b.tolist())]
    py[5] = (lo, 0, 0)  # NumPy wraps -INT_MIN (Python would give 2**63)
    for k, name in enumerate(("//", "%", "fmod")):
        assert np.asarray(out[k]).tolist() == [row[k] for row in py], name
        assert out[k].dtype == np.int64


def test_round_halves_to_even_and_decimals(mode):
    x = np.array([0.5, 1.5, 2.5, -0.5, -2.5, 1.25, 2.675, -0.0])
    r0, r1 = run_strict(mode, lambda x: (ta.round(x), ta.round(x, 1)), ta.tensor(x))
    assert _same(r0, np.array([0.0, 2.0, 2.0, -0.0, -2.0, 1.0, 3.0, -0.0]))
    assert _same(r1, np.round(x, 1))
    ints = ta.tensor(np.array([3, -4], np.int32))
    assert ta.round(ints).dtype == np.int32 and ta.floor(ints).tolist() == [3, -4]


def test_prod_and_cumprod_gradients_through_zeros(mode):
    def f(x):
        return ta.prod(x) + ta.cumprod(x, 0).sum()

    _, g = run_strict(mode, ta.value_and_grad(f), np.array([2.0, 0.0, 3.0]))
    # prod: the product of the others, [0, 6, 0]; cumsum of cumprod: [1, 2 + 2*3, 0].
    np.testing.assert_allclose(np.asarray(g), [0 + 1, 6 + 8, 0 + 0])
    _, g = run_strict(mode, ta.value_and_grad(f), np.array([2.0, 0.0, 3.0, 0.0]))
    np.testing.assert_allclose(np.asarray(g), [1, 2 + 6, 0, 0])  # two zeros: prod's is all 0


def test_sort_is_stable_and_nan_goes_last(mode):
    x = np.array([3.0, 1.0, np.nan, 1.0, 2.0, 3.0])
    values, order, desc = run_strict(
        mode, lambda x: (ta.sort(x), ta.argsort(x), ta.argsort(x, descending=True)), ta.tensor(x))
    assert _same(values, np.sort(x))
    assert np.asarray(order).tolist() == [1, 3, 4, 0, 5, 2]
    assert np.asarray(desc).tolist() == [2, 0, 5, 4, 1, 3]  # NaN first, ties in index order


def test_sort_and_topk_gradients_follow_the_permutation(mode):
    x = np.array([[0.3, -1.0, 2.0], [1.5, 0.2, -0.7]])
    w = np.array([1.0, 10.0, 100.0])

    def f(x):
        return (ta.sort(x, axis=-1) * w).sum() + ta.topk(x, 1, dim=0).values.sum()

    _, g = run_strict(mode, ta.value_and_grad(f), x)
    # rank of each element in its row picks its weight; topk(1) along rows picks the larger.
    np.testing.assert_allclose(np.asarray(g), [[10, 1, 100 + 1], [100 + 1, 10 + 1, 1]])


def test_cummax_indices_follow_torch():
    x = ta.tensor([1.0, 3.0, 3.0, 2.0, np.nan, 5.0])
    values, indices = ta.cummax(x, 0)
    assert indices.tolist() == [0, 1, 2, 2, 4, 4]  # ties take the later index; NaN sticks
    assert _same(values, np.maximum.accumulate(np.asarray(x)))
    values, indices = x.cummin(dim=0)
    assert indices.tolist() == [0, 0, 0, 0, 4, 4]


def test_std_ddof_edges_and_torch_correction():
    x = ta.tensor([1.0, 2.0, 4.0])
    np.testing.assert_allclose(ta.std(x).item(), np.std([1, 2, 4]))
    np.testing.assert_allclose(x.std(correction=1).item(), np.std([1, 2, 4], ddof=1))
    np.testing.assert_allclose(x.var(unbiased=True).item(), np.var([1, 2, 4], ddof=1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert ta.std(x, ddof=3).item() == np.inf
        assert np.isnan(ta.std(ta.tensor([2.0]), ddof=1).item())


def test_norms_match_numpy_and_have_zero_gradient_at_zero():
    x = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]])
    t = ta.tensor(x)
    for ord_, axis in [(None, None), (1, 0), (np.inf, 1), (-np.inf, 1), (0, 1), (3, None),
                       ("fro", None), (1, None), (np.inf, None), (-1, None), (None, (1, 0))]:
        if ord_ == 3 and axis is None:
            want, got = np.sum(np.abs(x) ** 3) ** (1 / 3), ta.vector_norm(t, 3)
        else:
            want, got = np.linalg.norm(x, ord_, axis), ta.norm(t, ord_, axis)
        np.testing.assert_allclose(np.asarray(got), want, err_msg=f"ord={ord_} axis={axis}")
    g = ta.grad(lambda v: ta.norm(v))(np.zeros(3))
    assert np.asarray(g).tolist() == [0.0, 0.0, 0.0]
    for ord_ in (2, -2, "nuc"):  # through the singular values
        np.testing.assert_allclose(ta.norm(t, ord_).item(), np.linalg.norm(x, ord_))
    with pytest.raises(ta.errors.OpError, match="norm"):
        ta.norm(t, 3, axis=(0, 1))  # no matrix 3-norm


def test_any_all_argmax_on_edges():
    empty = ta.zeros(0, 3)
    assert ta.any(empty, axis=0).tolist() == [False] * 3 and ta.all(empty).item() is True
    x = ta.tensor([[1.0, 5.0, 5.0], [np.nan, 0.0, 2.0]])
    assert ta.argmax(x, dim=1).tolist() == [1, 0]  # first maximum; NaN counts as the maximum
    assert x.argmin(keepdim=True, dim=-1).shape == (2, 1) and ta.argmax(x).item() == 3
    with pytest.raises(ta.errors.OpError, match="argmax"):
        ta.argmax(ta.zeros(0))


def test_torch_spellings_and_tuple_results():
    x = ta.tensor(np.arange(6.0).reshape(2, 3))
    assert x.sum(dim=1, keepdim=True).shape == (2, 1)
    assert ta.mean(x, dim=0).tolist() == [1.5, 2.5, 3.5]
    assert ta.softmax(x, dim=0).shape == (2, 3) and x.logsumexp(dim=1).shape == (2,)
    values, indices = x.max(dim=1)
    assert values.tolist() == [2.0, 5.0] and indices.tolist() == [2, 2]
    assert x.max(axis=1).tolist() == [2.0, 5.0]  # NumPy spelling: the values
    with pytest.raises(TypeError, match="both dim= and axis="):
        x.sum(axis=0, dim=0)
    assert x.sort(dim=1, descending=True).indices.tolist() == [[2, 1, 0], [2, 1, 0]]


def test_tensor_api_conversions_and_metadata():
    x = ta.tensor(np.arange(6.0).reshape(1, 2, 3))
    assert x.size == 6 and x.size() == (1, 2, 3) and x.size(-1) == 3 and x.numel() == 6
    assert x.dim() == 3 and x.flatten().shape == (6,) and x.flatten(1).shape == (1, 6)
    assert x.float().dtype == np.float32 and x.double().dtype == np.float64
    assert x.int().dtype == np.int32 and x.long().dtype == np.int64 and x.bool().dtype == np.bool_
    assert x.to(ta.int8).dtype == np.int8 and x.to("cpu") is x and x.to(x.int()).dtype == np.int32
    assert np.dtype(ta.uint8) == np.uint8 and np.dtype(ta.bool) == np.bool_
    assert ta.zeros(2, dtype=ta.int16).dtype == np.int16
    m = (x > 1) & ~(x > 4)
    assert m.flatten().tolist() == [False, False, True, True, True, False]
    assert (x.long() & 3).flatten().tolist() == [0, 1, 2, 3, 0, 1]  # integer bits, as torch
    with pytest.raises(TypeError, match="bool or integer"):
        x & x  # floats have no bits to combine
    y = ta.tensor([1.0, 2.0])
    assert y.zero_() is y and y.tolist() == [0.0, 0.0]


def test_zero_inside_compile_is_replayed(mode):
    state = ta.tensor([1.0, 2.0])

    def step(x):
        state.zero_()
        return x * 2.0

    compiled = step if mode == "eager" else ta.compile(step, backend=mode)
    compiled(ta.tensor([1.0]))  # traces
    state.assign_(np.array([5.0, 5.0]))
    compiled(ta.tensor([1.0]))
    assert state.tolist() == [0.0, 0.0]
    assert mode == "eager" or compiled.stats["hits"] >= 1


def test_numpy_calls_on_tensors_map_to_ops():
    x = ta.tensor(np.array([[0.3, -1.2, 2.0], [0.9, 0.1, -0.4]]), requires_grad=True)
    out = (np.sin(x) + np.cumsum(x, axis=1) + np.sort(x, axis=0) + np.log1p(x * x)
           + np.round(x, 1) + np.arctan2(x, 2.0)).sum() + np.prod(x) + np.std(x) + np.linalg.norm(x)
    assert isinstance(out, ta.Tensor)
    out.backward()
    a = np.asarray(x.detach())
    eps, g = 1e-6, np.zeros_like(a)

    def ref(a):
        return float((np.sin(a) + np.cumsum(a, 1) + np.sort(a, 0) + np.log1p(a * a)
                      + np.round(a, 1) + np.arctan2(a, 2.0)).sum() + np.prod(a) + np.std(a)
                     + np.linalg.norm(a))
    for i in np.ndindex(a.shape):
        d = np.zeros_like(a)
        d[i] = eps
        g[i] = (ref(a + d) - ref(a - d)) / (2 * eps)
    np.testing.assert_allclose(np.asarray(x.grad), g, rtol=1e-5, atol=1e-6)
    assert np.argmax(x, axis=1).tolist() == [2, 0] and np.isnan(x).dtype == np.bool_
    assert (np.floor_divide(x, 0.5) == ta.floor_divide(x, 0.5)).all().item()


def test_random_constructors_take_explicit_randomness():
    a, b = ta.randn(2, 3, seed=0), ta.randn(2, 3, seed=0)
    np.testing.assert_array_equal(np.asarray(a), np.random.default_rng(0).standard_normal((2, 3)))
    assert (a == b).all().item()
    rng = np.random.default_rng(1)
    assert not (ta.rand(4, rng=rng) == ta.rand(4, rng=rng)).all().item()  # the generator advances
    assert ta.randint(3, size=(5,), seed=2).dtype == np.int64
    assert ta.randn(3, seed=1, dtype=ta.float32).dtype == np.float32

    @ta.compile(backend="interpret")
    def noisy(x):
        return x + ta.randn(2, rng=np.random.default_rng(0))

    with pytest.raises(TypeError, match="randomness must be an input"):
        noisy(ta.zeros(2))

    @ta.compile(backend="interpret")
    def seeded(x):
        return x + ta.randn(2, seed=3)

    seeded(ta.zeros(2))
    np.testing.assert_array_equal(np.asarray(seeded(ta.zeros(2))),
                                  np.random.default_rng(3).standard_normal(2))


def test_creation_matches_numpy():
    np.testing.assert_array_equal(np.asarray(ta.arange(1, 7, 2)), np.arange(1, 7, 2))
    np.testing.assert_array_equal(np.asarray(ta.linspace(0, 1, 5)), np.linspace(0, 1, 5))
    np.testing.assert_array_equal(np.asarray(ta.eye(2, 3, k=1)), np.eye(2, 3, 1))
    assert ta.full((2,), 7, dtype=ta.int32).tolist() == [7, 7] and ta.full(3, 1.5).shape == (3,)
    assert ta.full_like(ta.zeros(2), 4.0).tolist() == [4.0, 4.0]
    assert ta.arange(4.0, requires_grad=True).requires_grad
