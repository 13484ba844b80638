"""The eager Tensor API: construction, conversion,
operators and their dtypes, autograd bookkeeping, and the caller's data."""
from __future__ import annotations

import sys

import numpy as np
import pytest

import tracead as ta
from modes import run, run_value_and_grad


# -- construction and dtype rules -------------------------------------------------------
@pytest.mark.parametrize("data,dtype", [
    (1.5, np.float64), (2, np.int64), (True, np.bool_), ([1.0, 2.0], np.float64),
    ([[1, 2], [3, 4]], np.int64), (np.ones(2, np.float32), np.float32),
    (np.ones(2, np.int32), np.int32), (np.float32(1.0), np.float32),
    (np.zeros((0, 3)), np.float64),
])
def test_tensor_dtype_follows_numpy(data, dtype):
    t = ta.tensor(data)
    assert t.dtype == dtype
    assert t.shape == np.shape(data)


def test_tensor_dtype_argument_and_copy_from_tensor():
    t = ta.tensor([1, 2], dtype=np.float32)
    assert t.dtype == np.float32
    u = ta.tensor(t)
    assert u is not t and u.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(u), [1, 2])


def test_metadata():
    t = ta.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert (t.shape, t.dtype, t.ndim, t.size, t.requires_grad) == ((2, 3), np.float64, 2, 6, True)
    assert t.T.shape == (3, 2)
    np.testing.assert_array_equal(np.asarray(t.T), np.arange(6.0).reshape(2, 3).T)
    s = ta.tensor(3.0)
    assert (s.shape, s.ndim, s.size, s.item()) == ((), 0, 1, 3.0)
    assert isinstance(s.item(), float) and isinstance(ta.tensor(3).item(), int)
    assert ta.tensor([[4.0]]).item() == 4.0
    with pytest.raises(ValueError, match="item"):
        t.item()


def test_conversion_to_numpy_copies():
    t = ta.tensor([1.0, 2.0])
    a = np.asarray(t)
    assert isinstance(a, np.ndarray) and a.dtype == np.float64
    n = t.numpy()
    n[0] = 100.0
    np.testing.assert_array_equal(np.asarray(t), [1.0, 2.0])
    assert np.asarray(t, dtype=np.float32).dtype == np.float32


def test_detach_and_requires_grad():
    x = ta.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    assert y.requires_grad and not x.detach().requires_grad
    d = y.detach()
    assert not d.requires_grad
    np.testing.assert_array_equal(np.asarray(d), [2.0, 4.0])
    assert not (d * x.detach()).requires_grad
    assert not ta.tensor([1.0]).requires_grad


