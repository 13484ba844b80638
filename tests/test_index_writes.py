"""`x[i] = v` (torch) and `x.at[i].set(v)` (JAX): values, gradients, errors, compile, vmap.

The op sweep (`opinfo_shapes.py`) checks every update mode against NumPy and
finite differences; this file checks what only a write has: rebinding the
tensor, gradients to the old value and to `v`, earlier readers of the old
value, torch's errors, and the write inside `compile`.
"""
from __future__ import annotations

import numpy as np
import pytest

import tracead as ta
from tracead.errors import OpError
from checks import check_vjp
from modes import COMPILED_MODES, MODES, run_value_and_grad


def test_setitem_rebinds_and_sends_gradients_to_the_old_value_and_v():
    x = ta.tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    v = ta.tensor(np.array([10.0, 20.0]), requires_grad=True)
    c = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    y = x * 2.0
    y[1] = v * 3.0
    np.testing.assert_array_equal(y.numpy(), [[0, 2], [30, 60], [8, 10]])
    (y * c).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[2, 4], [0, 0], [10, 12]])  # row 1 overwritten
    np.testing.assert_array_equal(v.grad.numpy(), [9.0, 12.0])


def test_earlier_readers_keep_the_value_they_read():
    """z read y before the write: its gradient uses y's old value and reaches x through y's old path."""
    x = ta.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    w = ta.tensor(np.array([4.0, 5.0, 6.0]), requires_grad=True)
    y = x * 2.0
    z = y * w              # reads y at version 0
    y[0] = y[0] * 10.0     # reads and writes y
    (z + y).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [2.0, 4.0, 6.0])  # the old y
    # d/dx: through z: 2 w; through y: 2 * (10 at 0, 1 elsewhere)
    np.testing.assert_array_equal(x.grad.numpy(), [8 + 20, 10 + 2, 12 + 2])


def test_write_in_a_loop_matches_finite_differences():
    def f(x):
        out = ta.zeros((3, 2))
        for i in range(3):
            out[i] = ta.tanh(x[i]) * (i + 1.0)
        out[:, 1] = out[:, 1] * out[:, 0]
        return out

    rng = np.random.default_rng(0)
    check_vjp("eager", f, [rng.standard_normal((3, 2))], (0,), rng)


def test_writing_to_a_leaf_that_requires_grad_is_torchs_error():
    x = ta.tensor(np.zeros(3), requires_grad=True)
    with pytest.raises(OpError, match="a leaf Variable that requires grad is being used in an "
                                      "in-place operation"):
        x[0] = 1.0
    np.testing.assert_array_equal(x.numpy(), np.zeros(3))
    with ta.no_grad():  # initialisation, as in torch
        x[1] = 5.0
    np.testing.assert_array_equal(x.numpy(), [0.0, 5.0, 0.0])
    assert x.requires_grad and x.is_leaf


def test_a_value_overwritten_without_a_tape_is_refused_not_reused():
    a = ta.tensor(np.ones(3))
    w = ta.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    y = a * w          # the gradient of w needs a's value at this point
    a[0] = 5.0         # nothing required grad: the old value is not kept
    with pytest.raises(OpError, match="modified by an inplace operation.*version 1; expected "
                                      "version 0"):
        y.sum().backward()


def test_writes_never_touch_the_callers_arrays_or_other_tensors():
    arr = np.arange(4.0)
    t = ta.tensor(arr)
    view = t.reshape(2, 2)
    t[0] = 9.0
    t.at[1].set(7.0)
    np.testing.assert_array_equal(arr, np.arange(4.0))
    np.testing.assert_array_equal(view.numpy(), [[0, 1], [2, 3]])  # value semantics
    np.testing.assert_array_equal(t.numpy(), [9, 1, 2, 3])


def test_value_is_cast_to_the_tensors_dtype_and_errors_name_the_op():
    t = ta.tensor(np.zeros(3, np.float32))
    t[1:] = np.array([1.5, 2.5])  # float64 value, float32 tensor (torch casts)
    assert t.dtype == np.float32
    np.testing.assert_array_equal(t.numpy(), [0, 1.5, 2.5])
    with pytest.raises(OpError, match=r"index_update: value of shape \(3,\) does not broadcast to "
                                      r"the indexed shape \(2,\)"):
        t[1:] = np.ones(3)
    with pytest.raises(OpError, match="index_update.*out of bounds|index 5"):
        t.at[5].set(1.0)


def test_a_failed_write_leaves_the_tensor_and_its_gradient_intact():
    x = ta.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x * 2.0
    with pytest.raises(OpError, match="index_update"):
        y[0] = np.ones(3)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])


