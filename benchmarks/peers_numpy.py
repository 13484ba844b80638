"""Peers: hand-written NumPy (W1-W3) and plain Python (W4), gradients derived by hand.

Written the way a competent NumPy user would: shared subexpressions computed
once and in-place updates where they are natural, but no heroics (no manual
blocking for cache, no `out=` juggling of every temporary).
"""
from __future__ import annotations

import numpy as np

from .workloads import Case, register


@register("W1", "numpy")
def w1_numpy(case: Case):
    x = case.data["x"]
    one = x.dtype.type(1.0)
    half = x.dtype.type(0.5)

    def fn():
        x2 = x * x
        t = np.tanh(x)
        s = one / (one + np.exp(-x))
        e = np.exp(-x2)
        value = np.sum(t * s + half * x2 * e)
        # d/dx: (1-t^2) s + t s (1-s) + x (1 - x^2) e
        grad = s * ((one - t * t) + t * (one - s)) + x * (one - x2) * e
        return value, grad
    return fn


def mlp_step_numpy(params: list[np.ndarray], X: np.ndarray, y: np.ndarray, lr: float):
    """One SGD step in place on `params`; returns the loss before the update."""
    W1, b1, W2, b2, W3, b3 = params
    n = X.shape[0]
    h1 = X @ W1 + b1
    a1 = np.maximum(h1, 0)
    h2 = a1 @ W2 + b2
    a2 = np.maximum(h2, 0)
    logits = a2 @ W3 + b3
    z = logits - logits.max(axis=1, keepdims=True)
    ez = np.exp(z)
    sez = ez.sum(axis=1, keepdims=True)
    rows = np.arange(n)
    loss = np.mean(np.log(sez[:, 0]) - z[rows, y])
    d = ez / sez
    d[rows, y] -= 1
    d *= np.float32(1.0 / n)
    gW3, gb3 = a2.T @ d, d.sum(axis=0)
    d = d @ W3.T
    d *= h2 > 0
    gW2, gb2 = a1.T @ d, d.sum(axis=0)
    d = d @ W2.T
    d *= h1 > 0
    gW1, gb1 = X.T @ d, d.sum(axis=0)
    lr32 = np.float32(lr)
    for p, g in zip(params, (gW1, gb1, gW2, gb2, gW3, gb3)):
        p -= lr32 * g
    return loss


@register("W2", "numpy")
def w2_numpy(case: Case):
    params = [p.copy() for p in case.data["params"]]
    X, y, lr = case.data["X"], case.data["y"], case.data["lr"]

    def fn():
        return mlp_step_numpy(params, X, y, lr), params
    return fn


@register("W3", "numpy")
def w3_numpy(case: Case):
    x, y, eps = case.data["x"], case.data["y"], np.float32(case.data["eps"])
    n, d = x.shape
    rows = np.arange(n)
    inv_d = np.float32(1.0 / d)

    def fn():
        xc = x - x.mean(axis=1, keepdims=True)
        rstd = 1 / np.sqrt(np.einsum("ij,ij->i", xc, xc)[:, None] * inv_d + eps)
        xh = xc * rstd
        z = xh - xh.max(axis=1, keepdims=True)
        ez = np.exp(z)
        sez = ez.sum(axis=1)
        loss = np.mean(np.log(sez) - z[rows, y])
        g = ez / sez[:, None]
        g[rows, y] -= 1
        g *= np.float32(1.0 / n)
        # layernorm backward: rstd * (g - mean(g) - xh * mean(g * xh))
        mg = g.mean(axis=1, keepdims=True)
        mgx = np.einsum("ij,ij->i", g, xh)[:, None] * inv_d
        grad = rstd * (g - mg - xh * mgx)
        return loss, grad
    return fn


def micrograd_value_and_grad(a: float, b: float) -> tuple[float, float, float]:
    """micrograd's example, forward then reverse sweep by hand (Python floats)."""
    c = a + b
    d = a * b + b ** 3
    c2 = c + c + 1
    c3 = c2 + 1 + c2 + (-a)
    r1 = b + a
    d2 = d + d * 2 + (r1 if r1 > 0 else 0.0)
    r2 = b - a
    d3 = d2 + 3 * d2 + (r2 if r2 > 0 else 0.0)
    e = c3 - d3
    f = e ** 2
    g = f / 2.0 + 10.0 / f
    # reverse
    gf = 0.5 - 10.0 / (f * f)
    ge = gf * 2 * e
    gc3, gd3 = ge, -ge
    ga = -gc3
    gc = 4 * gc3  # c3 = 2 c2 + 1 - a, c2 = 2 c + 1
    ga += gc
    gb = gc
    if r2 > 0:
        gb += gd3
        ga -= gd3
    gd2 = 4 * gd3
    if r1 > 0:
        ga += gd2
        gb += gd2
    gd = 3 * gd2
    ga += gd * b
    gb += gd * (a + 3 * b * b)
    return g, ga, gb


@register("W4", "python")
def w4_python(case: Case):
    a, b = case.data["a"], case.data["b"]
    return lambda: micrograd_value_and_grad(a, b)
