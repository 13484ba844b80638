"""The backward walk: it un-broadcasts each rule's gradient once and checks the rule's output.

Rules return gradients of the broadcast shape they computed (`g * b` for mul,
`g` for broadcast_to); the walk sums them back to each input's shape, in
eager backward and in graph-to-graph autodiff (compiled gradients) alike.
References are NumPy sums written by hand.
"""
from __future__ import annotations

import numpy as np
import pytest

import tracead as ta
from tracead.dispatch import bind
from tracead.errors import OpError
from tracead.prim import Aval, Prim
from modes import MODES, run_value_and_grad

RNG = np.random.default_rng(7)


def _loss_mul(x, y):  # x (3, 1) * y (4,) -> (3, 4)
    return ta.sum(x * y)


def _loss_where(c, x, y):
    return ta.sum(ta.where(c, x, y) * 2.0)


def _loss_matvec(a, b):  # a (k,) @ b (2, k, n): a is broadcast over the batch
    return ta.sum(ta.matmul(a, b) ** 2)


def _loss_batched(a, b):  # a (1, m, k) @ b (2, k, n): a's size-1 batch axis broadcasts
    return ta.sum(ta.matmul(a, b))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_broadcast_binary_gradients_sum_back(mode, dtype):
    x = RNG.standard_normal((3, 1)).astype(dtype)
    y = RNG.standard_normal((4,)).astype(dtype)
    _, (gx, gy) = run_value_and_grad(mode, _loss_mul, (0, 1), ta.tensor(x), ta.tensor(y))
    assert gx.shape == (3, 1) and gy.shape == (4,)
    assert gx.dtype == dtype and gy.dtype == dtype
    np.testing.assert_allclose(gx.numpy(), np.full((3, 1), y.sum()), rtol=1e-5)
    np.testing.assert_allclose(gy.numpy(), np.full((4,), x.sum()), rtol=1e-5)


@pytest.mark.parametrize("mode", MODES)
def test_where_with_scalar_and_row_operands(mode):
    c = np.array([[True, False, True], [False, False, True]])
    x = np.array(1.5)  # 0-d, broadcast to (2, 3)
    y = RNG.standard_normal((1, 3))
    _, (gx, gy) = run_value_and_grad(mode, _loss_where, (1, 2), ta.tensor(c), ta.tensor(x),
                                     ta.tensor(y))
    assert gx.shape == () and gy.shape == (1, 3)
    np.testing.assert_allclose(gx.numpy(), 2.0 * c.sum())
    np.testing.assert_allclose(gy.numpy(), 2.0 * (~c).sum(axis=0, keepdims=True))


@pytest.mark.parametrize("mode", MODES)
def test_matmul_of_a_vector_with_a_batch(mode):
    a = RNG.standard_normal(3)
    b = RNG.standard_normal((2, 3, 4))
    _, (ga, gb) = run_value_and_grad(mode, _loss_matvec, (0, 1), ta.tensor(a), ta.tensor(b))
    out = a @ b  # (2, 4)
    np.testing.assert_allclose(ga.numpy(), np.einsum("bn,bkn->k", 2 * out, b), rtol=1e-10)
    np.testing.assert_allclose(gb.numpy(), np.einsum("k,bn->bkn", a, 2 * out), rtol=1e-10)


@pytest.mark.parametrize("mode", MODES)
def test_matmul_size_one_batch_axis_sums_back(mode):
    a = RNG.standard_normal((1, 2, 3))
    b = RNG.standard_normal((2, 3, 4))
    _, (ga, gb) = run_value_and_grad(mode, _loss_batched, (0, 1), ta.tensor(a), ta.tensor(b))
    assert ga.shape == (1, 2, 3)
    np.testing.assert_allclose(ga.numpy(), b.sum(axis=(0, 2))[None, None, :].repeat(2, 1),
                               rtol=1e-10)
    np.testing.assert_allclose(gb.numpy(), np.broadcast_to(a.sum(axis=1)[..., None], (2, 3, 4)),
                               rtol=1e-10)


def test_broadcast_to_gradient_is_summed_by_the_walk():
    x = ta.tensor(np.array([[1.0], [2.0]]), requires_grad=True)
    ta.sum(ta.broadcast_to(x, (3, 2, 5)) * 1.0).backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full((2, 1), 15.0))


def _fake(name, vjp, arity=2):
    return Prim(name, "opaque", lambda a, b: a + b,
                lambda a, b: Aval(np.broadcast_shapes(a.shape, b.shape), a.dtype), vjp,
                arity=arity)


def test_a_rule_returning_the_wrong_number_of_gradients_is_named():
    bad = _fake("two_into_one", lambda g, out, a, b: (g,))
    a = ta.tensor(np.ones(3), requires_grad=True)
    out = bind(bad, a, ta.tensor(np.ones(3)))
    with pytest.raises(OpError, match=r"vjp rule of two_into_one returned 1 gradient\(s\) for 2"):
        ta.sum(out).backward()


def test_a_rule_returning_an_unrelated_shape_is_named():
    bad = _fake("wrong_shape", lambda g, out, a, b: (ta.ones(2), g))
    a = ta.tensor(np.ones(3), requires_grad=True)
    out = bind(bad, a, ta.tensor(np.ones(3)))
    with pytest.raises(OpError, match=r"vjp rule of wrong_shape returned a gradient of shape"):
        ta.sum(out).backward()
