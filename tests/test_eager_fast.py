"""Eager mode's cheap paths stay correct (issue 15: eager overhead).

The backward walk adds into cotangent sums it owns in place, gradient leaves
share the caller's array, rules skip inputs
that need no gradient, and shape-rule results are reused. Each is checked
against an independent reference (hand-derived gradients, NumPy) and for
not writing into anything the user passed in or got back.
"""
from __future__ import annotations

import numpy as np
import pytest

import tracead as ta
from tracead.prim import PRIMS

DTYPES = [np.float32, np.float64]
SHAPES = [(), (1,), (5,), (3, 4)]


def _x(shape, dtype, seed=0):
    return np.asarray(np.random.default_rng(seed).uniform(0.5, 1.5, shape), dtype)


def _reuse_heavy(x):
    # x, u, v and w each get several cotangent contributions; w's sum is handed
    # to both of add's inputs, which then receive more.
    u, v = x * 2.0, x * 3.0
    w = u + v
    return (w * w + u * v + w * x).sum() + (u * u).sum()


def _reuse_heavy_grad(x):
    # w = 5x: d/dx [25x^2 + 6x^2 + 5x^2 + 4x^2] = 80x
    return 80.0 * x


def _shared_sum(x):
    # w's sum (owned by the walk) goes to u and v as one object, before u's other
    # uses are walked: adding into it in place would change v's cotangent too.
    u, v = x * 2.0, x * 3.0
    w = u + v
    return (w * w + w).sum() + (u * u).sum() + (v * 5.0).sum()


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_sum_handed_to_two_inputs_is_not_added_into(dtype):
    x = _x((2,), dtype)
    grad = ta.grad(_shared_sum)(x).numpy()
    # 25x^2 + 5x + 4x^2 + 15x
    np.testing.assert_allclose(grad, 58.0 * x.astype(np.float64) + 20.0,
                               rtol=1e-6 if dtype == np.float32 else 1e-13)


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_sum_handed_to_rules_that_compute_in_scratch_is_not_written(dtype):
    # As above, with w's sum handed (as one object, via add) to tanh's and
    # sigmoid's rules, which compute eagerly in buffers of their own: writing
    # into the cotangent instead would change the other rule's.
    x = _x((3,), dtype)
    f = lambda t: ((ta.tanh(t) + ta.sigmoid(t)) * 3.0).sum() + (ta.tanh(t) * 2.0).sum()  # noqa: E731
    grad = ta.grad(f)(x).numpy()
    x64 = x.astype(np.float64)
    s = 1.0 / (1.0 + np.exp(-x64))
    want = 5.0 * (1 - np.tanh(x64) ** 2) + 3.0 * s * (1 - s)
    np.testing.assert_allclose(grad, want, rtol=1e-5 if dtype == np.float32 else 1e-13)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_in_place_accumulation_gives_the_analytic_gradient(shape, dtype):
    x = _x(shape, dtype)
    before = x.copy()
    value, grad = ta.value_and_grad(_reuse_heavy)(x)
    assert grad.dtype == dtype and grad.shape == shape
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(grad.numpy(), _reuse_heavy_grad(x.astype(np.float64)), rtol=tol)
    np.testing.assert_allclose(value.item(), 40.0 * np.sum(x.astype(np.float64) ** 2), rtol=tol)
    np.testing.assert_array_equal(x, before)  # the caller's array is untouched


def test_in_place_accumulation_matches_the_compiled_gradient():
    x = _x((4, 3), np.float64)
    eager = ta.value_and_grad(_reuse_heavy)(x)[1].numpy()
    compiled = ta.compile(ta.value_and_grad(_reuse_heavy), backend="interpret")
    for _ in range(2):
        got = compiled(x)[1].numpy()
    assert compiled.stats["hits"] >= 1
    np.testing.assert_allclose(eager, got, rtol=1e-12)