# -- operators: scalars and arrays on either side, result dtypes as NumPy 2 ----------------------
OPERATORS = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "truediv": lambda a, b: a / b, "pow": lambda a, b: a ** b, "matmul": lambda a, b: a @ b,
    "lt": lambda a, b: a < b, "le": lambda a, b: a <= b, "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b, "eq": lambda a, b: a == b, "ne": lambda a, b: a != b,
}
OTHERS = {
    "py_float": lambda dtype: 2.0, "py_int": lambda dtype: 3,
    "array_f64": lambda dtype: np.array([0.5, 1.0, 2.0]),
    "array_same": lambda dtype: np.array([0.5, 1.0, 2.0], dtype),
    "np_scalar_f64": lambda dtype: np.float64(2.0),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("op", list(OPERATORS))
def test_operator_matches_numpy(mode, op, dtype):
    """t OP y and y OP t for every kind of other operand, in one function per op."""
    x = np.array([1.5, 1.0, 0.25], dtype)
    fn = OPERATORS[op]
    others = {k: make(dtype) for k, make in OTHERS.items()}
    if op == "matmul":
        others = {k: y for k, y in others.items() if np.ndim(y)}
    names = [f"t {op} {k}" for k in others] + [f"{k} {op} t" for k in others]
    others = list(others.values())
    expected = [fn(x, y) for y in others] + [fn(y, x) for y in others]
    got = run(mode, lambda t: tuple(fn(t, y) for y in others) + tuple(fn(y, t) for y in others),
              ta.tensor(x))
    for name, g, e in zip(names, got, expected):
        assert isinstance(g, ta.Tensor), f"{name}: {type(g)}"
        assert g.dtype == np.asarray(e).dtype, f"{name}: {g.dtype}, NumPy gives {np.asarray(e).dtype}"
        np.testing.assert_allclose(np.asarray(g), e, rtol=1e-6, err_msg=name)


def test_weak_scalars_keep_float32(mode):
    x = ta.tensor(np.ones(3, np.float32))
    for fn in (lambda t: t * 2.0, lambda t: 2.0 * t, lambda t: t / 3, lambda t: 1 - t,
               lambda t: t ** 2, lambda t: 2.0 ** t, lambda t: -t, lambda t: ta.maximum(t, 0.0),
               lambda t: ta.where(t > 0, t, 0.0), lambda t: t.mean(), lambda t: ta.clip(t, 0, 1)):
        assert run(mode, fn, x).dtype == np.float32


def test_integer_and_bool_tensors_follow_numpy(mode):
    i = np.array([1, 2, 3])
    m = np.array([True, False, True])
    fns = (lambda t, u: t * 2.5, lambda t, u: t / 2, lambda t, u: t + 1, lambda t, u: t ** 2,
           lambda t, u: t * np.float32(2.0), lambda t, u: t.sum(), lambda t, u: u.sum(),
           lambda t, u: t * u, lambda t, u: t.mean())
    got = run(mode, lambda t, u: tuple(f(t, u) for f in fns), ta.tensor(i), ta.tensor(m))
    for g, f in zip(got, fns):
        e = np.asarray(f(i, m))
        assert g.dtype == e.dtype, (g.dtype, e.dtype)
        np.testing.assert_allclose(np.asarray(g), e)


def test_unary_operators_and_getitem(mode):
    a = np.array([[-1.0, 2.0], [3.0, -4.0]])
    got = run(mode, lambda t: (-t, +t, abs(t), t[0], t[:, ::-1], t[[1, 1, 0]]), ta.tensor(a))
    for g, e in zip(got, (-a, a, np.abs(a), a[0], a[:, ::-1], a[[1, 1, 0]])):
        np.testing.assert_array_equal(np.asarray(g), e)


def test_methods_match_functions():
    a = np.array([[0.5, 1.0, 2.0], [1.5, 0.25, 3.0]])
    t = ta.tensor(a)
    for name in ("exp", "log", "sqrt", "tanh", "sigmoid", "relu", "abs"):
        np.testing.assert_array_equal(np.asarray(getattr(t, name)()),
                                      np.asarray(getattr(ta, name)(t)))
    np.testing.assert_allclose(np.asarray(t.sum(axis=0)), a.sum(axis=0))
    np.testing.assert_allclose(np.asarray(t.mean(axis=1, keepdims=True)), a.mean(1, keepdims=True))
    np.testing.assert_allclose(np.asarray(t.max(axis=None)), a.max())
    np.testing.assert_allclose(np.asarray(t.reshape(3, 2)), a.reshape(3, 2))
    np.testing.assert_allclose(np.asarray(t.reshape((6,))), a.reshape(6))
    np.testing.assert_allclose(np.asarray(t.transpose()), a.T)


# -- comparisons -----------------------------------------------------------------------------
def test_comparisons_are_bool_and_not_differentiable(mode):
    x = ta.tensor([1.0, -2.0, 3.0], requires_grad=True)
    for c in (x < 0, x <= 0, x > 0, x >= 0, x == 1.0, x != 1.0, 0 < x):
        assert c.dtype == np.bool_ and not c.requires_grad
    _, g = run_value_and_grad(mode, lambda t: ta.where(t > 0, t * t, -t).sum(), 0,
                              np.array([1.0, -2.0, 3.0]))
    np.testing.assert_array_equal(np.asarray(g), [2.0, -1.0, 6.0])


def test_integer_casts_carry_no_gradient():
    x = ta.tensor([1.7, -2.2], requires_grad=True)
    i = ta.cast(x, np.int32)
    assert i.dtype == np.int32 and not i.requires_grad
    y = (ta.cast(i, np.float64) * x).sum()
    y.backward()
    np.testing.assert_array_equal(np.asarray(x.grad), [1.0, -2.0])


# -- backward ----------------------------------------------------------------------------------
def test_backward_accumulates_and_resets():
    x = ta.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    first = x.grad
    np.testing.assert_array_equal(np.asarray(first), [2.0, 4.0])
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(np.asarray(x.grad), [5.0, 7.0])
    np.testing.assert_array_equal(np.asarray(first), [2.0, 4.0])  # not updated in place
    x.grad = None
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(np.asarray(x.grad), [3.0, 3.0])


def test_grad_flows_to_every_use_and_only_to_leaves():
    x = ta.tensor(2.0, requires_grad=True)
    y = x * x
    z = y * x + y  # x used three times, y twice
    z.backward()
    assert x.grad.item() == pytest.approx(3 * 4.0 + 2 * 2.0)
    assert y.grad is None
    assert x.grad.dtype == np.float64 and x.grad.shape == ()


def test_backward_of_a_leaf_and_of_size_one_outputs():
    x = ta.tensor(3.0, requires_grad=True)
    x.backward()
    assert x.grad.item() == 1.0
    w = ta.tensor([[2.0]], requires_grad=True)
    (w * w).backward()  # single element, any shape: the seed defaults to 1
    np.testing.assert_array_equal(np.asarray(w.grad), [[4.0]])


def test_non_scalar_backward_needs_a_seed():
    x = ta.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x
    with pytest.raises(ValueError, match=r"backward.*\(3,\).*grad="):
        y.backward()
    y.backward(np.array([1.0, 0.0, 2.0]))
    np.testing.assert_array_equal(np.asarray(x.grad), [2.0, 0.0, 12.0])
    with pytest.raises(ValueError, match="shape"):
        y.backward(np.ones(2))


def test_float32_gradients_stay_float32():
    x = ta.tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    (ta.exp(x) * 2.0).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(np.asarray(x.grad), 2 * np.exp([1.0, 2.0]), rtol=1e-6)


def test_broadcast_gradients_reduce_to_the_input_shape():
    a = ta.tensor(np.ones((2, 1)), requires_grad=True)
    b = ta.tensor(np.ones(3), requires_grad=True)
    (a * b + 1.0).sum().backward()
    np.testing.assert_array_equal(np.asarray(a.grad), [[3.0], [3.0]])
    np.testing.assert_array_equal(np.asarray(b.grad), [2.0, 2.0, 2.0])


def test_no_grad_records_nothing():
    x = ta.tensor([1.0, 2.0], requires_grad=True)
    with ta.no_grad():
        y = (x * 2).exp().sum()
        assert not y.requires_grad
    assert (x * 2).requires_grad  # restored on exit
    with pytest.raises(ValueError, match="does not require grad"):
        y.backward()
    assert x.grad is None


def test_long_chain_backward_needs_no_recursion():
    x = ta.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    limit = sys.getrecursionlimit()
    y.backward()
    assert sys.getrecursionlimit() == limit
    assert x.grad.item() == 1.0


# -- the caller's data -------------------------------------------------------------------------
def test_tensor_copies_its_data():
    a = np.array([1.0, 2.0])
    t = ta.tensor(a, requires_grad=True)
    a[0] = 100.0
    assert np.asarray(t)[0] == 1.0


def test_inputs_are_not_modified(mode):
    a = np.array([[1.0, -2.0], [3.0, 4.0]])
    operand = np.array([0.5, 2.0])
    a0, operand0 = a.copy(), operand.copy()
    t = ta.tensor(a, requires_grad=True)
    loss = ((t * operand + operand) ** 2 / operand - operand @ t).sum() + t[[0, 0]].sum()
    loss.backward(retain_graph=True)
    loss.backward()
    np.testing.assert_array_equal(a, a0)
    np.testing.assert_array_equal(operand, operand0)

    def f(x, y):
        return (ta.exp(x) * y).sum() + (x[0] * 2.0).sum()

    run_value_and_grad(mode, f, (0, 1), a, operand)
    run(mode, f, ta.tensor(a), operand)
    np.testing.assert_array_equal(a, a0)
    np.testing.assert_array_equal(operand, operand0)


def test_results_do_not_alias_inputs():
    a = np.array([1.0, 2.0, 3.0])
    t = ta.tensor(a)
    for out in (t.reshape(3), t + 0, t[:], ta.broadcast_to(t, (3,)), t.T, t.detach()):
        n = out.numpy()
        n[:] = -1.0
    np.testing.assert_array_equal(np.asarray(t), [1.0, 2.0, 3.0])


@pytest.mark.parametrize("make", [ta.zeros, ta.ones])
def test_zeros_and_ones_take_sizes_as_torch_does(make):
    """`ta.zeros(2, 3)` said "Cannot interpret '3' as a data type"."""
    fill = 0.0 if make is ta.zeros else 1.0
    for args in [(2, 3), ((2, 3),), ([2, 3],), (np.int64(2), 3)]:
        t = make(*args)
        assert t.shape == (2, 3) and t.dtype == np.float64
        np.testing.assert_array_equal(t.numpy(), np.full((2, 3), fill))
    assert make(4).shape == (4,) and make(()).shape == () and make().shape == ()
    t = make(2, 3, dtype=np.float32, requires_grad=True)
    assert t.dtype == np.float32 and t.requires_grad
    with pytest.raises(TypeError) as info:
        make((2, 3), np.float32)
    assert "dtype=" in str(info.value) and "test_tensor.py" in str(info.value)


def test_format_spec_of_a_one_element_tensor():
    """f"{loss:.3f}" raised "unsupported format string passed to Tensor.__format__"."""
    assert f"{ta.tensor(1.23456):.3f}" == "1.235"
    assert f"{ta.tensor([[2.5]], requires_grad=True):>6.2f}" == "  2.50"
    assert f"{ta.tensor(3):d}" == "3"
    assert f"{ta.tensor([1.0])}" == str(ta.tensor([1.0]))
    with pytest.raises(TypeError, match="one-element"):
        f"{ta.tensor([1.0, 2.0]):.3f}"
