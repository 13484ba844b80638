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
from tracead.ir import verify
from tracead.prim import Aval, Prim
from tracead.trace.backward import joint_graph
from tracead.trace.capture import capture
from modes import MODES, run_value_and_grad
from tree_checks import fd_grad

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


# (a shape, b shape): row stacks times a matrix (a Linear on 3-d and 4-d inputs), a matrix
# times a stack, size-1 and missing batch axes on either side, one operand broadcast
# along a leading axis while the other is batched on a later one (the fold transposes),
# 1-d operands, size-1 rows and empty stacks or contractions.
MATMUL_BROADCASTS = [((2, 3, 4), (4, 5)), ((2, 3, 3, 4), (4, 5)), ((3, 4), (2, 4, 5)),
                     ((2, 1, 3, 4), (3, 4, 5)), ((2, 3, 4), (1, 4, 5)), ((3, 2, 3, 4), (2, 4, 5)),
                     ((2, 3, 4), (3, 2, 4, 5)), ((2, 3, 4), (4,)), ((4,), (2, 4, 5)),
                     ((2, 1, 4), (4, 1)), ((1, 1, 4), (4, 1)), ((0, 3, 4), (4, 5)), ((2, 3, 0), (0, 5))]


def _sum_back(x, shape):
    """x summed over the axes broadcasting added to `shape` (NumPy, the reference)."""
    x = x.sum(axis=tuple(range(x.ndim - len(shape))))
    return x.sum(axis=tuple(i for i, d in enumerate(shape) if d == 1 and x.shape[i] != 1), keepdims=True)


def _matmul_grads_reference(a, b, w):
    """d sum(w * (a @ b)) / d(a, b): the batched products, summed back by NumPy."""
    a2 = a[None] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    w2 = w.reshape(np.matmul(a2, b2).shape)
    ga = _sum_back(np.matmul(w2, np.swapaxes(b2, -1, -2)), a2.shape).reshape(a.shape)
    gb = _sum_back(np.matmul(np.swapaxes(a2, -1, -2), w2), b2.shape).reshape(b.shape)
    return ga, gb


def _loss_weighted_matmul(a, b, w):
    return ta.sum(ta.matmul(a, b) * w)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shapes", MATMUL_BROADCASTS, ids=str)
def test_matmul_gradients_over_broadcast_batch_axes(mode, dtype, shapes):
    a = RNG.standard_normal(shapes[0]).astype(dtype)
    b = RNG.standard_normal(shapes[1]).astype(dtype)
    w = RNG.standard_normal(np.matmul(a, b).shape).astype(dtype)
    _, (ga, gb) = run_value_and_grad(mode, _loss_weighted_matmul, (0, 1), ta.tensor(a), ta.tensor(b),
                                     ta.tensor(w))
    ra, rb = _matmul_grads_reference(*(x.astype(np.float64) for x in (a, b, w)))
    assert ga.shape == a.shape and gb.shape == b.shape and ga.dtype == gb.dtype == dtype
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(ga.numpy(), ra, rtol=tol, atol=tol)
    np.testing.assert_allclose(gb.numpy(), rb, rtol=tol, atol=tol)
    if mode == "eager" and dtype == np.float64:
        fa, fb = fd_grad(lambda t: float((np.matmul(t[0], t[1]) * w).sum()), (a, b))
        np.testing.assert_allclose(ga.numpy(), fa, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(gb.numpy(), fb, rtol=1e-6, atol=1e-6)


def test_linear_weight_gradient_on_a_row_stack_is_one_gemm():
    """(B, T, k) @ (k, n): the weight's gradient folds B into the contraction, one 2-d product
    and no reduction (not B products summed), and the second derivative follows it."""
    x = RNG.standard_normal((2, 3, 4))
    graph = capture(lambda a, b: ta.sum(ta.tanh(ta.matmul(a, b))), (x, RNG.standard_normal((4, 5))),
                    {}).graph
    joint = joint_graph(graph, wrt=[1], diff_outputs=[0])
    products = [n for n in joint.nodes if n.prim.name == "matmul"]
    assert [n.out.shape for n in products] == [(2, 3, 5), (4, 5)]
    assert not [n for n in joint.nodes if n.prim.kind == "reduce" and n.out.shape == (4, 5)]
    second = joint_graph(joint, wrt=[0], diff_outputs=[1])
    verify(second)


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
