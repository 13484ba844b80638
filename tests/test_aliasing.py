"""Compiled outputs and state writes share memory exactly where eager's do.

Rewrites (simplify's `x * 1 -> x`, cse merging equal values) must not hand
the caller its own argument, one buffer as two outputs, or a buffer a later
call writes again. The reference is the traced first call itself: it runs
the function eagerly on the same arrays, so `np.shares_memory` on its
results says what eager shares. Memory is checked on the arrays (`._data`),
never through `.numpy()` (a copy).
"""
from __future__ import annotations

import numpy as np
import pytest

import tracead as ta

BACKENDS = ["numba", "interpret"]


def _arrays(result) -> list[np.ndarray]:
    results = result if isinstance(result, tuple) else (result,)
    return [r._data for r in results]


def _sharing(outs, ins) -> tuple:
    """(output-input pairs, output-output pairs) that share memory."""
    with_inputs = {(k, i) for k, o in enumerate(outs) for i, a in enumerate(ins) if np.shares_memory(o, a)}
    between = {(j, k) for j in range(len(outs)) for k in range(j + 1, len(outs))
               if np.shares_memory(outs[j], outs[k])}
    return with_inputs, between


CASES = {  # name: (function, NumPy twin, input shapes)
    "mul_one": (lambda x: x * 1.0, lambda x: x * 1.0, [(2, 3)]),
    "add_zero": (lambda x: x + 0.0, lambda x: x + 0.0, [(2, 3)]),
    "div_one": (lambda x: x / 1.0, lambda x: x / 1.0, [(2, 3)]),
    "pow_one": (lambda x: x ** 1, lambda x: x ** 1, [(2, 3)]),
    "sum_size1_axis": (lambda x: x.sum(axis=0), lambda x: x.sum(axis=0), [(1, 3)]),
    "twice_the_same": (lambda x: (x * 2.0, x * 2.0), lambda x: (x * 2.0, x * 2.0), [(2, 3)]),
    "one_value_twice": (lambda x: (lambda y: (y, y))(ta.exp(x)), lambda x: (np.exp(x),) * 2, [(2, 3)]),
    "copy_and_input": (lambda x: (x * 1.0, x), lambda x: (x, x), [(2, 3)]),
    "reshape_view": (lambda x: x.reshape(3, 2), lambda x: x.reshape(3, 2), [(2, 3)]),
    "transpose_view": (lambda x: x.T, lambda x: x.T, [(2, 3)]),
    "slice_view": (lambda x: x[1:], lambda x: x[1:], [(3, 2)]),
    "reshape_of_mul_one": (lambda x: (x * 1.0).reshape(6), lambda x: x.reshape(6), [(2, 3)]),
    "identity": (lambda x: x, lambda x: x, [(2, 3)]),
    "two_inputs": (lambda x, y: (x * 1.0, y + 0.0, x * y), lambda x, y: (x, y, x * y), [(2, 3), (2, 3)]),
    "detach": (lambda x: x.detach() * 1.0, lambda x: x, [(4,)]),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_outputs_share_memory_as_in_eager(name, backend):
    fn, twin, shapes = CASES[name]
    rng = np.random.default_rng(0)
    ins = [rng.standard_normal(s) for s in shapes]
    cf = ta.compile(fn, backend=backend)
    eager = _sharing(_arrays(cf(*ins)), ins)  # the traced call runs eagerly
    second = _arrays(cf(*ins))
    assert cf.stats["hits"] >= 1 and cf.stats["eager_calls"] == 0
    got_in, got_out = _sharing(second, ins)
    assert got_in <= eager[0], f"outputs share memory with inputs: {got_in - eager[0]}"
    assert got_out <= eager[1], f"outputs share memory with each other: {got_out - eager[1]}"
    want = twin(*ins)
    for got, ref in zip(second, want if isinstance(want, tuple) else (want,)):
        np.testing.assert_allclose(got, ref, rtol=1e-15)  # mathlib exp: within 1 ulp
    kept = [o.copy() for o in second]
    cf(*[a + 1.0 for a in ins])  # a later call must not write into earlier results
    for before, now in zip(kept, second):
        np.testing.assert_array_equal(now, before)


@pytest.mark.parametrize("backend", BACKENDS)
def test_mul_one_does_not_follow_later_writes_to_the_argument(backend):
    cf = ta.compile(lambda x: x * 1.0, backend=backend)
    a = np.arange(3.0)
    cf(a)
    out = cf(a)
    assert cf.stats["hits"] >= 1
    a[:] = 99.0
    np.testing.assert_array_equal(out.numpy(), [0.0, 1.0, 2.0])


@pytest.mark.parametrize("backend", BACKENDS)
def test_state_write_does_not_alias_the_argument(backend):
    p = ta.tensor(np.zeros(3))

    def step(x):
        p.assign_(x * 1.0)
        return (x * 2.0).sum()

    cf = ta.compile(step, backend=backend)
    a = np.arange(3.0)
    cf(a)
    cf(a)
    assert cf.stats["hits"] >= 1
    assert not np.shares_memory(p._data, a)
    a[:] = -5.0
    np.testing.assert_array_equal(p.numpy(), [0.0, 1.0, 2.0])


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradient_is_not_the_other_argument(backend):
    # d/da sum(a * b) is b: simplify reduces the gradient graph to the input itself.
    cf = ta.compile(ta.grad(lambda a, b: (a * b).sum()), backend=backend)
    a, b = np.ones(3), np.arange(3.0)
    cf(a, b)
    g = cf(a, b)
    assert cf.stats["hits"] >= 1
    np.testing.assert_array_equal(g.numpy(), b)
    assert not np.shares_memory(g._data, b)


@pytest.mark.parametrize("backend", BACKENDS)
def test_returned_constant_is_a_copy(backend):
    table = np.array([1.0, 2.0, 3.0])
    cf = ta.compile(lambda x: (x + 1.0, ta.tensor(table) * 1.0), backend=backend)
    cf(np.zeros(3))
    _, c = cf(np.zeros(3))
    assert cf.stats["hits"] >= 1
    c._data[:] = 0.0  # the caller edits what it got
    _, again = cf(np.zeros(3))
    np.testing.assert_array_equal(again.numpy(), [1.0, 2.0, 3.0])


@pytest.mark.parametrize("backend", BACKENDS)
def test_results_survive_the_next_call(backend):
    """The memory plan reuses intermediates within a call, never results across calls."""
    def fn(x, w):
        h = ta.tanh(x @ w + 1.0)
        return (h * 2.0).sum(axis=1), ta.exp(h), h.reshape(-1)

    cf = ta.compile(fn, backend=backend)
    x, w = np.random.default_rng(1).standard_normal((2, 4, 3))[0], np.ones((3, 5))
    cf(x, w)
    first = cf(x, w)
    kept = [t.numpy() for t in first]
    cf(x + 1.0, w * 2.0)
    assert cf.stats["hits"] >= 2
    for t, k in zip(first, kept):
        np.testing.assert_array_equal(t.numpy(), k)
    h = np.tanh(x @ w + 1.0)
    np.testing.assert_allclose(kept[1], np.exp(h), rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_compiled_backward_gradient_is_not_the_seed(backend):
    """The joint forward+backward graph (from the 3rd call on) simplifies d(x*1)/dx to the seed."""
    cf = ta.compile(lambda x: x * 1.0, backend=backend)
    x = ta.tensor(np.arange(3.0), requires_grad=True)
    seed = ta.tensor(np.array([1.0, 2.0, 3.0]))
    for _ in range(3):
        x.grad = None
        out = cf(x)
        out.backward(seed)
    assert cf.stats["hits"] >= 2 and list(cf.variants.values())[0][0].backward_graph is not None
    assert not np.shares_memory(out._data, x._data)
    assert not np.shares_memory(x.grad._data, seed._data)
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 2.0, 3.0])