def test_backward_accumulation_leaves_earlier_grads_and_seeds_alone():
    x = ta.tensor(_x((3,), np.float64), requires_grad=True)
    (x * x + x).sum().backward()
    first = x.grad
    first_value = first.numpy()
    (x * x + x * x + x).sum().backward()
    np.testing.assert_array_equal(first.numpy(), first_value)  # .grad was rebound, not written
    np.testing.assert_allclose(x.grad.numpy(), first_value + 4 * x.numpy() + 1)
    seed = np.ones(3)
    y = ta.tensor(_x((3,), np.float64), requires_grad=True)
    (y * y + y * 3.0 + y).backward(seed)
    np.testing.assert_array_equal(seed, np.ones(3))
    np.testing.assert_allclose(y.grad.numpy(), 2 * y.numpy() + 4)


def test_grad_of_grad_still_records_the_accumulation():
    # create_graph walks must not add in place: the sum is itself differentiated.
    f = lambda x: (x * x * x + x * x).sum()  # noqa: E731
    hess_diag = ta.grad(lambda x: ta.grad(f)(x).sum())
    x = _x((4,), np.float64)
    np.testing.assert_allclose(hess_diag(x).numpy(), 6 * x + 2)


def test_gradient_leaves_share_but_never_change_the_callers_array():
    x = _x((6,), np.float32)
    before = x.copy()
    value, grad = ta.value_and_grad(lambda t: (t * t).sum())(x)
    np.testing.assert_array_equal(x, before)
    assert not np.shares_memory(grad.numpy(), x)
    g = grad.numpy()
    g[:] = 0  # what the user got back is theirs to write
    np.testing.assert_array_equal(x, before)


def test_broadcast_results_leave_as_writable_copies():
    x = np.arange(3.0)
    t = ta.broadcast_to(ta.tensor(x), (2, 3))
    out = t.numpy()
    out[0, 0] = 7.0
    np.testing.assert_array_equal(t.numpy(), np.broadcast_to(np.arange(3.0), (2, 3)))
    grad = ta.grad(lambda v: v.sum())(np.ones((2, 2)))  # the sum rule broadcasts the seed
    g = grad.numpy()
    g += 1
    np.testing.assert_array_equal(grad.numpy(), np.ones((2, 2)))


@pytest.mark.parametrize("name", ["mul", "div", "sub", "pow", "maximum", "minimum"])
def test_binary_rules_skip_inputs_that_need_no_gradient(name):
    prim = PRIMS[name]
    a = ta.tensor(np.array([1.5, 2.0]), requires_grad=True)
    b = ta.tensor(np.array([0.5, 3.0]))
    out = ta.stop_gradient(getattr(ta, name)(a, b))
    g = ta.tensor(np.ones(2))
    ga, gb = prim.vjp(g, out, a, b)
    assert ga is not None and gb is None
    ga2, gb2 = prim.vjp(g, out, b, a)
    assert gb2 is not None
    assert ga2 is None or name == "sub"  # sub's first gradient is g itself: nothing to skip


def test_matmul_rule_computes_only_the_wanted_product():
    x = ta.tensor(np.ones((2, 3)))
    w = ta.tensor(np.full((3, 4), 0.5), requires_grad=True)
    out = ta.stop_gradient(x @ w)
    gx, gw = PRIMS["matmul"].vjp(ta.tensor(np.ones((2, 4))), out, x, w)
    assert gx is None
    np.testing.assert_allclose(gw.numpy(), np.full((3, 4), 2.0))


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_matches_the_compiled_kernel_on_extremes(dtype):
    x = np.array([-1000, -100, -20, -1, -0.0, 0, 1, 20, 100, np.inf, -np.inf, np.nan], dtype)
    eager = ta.sigmoid(x).numpy()
    with np.errstate(over="ignore"):
        want = (1 / (1 + np.exp(-x.astype(np.float64)))).astype(dtype)
    np.testing.assert_allclose(eager, want, rtol=2e-7 if dtype == np.float32 else 1e-15)
    compiled = ta.compile(ta.sigmoid)
    for _ in range(2):
        got = compiled(x).numpy()
    assert compiled.stats["hits"] >= 1
    np.testing.assert_allclose(got, eager, rtol=2e-7 if dtype == np.float32 else 1e-15)
