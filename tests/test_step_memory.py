"""Compiled training steps: what the compiled call keeps, writes and allocates.

Each test runs the step several times compiled (the compiled path must run:
hits >= 1) and compares every step with a float64 NumPy reference of the
same update, so a memory or layout change that alters a value fails here.
"""
from __future__ import annotations

import numpy as np
import pytest

import tracead as ta


def _data(dtype, n=6, d=5, k=3, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, d)).astype(dtype), rng.standard_normal((n, k)).astype(dtype),
            rng.standard_normal((d, k)).astype(dtype))


def _ref_sgd_steps(X, Y, W0, lr, steps):
    """(losses, final W) of plain SGD on mean((X @ W - Y)^2), float64."""
    X, Y, W = X.astype(np.float64), Y.astype(np.float64), W0.astype(np.float64)
    losses = []
    for _ in range(steps):
        r = X @ W - Y
        losses.append(float((r * r).mean()))
        W = W - lr * (2.0 * X.T @ r / r.size)
    return losses, W


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradient_cleared_after_the_update_is_not_a_graph_output(dtype):
    """backward sets w.grad, the step sets it back to None: only the last write is
    replayed, so the gradient is no graph output (it may share a buffer) and
    w.grad stays None after every call."""
    X, Y, W0 = _data(dtype)
    w = ta.tensor(W0.copy(), requires_grad=True)
    lr = 0.1

    def step(X, Y):
        loss = ((X @ w - Y) ** 2).mean()
        loss.backward()
        with ta.no_grad():
            w.assign_(w - lr * w.grad)
            w.grad = None
        return loss

    f = ta.compile(step)
    ref_losses, ref_W = _ref_sgd_steps(X, Y, W0, lr, 4)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for ref_loss in ref_losses:
        np.testing.assert_allclose(float(f(X, Y)), ref_loss, rtol=tol)
        assert w.grad is None
    np.testing.assert_allclose(w.numpy(), ref_W, rtol=tol * 10, atol=tol)
    assert f.stats["hits"] >= 1 and f.stats["eager_calls"] == 0
    capture = f.order[-1].capture
    assert [e.kind for e in capture.effects] == ["assign", "grad"]
    assert capture.effects[1].var is None
    # loss + the new w: the gradient is not handed out
    assert len(capture.graph.outputs) == 2
    np.testing.assert_array_equal(X, _data(dtype)[0])  # arguments untouched


def test_two_assigns_to_one_tensor_replay_the_last():
    w = ta.tensor(np.arange(4.0), requires_grad=False)

    def step(x):
        w.assign_(w + x)
        w.assign_(w * 2.0)
        return w.sum()

    f = ta.compile(step)
    x = np.ones(4)
    expected = np.arange(4.0)
    for _ in range(3):
        expected = (expected + 1.0) * 2.0
        np.testing.assert_allclose(float(f(x)), expected.sum())
        np.testing.assert_allclose(w.numpy(), expected)
    assert f.stats["hits"] >= 1
    assert len(f.order[-1].capture.effects) == 1
