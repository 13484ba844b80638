"""Zero-size values through every pass and both compiled backends.

`ta.compile(ta.grad(lambda a: (a[1:] * 2.0).sum()))` on a (1, 3) input used
to crash simplify (it read an element of an empty constant), and with the
passes disabled the Numba backend crashed on a dead kernel. Each case runs
with the full pipeline and with every pass disabled, on the numba and
interpret backends, against a NumPy twin (gradients: written out by hand).
"""
from __future__ import annotations

import numpy as np
import pytest

import tracead as ta
from tracead.passes import PIPELINE

CASES = {  # name: (function, NumPy twin, input shapes)
    "elementwise_0": (lambda x: ta.exp(x) * 2.0 + x, lambda x: np.exp(x) * 2.0 + x, [(0,)]),
    "elementwise_0x3": (lambda x: ta.tanh(x) - x * x, lambda x: np.tanh(x) - x * x, [(0, 3)]),
    "elementwise_1x0": (lambda x: ta.sigmoid(x) + 1.0, lambda x: 1 / (1 + np.exp(-x)) + 1.0, [(1, 0)]),
    "broadcast_0x3": (lambda x, b: x * b + b, lambda x, b: x * b + b, [(0, 3), (3,)]),
    "sum_all_0": (lambda x: (x * 3.0).sum(), lambda x: (x * 3.0).sum(), [(0,)]),
    "sum_axis0_0x3": (lambda x: (x + 1.0).sum(axis=0), lambda x: (x + 1.0).sum(axis=0), [(0, 3)]),
    "sum_axis1_1x0": (lambda x: ta.exp(x).sum(axis=1), lambda x: np.exp(x).sum(axis=1), [(1, 0)]),
    "max_kept_rows_1x0": (lambda x: (x * 2.0).max(axis=0), lambda x: (x * 2.0).max(axis=0), [(1, 0)]),
    "softmax_rows_0x3": (lambda x: ta.softmax(x * 2.0, axis=-1),
                         lambda x: np.exp(2 * x) / np.exp(2 * x).sum(axis=-1, keepdims=True), [(0, 3)]),
    "matmul_inner_0": (lambda a, b: ta.relu(a @ b + 1.0), lambda a, b: np.maximum(a @ b + 1.0, 0),
                       [(2, 0), (0, 3)]),
    "matmul_rows_0": (lambda a, b: a @ b * 2.0, lambda a, b: a @ b * 2.0, [(0, 3), (3, 2)]),
    "slice_to_empty": (lambda x: x[1:] * 2.0, lambda x: x[1:] * 2.0, [(1, 3)]),
    "reshape_empty": (lambda x: (x * 2.0).reshape(3, 0), lambda x: (x * 2.0).reshape(3, 0), [(0, 3)]),
    "concat_with_empty": (lambda x, y: ta.concatenate([x, y * 2.0]), lambda x, y: np.concatenate([x, y * 2.0]),
                          [(0, 3), (2, 3)]),
    # gradients: d/da sum(a[1:] * 2) is 0 on row 0 (the only row); d/dx sum(x*x) = 2x (empty)
    "grad_slice_sum": (ta.grad(lambda a: (a[1:] * 2.0).sum()), lambda a: np.zeros_like(a), [(1, 3)]),
    "grad_square_0x3": (ta.grad(lambda x: (x * x).sum()), lambda x: 2 * x, [(0, 3)]),
    "grad_matmul_inner_0": (ta.grad(lambda a, b: (a @ b).sum()), lambda a, b: np.zeros_like(a),
                            [(2, 0), (0, 3)]),
    "grad_tanh_1x0": (ta.grad(lambda x: ta.tanh(x).sum()), lambda x: 1 - np.tanh(x) ** 2, [(1, 0)]),
}


@pytest.mark.parametrize("passes", ["all", "none"])
@pytest.mark.parametrize("backend", ["numba", "interpret"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_zero_size_values_compile_and_match_numpy(name, backend, passes):
    fn, twin, shapes = CASES[name]
    args = [np.random.default_rng(3).standard_normal(s) for s in shapes]
    cf = ta.compile(fn, backend=backend, disable=list(PIPELINE) if passes == "none" else [])
    cf(*args)
    got = cf(*args)
    assert cf.stats["hits"] >= 1 and cf.stats["eager_calls"] == 0
    want = twin(*args)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)