def test_at_is_functional_and_repeated_indices_follow_numpy():
    x = ta.tensor(np.zeros(4))
    idx = np.array([1, 1, 3])
    np.testing.assert_array_equal(x.at[idx].add(np.array([1.0, 2.0, 3.0])).numpy(), [0, 3, 0, 3])
    np.testing.assert_array_equal(x.at[idx].set(np.array([1.0, 2.0, 3.0])).numpy(), [0, 2, 0, 3])
    np.testing.assert_array_equal(x.numpy(), np.zeros(4))
    np.testing.assert_array_equal(x.at[1:3].get().numpy(), [0, 0])


@pytest.mark.parametrize("mode", MODES)
def test_write_inside_a_function_in_every_mode(mode):
    def f(x, v):
        out = x * 1.0
        out[np.array([2, 0])] = v * v
        out[1] = out[1] + out[0]
        return (out * out).sum()

    x, v = np.array([1.0, 2.0, 3.0]), np.array([0.5, -2.0])
    value, (gx, gv) = run_value_and_grad(mode, f, (0, 1), x, v)
    out = x.copy()
    out[[2, 0]] = v * v
    out[1] += out[0]
    np.testing.assert_allclose(float(value), (out * out).sum())
    np.testing.assert_allclose(np.asarray(gx), [0.0, 2 * out[1], 0.0])
    # out0 = v1^2 feeds out0 and out1: d/dv1 = 2 out0 * 2 v1 + 2 out1 * 2 v1
    np.testing.assert_allclose(np.asarray(gv), [2 * out[2] * 2 * v[0], (2 * out[0] + 2 * out[1]) * 2 * v[1]])


@pytest.mark.parametrize("backend", COMPILED_MODES)
def test_compiled_write_to_an_argument_is_replayed(backend):
    def f(buf, v):
        buf[0] = v
        return buf * 2.0

    cf = ta.compile(f, backend=backend)
    for k in range(3):
        buf = ta.tensor(np.arange(3.0))
        out = cf(buf, ta.tensor(10.0 + k))
        np.testing.assert_array_equal(buf.numpy(), [10.0 + k, 1, 2])  # the caller sees the write
        np.testing.assert_array_equal(out.numpy(), [2 * (10.0 + k), 2, 4])
    assert cf.stats["hits"] >= 1


def test_vmap_of_writes_matches_a_loop():
    rng = np.random.default_rng(1)
    xs, vs = rng.standard_normal((4, 5, 2)), rng.standard_normal((4, 2))
    idx = np.array([[0, 3], [1, 1], [4, 2], [2, 0]])

    def f(x, v, i):
        y = x * 1.0
        y[i, 1] = v
        return y.at[i, 0].mul(v)

    got = ta.vmap(f)(xs, vs, idx)
    for b in range(4):
        y = xs[b].copy()
        y[idx[b], 1] = vs[b]
        np.multiply.at(y, (idx[b], 0), vs[b])
        np.testing.assert_allclose(np.asarray(got)[b], y, rtol=1e-12)


@pytest.mark.parametrize("backend", COMPILED_MODES)
def test_a_compiled_call_that_read_the_old_value_gets_its_gradient(backend):
    cf = ta.compile(lambda x: (x * x).sum(), backend=backend)
    for _ in range(2):  # the second call runs compiled and records one tape entry for the call
        a = ta.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
        x = a * 2.0
        y = cf(x)
        x[0] = 0.0
        (y + x.sum()).backward()
    assert cf.stats["hits"] >= 1
    np.testing.assert_array_equal(a.grad.numpy(), [8.0, 18.0, 26.0])


@pytest.mark.parametrize("mode", MODES)
def test_masked_write_is_a_relu(mode):
    def f(x):
        y = x * 1.0
        y[y < 0] = 0.0  # the mask's values decide the index: a guarded value inside compile
        return (y * y).sum()

    x = np.array([-1.0, 2.0, -3.0, 4.0])
    value, g = run_value_and_grad(mode, f, 0, x)
    np.testing.assert_allclose(float(value), 20.0)
    np.testing.assert_allclose(np.asarray(g), [0.0, 4.0, 0.0, 8.0])


@pytest.mark.parametrize("backend", COMPILED_MODES)
def test_compiled_write_to_a_captured_tensor_is_replayed(backend):
    counts = ta.tensor(np.zeros(3))

    def f(i_hot):
        counts[:] = counts + i_hot  # a running total kept outside the function
        return counts.sum()

    cf = ta.compile(f, backend=backend)
    for k in range(4):
        total = cf(ta.tensor(np.eye(3)[k % 3]))
        assert float(total) == k + 1
    np.testing.assert_array_equal(counts.numpy(), [2.0, 1.0, 1.0])
    assert cf.stats["hits"] >= 1
