"""Peer: hand-written Numba kernels (W1, W3, W4) — what tracead's backend competes with.

- W1: one `prange` loop computes the value (float64 accumulator) and the
  gradient. The arithmetic stays in x's dtype: constants come in as arguments
  of that dtype, because a float64 literal would promote float32 math.
- W3: one `prange` over rows; each row is read 6 times from L1/L2 (mean,
  variance, max, exp-sum, sum(g*xhat), gradient) with statistics in float64. It uses
  sum(softmax) == 1, so mean(dloss/dxhat) == 0 and that layernorm term drops.
- W4: the hand-derived scalar function in `nopython` mode (call overhead of
  the Numba dispatcher plus the work).

`fastmath=True` lets LLVM reassociate the reductions; `error_model="numpy"`
drops the ZeroDivisionError branch from the loops; `cache=True` lets W5 time
a first call in a new process with a warm on-disk cache (NUMBA_CACHE_DIR
relocates it). math.tanh / math.exp stay scalar libm calls, which keeps LLVM
from vectorising these loops: the llvmlite 0.50 wheel is not built with the
SVML patch (`numba -s`: "llvmlite Using SVML Patched LLVM: False"), so even
Intel's SVML runtime would not help. NumPy's own AVX-512 exp/tanh loops are
vectorised, which is why NumPy can beat these kernels on W1.
"""
from __future__ import annotations

import math

import numba
import numpy as np
from numba import prange

from .workloads import Case, register


@numba.njit(parallel=True, fastmath=True, error_model="numpy", cache=True)
def w1_kernel(x, grad, one, half):
    acc = 0.0
    for i in prange(x.shape[0]):
        xi = x[i]
        x2 = xi * xi
        t = math.tanh(xi)
        s = one / (one + math.exp(-xi))
        e = math.exp(-x2)
        acc += t * s + half * x2 * e
        grad[i] = s * ((one - t * t) + t * (one - s)) + xi * (one - x2) * e
    return acc


@register("W1", "numba", note="one fused prange loop (value + grad), fastmath")
def w1_numba(case: Case):
    x = case.data["x"]
    one, half = x.dtype.type(1.0), x.dtype.type(0.5)

    def fn():
        grad = np.empty_like(x)
        return w1_kernel(x, grad, one, half), grad
    return fn


@numba.njit(parallel=True, fastmath=True, error_model="numpy", cache=True)
def w3_kernel(x, y, eps, grad):
    n, d = x.shape
    inv_n = 1.0 / n
    loss = 0.0
    for i in prange(n):
        row = x[i]
        out = grad[i]
        mu = 0.0
        for j in range(d):
            mu += row[j]
        mu /= d
        var = 0.0
        for j in range(d):
            c = row[j] - mu
            var += c * c
        rstd = 1.0 / math.sqrt(var / d + eps)
        m = -np.inf
        for j in range(d):
            m = max(m, (row[j] - mu) * rstd)
        s = 0.0
        for j in range(d):
            ez = math.exp((row[j] - mu) * rstd - m)
            out[j] = ez  # scratch: the unnormalised softmax, overwritten below
            s += ez
        yi = y[i]
        xh_y = (row[yi] - mu) * rstd
        loss += math.log(s) + m - xh_y
        inv_s = 1.0 / s
        sgx = 0.0  # sum_j g_j * xhat_j with g = (softmax - onehot) / n
        for j in range(d):
            sgx += out[j] * inv_s * (row[j] - mu) * rstd
        sgx = (sgx - xh_y) * inv_n / d
        for j in range(d):
            xh = (row[j] - mu) * rstd
            g = out[j] * inv_s * inv_n
            if j == yi:
                g -= inv_n
            out[j] = rstd * (g - xh * sgx)
    return loss * inv_n


@register("W3", "numba", note="row-wise fused prange kernel, float64 row statistics")
def w3_numba(case: Case):
    x, y, eps = case.data["x"], case.data["y"], case.data["eps"]

    def fn():
        grad = np.empty_like(x)
        return w3_kernel(x, y, eps, grad), grad
    return fn


@numba.njit(error_model="numpy", cache=True)
def micrograd_kernel(a, b):
    c = a + b
    d = a * b + b ** 3
    c2 = 2.0 * c + 1.0
    c3 = 2.0 * c2 + 1.0 - a
    r1 = b + a
    d2 = 3.0 * d + max(r1, 0.0)
    r2 = b - a
    d3 = 4.0 * d2 + max(r2, 0.0)
    e = c3 - d3
    f = e * e
    g = f / 2.0 + 10.0 / f
    ge = (0.5 - 10.0 / (f * f)) * 2.0 * e
    ga = -ge + 4.0 * ge
    gb = 4.0 * ge
    s2 = 1.0 if r2 > 0 else 0.0
    s1 = 1.0 if r1 > 0 else 0.0
    gb -= ge * s2
    ga += ge * s2
    gd2 = -4.0 * ge
    ga += gd2 * s1
    gb += gd2 * s1
    gd = 3.0 * gd2
    ga += gd * b
    gb += gd * (a + 3.0 * b * b)
    return g, ga, gb


@register("W4", "numba", note="hand-derived scalar function, njit")
def w4_numba(case: Case):
    a, b = case.data["a"], case.data["b"]
    return lambda: micrograd_kernel(a, b)
