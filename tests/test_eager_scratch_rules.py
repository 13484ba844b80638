"""Rules that compute eagerly in a buffer of their own (`lax.scratch_arrays`): tanh, sigmoid.

Checked against NumPy's analytic derivatives and finite differences on 0-d,
size-1, broadcast and plain shapes in float32 and float64, against the lax
form of the same rule (create_graph and compiled walks take it), and for
never writing into anything another rule or the user can see: the cotangent
(shared by add's two inputs), the saved output, a user's seed.
"""
from __future__ import annotations

import numpy as np
import pytest

import tracead as ta

DTYPES = [np.float32, np.float64]
SHAPES = [(), (1,), (5,), (3, 4)]
TOL = {np.float32: 1e-5, np.float64: 1e-12}


def _x(shape, dtype, seed=0):
    return np.asarray(np.random.default_rng(seed).uniform(-2.0, 2.0, shape), dtype)


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


ROWS = {
    "tanh": (ta.tanh, lambda x: 1.0 - np.tanh(x) ** 2),
    "sigmoid": (ta.sigmoid, lambda x: _sig(x) * (1.0 - _sig(x))),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", sorted(ROWS))
def test_rule_matches_the_analytic_derivative(name, shape, dtype):
    fn, deriv = ROWS[name]
    x = _x(shape, dtype)
    w = _x(shape, np.float64, seed=1)  # a non-uniform cotangent
    before = x.copy()
    grad = ta.grad(lambda t: (fn(t) * w.astype(dtype)).sum())(x)
    assert grad.dtype == dtype and grad.shape == shape
    want = deriv(x.astype(np.float64)) * w.astype(dtype).astype(np.float64)
    np.testing.assert_allclose(grad.numpy(), want, rtol=TOL[dtype], atol=TOL[dtype])
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("name", sorted(ROWS))
def test_rule_matches_finite_differences(name):
    fn, _ = ROWS[name]
    x = _x((4,), np.float64)
    grad = ta.grad(lambda t: fn(t).sum())(x).numpy()
    h = 1e-6
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        fd = (fn(ta.tensor(x + e)).numpy().sum() - fn(ta.tensor(x - e)).numpy().sum()) / (2 * h)
        assert abs(grad[i] - fd) < 1e-7


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(ROWS))
def test_rule_under_broadcasting(name, dtype):
    # (3, 1) against (1, 4): the op's cotangent is (3, 4), summed back per input.
    fn, deriv = ROWS[name]
    x, y = _x((3, 1), dtype), _x((1, 4), dtype, seed=2)
    gx, gy = ta.grad(lambda a, b: (fn(a) * b).sum(), argnums=(0, 1))(x, y)
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    np.testing.assert_allclose(gx.numpy(), deriv(x64) * y64.sum(), rtol=TOL[dtype] * 10)
    np.testing.assert_allclose(gy.numpy(), np.broadcast_to(ROWS[name][0](ta.tensor(x64)).numpy(),
                                                           (3, 4)).sum(axis=0, keepdims=True),
                               rtol=TOL[dtype] * 10)


@pytest.mark.parametrize("name", sorted(ROWS))
def test_eager_rule_equals_its_lax_form(name):
    # create_graph keeps grad on, so the rule takes its lax form: same ops, same order.
    fn, _ = ROWS[name]
    for dtype in DTYPES:
        x = _x((7,), dtype)
        eager = ta.grad(lambda t: fn(t).sum())(x).numpy()
        t = ta.tensor(x, requires_grad=True)
        (lax_form,) = ta.autograd.grad_of(fn(t).sum(), [t], create_graph=True)
        np.testing.assert_array_equal(eager, lax_form.numpy())


def test_second_derivative_still_records():
    x = _x((5,), np.float64)
    d2 = ta.grad(lambda t: ta.grad(lambda u: ta.tanh(u).sum())(t).sum())(x).numpy()
    y = np.tanh(x)
    np.testing.assert_allclose(d2, -2.0 * y * (1.0 - y * y), rtol=1e-12)
    d2 = ta.grad(lambda t: ta.grad(lambda u: ta.sigmoid(u).sum())(t).sum())(x).numpy()
    s = _sig(x)
    np.testing.assert_allclose(d2, s * (1 - s) * (1 - 2 * s), rtol=1e-12, atol=1e-15)


def test_compiled_gradient_agrees():
    f = ta.value_and_grad(lambda t: (ta.tanh(t) * ta.sigmoid(t)).sum())
    x = _x((6,), np.float64)
    eager = f(x)[1].numpy()
    compiled = ta.compile(f, backend="interpret")
    for _ in range(2):
        got = compiled(x)[1].numpy()
    assert compiled.stats["hits"] >= 1
    np.testing.assert_allclose(eager, got, rtol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_rules_write_into_nothing_they_were_handed(dtype):
    # add hands one cotangent object to both of its inputs: a rule writing into
    # it would change what the other rule sees. The user keeps y and s, the
    # saved outputs; the seed is theirs too.
    x = ta.tensor(_x((5,), dtype), requires_grad=True)
    y, s = ta.tanh(x), ta.sigmoid(x)
    y_before, s_before = y.numpy().copy(), s.numpy().copy()
    seed = _x((5,), dtype, seed=3)
    seed_before = seed.copy()
    (y + s).backward(seed)
    np.testing.assert_array_equal(y.numpy(), y_before)
    np.testing.assert_array_equal(s.numpy(), s_before)
    np.testing.assert_array_equal(seed, seed_before)
    x64, g64 = x.numpy().astype(np.float64), seed.astype(np.float64)
    want = g64 * (1 - np.tanh(x64) ** 2) + g64 * _sig(x64) * (1 - _sig(x64))
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=TOL[dtype] * 10)
