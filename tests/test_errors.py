"""Bad input gets a clear error: the op, the shapes and dtypes, the user's line.

NaN and inf are values, not errors: they propagate as in NumPy.
"""
from __future__ import annotations

import numpy as np
import pytest

import tracead as ta
from modes import run, run_value_and_grad
from strict import run_strict

X23 = np.ones((2, 3))
THIS_FILE = "test_errors.py"

# (name, function of x (a (2, 3) float64 tensor), error type, words the message must contain)
BAD_CALLS = [
    ("broadcast", lambda x: x + ta.tensor(np.ones(4)), ValueError, ["add", "[2, 3]", "[4]"]),
    ("broadcast_numpy_operand", lambda x: x * np.ones((3, 2)), ValueError, ["mul", "[2, 3]", "[3, 2]"]),
    ("where", lambda x: ta.where(x > 0, x, np.ones(4)), ValueError, ["where", "[2, 3]", "[4]"]),
    ("matmul_inner", lambda x: x @ ta.tensor(np.ones((2, 2))), ValueError,
     ["matmul", "3 vs 2", "[2, 3]", "[2, 2]"]),
    ("matmul_scalar", lambda x: ta.matmul(x, 2.0), ValueError, ["matmul", "[2, 3]"]),
    ("sum_axis", lambda x: x.sum(axis=2), ValueError, ["sum", "axis 2", "[2, 3]"]),
    ("mean_axis", lambda x: x.mean(axis=-3), ValueError, ["mean", "axis -3", "[2, 3]"]),
    ("max_axis", lambda x: x.max(axis=(0, 5)), ValueError, ["max", "axis 5", "[2, 3]"]),
    ("softmax_axis", lambda x: ta.softmax(x, axis=2), ValueError, ["softmax", "axis 2", "[2, 3]"]),
    ("concatenate_axis", lambda x: ta.concatenate([x, x], axis=2), ValueError,
     ["concatenate", "axis 2", "[2, 3]"]),
    ("concatenate_shapes", lambda x: ta.concatenate([x, ta.tensor(np.ones((3, 3)))], axis=1),
     ValueError, ["concatenate", "[2, 3]", "[3, 3]"]),
    ("stack_shapes", lambda x: ta.stack([x, x.T]), ValueError, ["stack", "[2, 3]", "[3, 2]"]),
    ("reshape", lambda x: x.reshape(4, 2), ValueError, ["reshape", "6 elements", "[2, 3]"]),
    ("reshape_infer", lambda x: x.reshape(-1, 4), ValueError, ["reshape", "(-1, 4)", "[2, 3]"]),
    ("transpose_axes", lambda x: ta.transpose(x, (0, 0)), ValueError, ["transpose", "[2, 3]"]),
    ("transpose_range", lambda x: ta.transpose(x, (0, 2)), ValueError, ["transpose", "axis 2"]),
    ("broadcast_to", lambda x: ta.broadcast_to(x, (3, 3)), ValueError,
     ["broadcast_to", "(3, 3)", "[2, 3]"]),
    ("getitem_range", lambda x: x[5], ValueError, ["getitem", "5", "[2, 3]"]),
    ("getitem_float_index", lambda x: x[np.array([0.5])], ValueError, ["getitem", "[2, 3]"]),
    ("max_empty", lambda x: x[:0].max(), ValueError, ["max", "empty", "[0, 3]"]),
    ("min_empty_axis", lambda x: ta.min(x[:, :0], axis=1), ValueError, ["min", "empty", "[2, 0]"]),
    # A mask of the wrong length used to select rows silently; NumPy raises IndexError.
    ("bool_mask_length", lambda x: x[np.array([True, False, True])], IndexError,
     ["getitem", "boolean index of shape (3,)", "(2,)", "[2, 3]"]),
    ("bool_mask_after_ellipsis", lambda x: x[..., np.array([True, False])], IndexError,
     ["getitem", "boolean index of shape (2,)", "(3,)", "[2, 3]"]),
    ("index_array_range", lambda x: x[:, np.array([0, 3])], IndexError,
     ["getitem", "index 3", "[2, 3]", "int64[2]"]),
    ("dot_3d", lambda x: ta.functional.dot(x.reshape(1, 2, 3), x.reshape(1, 2, 3)), ValueError,
     ["dot", "[1, 2, 3]", "axis 2 of a (3) and axis 1 of b (2) differ"]),
]


@pytest.mark.parametrize("name,fn,exc,words", BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
def test_bad_calls_name_the_op_shapes_and_line(mode, name, fn, exc, words):
    with pytest.raises(exc) as info:
        run(mode, fn, ta.tensor(X23))
    message = str(info.value)
    for word in words + ["float64", THIS_FILE]:
        assert word in message, f"{word!r} missing from: {message}"
    assert isinstance(info.value, ta.errors.TraceadError)


@pytest.mark.parametrize("data", [[1, 2], 3, True, np.ones(2, np.int32), np.zeros(2, bool)])
def test_requires_grad_on_integer_or_bool_is_a_type_error(data):
    with pytest.raises(TypeError, match="float") as info:
        ta.tensor(data, requires_grad=True)
    message = str(info.value)
    assert np.asarray(data).dtype.name in message and THIS_FILE in message
    with pytest.raises(TypeError):
        ta.tensor(data).requires_grad_()


def test_grad_of_an_integer_array_is_a_type_error():
    with pytest.raises(TypeError, match="int64"):
        ta.grad(lambda x: x.sum())(np.arange(3))


@pytest.mark.parametrize("data", [np.array([1 + 2j]), np.array(["a", "b"]), "abc",
                                  np.array([object()]), np.array([1.0], np.longdouble)],
                         ids=["complex", "strings", "str", "object", "longdouble"])
def test_unknown_dtypes_are_rejected(data):
    with pytest.raises(TypeError) as info:
        ta.tensor(data)
    message = str(info.value)
    assert "unsupported dtype" in message and str(np.asarray(data).dtype) in message
    assert THIS_FILE in message
    with pytest.raises(TypeError, match="unsupported dtype"):
        ta.tensor([1.0, 2.0]) + data


def test_non_scalar_backward_without_a_seed():
    x = ta.tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(ValueError) as info:
        (x * 2).backward()
    message = str(info.value)
    assert "backward" in message and "(2, 3)" in message and "grad=" in message
    assert THIS_FILE in message


def test_backward_without_requires_grad():
    with pytest.raises(ValueError, match="does not require grad"):
        (ta.tensor([1.0]) * 2).sum().backward()


def test_grad_of_a_non_scalar_function(mode):
    with pytest.raises(ValueError) as info:
        run_value_and_grad(mode, lambda x: x * 2, 0, np.ones(3))
    message = str(info.value)
    assert "single-element" in message and "(3,)" in message


def test_grad_argnums_out_of_range():
    with pytest.raises(ValueError, match="argnums"):
        ta.grad(lambda x: x.sum(), argnums=1)(np.ones(3))


# -- NaN and inf propagate as in NumPy ---------------------------------------------------------
SPECIAL = [
    ("log0", lambda x: ta.log(x * 0.0), lambda x: np.log(x * 0.0)),
    ("zero_div_zero", lambda x: (x * 0.0) / (x * 0.0), lambda x: (x * 0.0) / (x * 0.0)),
    ("one_div_zero", lambda x: 1.0 / (x * 0.0), lambda x: 1.0 / (x * 0.0)),
    ("sqrt_negative", lambda x: ta.sqrt(-x), lambda x: np.sqrt(-x)),
    ("exp_overflow", lambda x: ta.exp(x * 1000.0), lambda x: np.exp(x * 1000.0)),
    ("inf_minus_inf", lambda x: ta.exp(x * 1000.0) - ta.exp(x * 1000.0),
     lambda x: np.exp(x * 1000.0) - np.exp(x * 1000.0)),
    ("nan_input", lambda x: ta.tanh(x * np.nan) + x, lambda x: np.tanh(x * np.nan) + x),
    ("max_with_nan", lambda x: ta.maximum(x, np.nan), lambda x: np.maximum(x, np.nan)),
    ("sum_inf", lambda x: (x / 0.0).sum(), lambda x: (x / 0.0).sum()),
]


@pytest.mark.parametrize("name,fn,ref", SPECIAL, ids=[c[0] for c in SPECIAL])
def test_nan_and_inf_propagate_as_in_numpy(mode, name, fn, ref):
    x = np.array([1.0, 2.0])
    with np.errstate(all="ignore"):
        expected = ref(x)
        got = np.asarray(run(mode, fn, ta.tensor(x)))
    np.testing.assert_array_equal(got, expected)


def test_nan_and_inf_gradients(mode):
    with np.errstate(all="ignore"):
        _, g = run_value_and_grad(mode, lambda x: ta.sqrt(x).sum(), 0, np.array([0.0, 4.0]))
        np.testing.assert_array_equal(np.asarray(g), [np.inf, 0.25])
        _, g = run_value_and_grad(mode, lambda x: ta.log(x).sum(), 0, np.array([0.0, -1.0]))
        np.testing.assert_array_equal(np.asarray(g), [np.inf, -1.0])
        _, g = run_value_and_grad(mode, lambda x: (x * np.nan).sum(), 0, np.array([1.0]))
        assert np.isnan(np.asarray(g)).all()


# -- conversions at the boundary: the op and the user's line, not NumPy's message ----------
CONVERSIONS = [
    ("none_operand", lambda x: x + None, TypeError, ["add", "None"]),
    ("none_argument", lambda x: ta.tanh(None) + x, TypeError, ["tanh", "None"]),
    ("ragged_operand", lambda x: x[0] * [[1.0], [2.0, 3.0]], ValueError, ["mul", "ragged"]),
    ("float16_operand", lambda x: x * np.ones(3, np.float16), TypeError,
     ["mul", "float16[3]", "float32"]),
    ("float16_cast", lambda x: x.astype(np.float16), TypeError, ["cast", "float16", "float32"]),
]


@pytest.mark.parametrize("name,fn,exc,words", CONVERSIONS, ids=[c[0] for c in CONVERSIONS])
def test_bad_operands_name_the_op_and_line(mode, name, fn, exc, words):
    with pytest.raises(exc) as info:
        run(mode, fn, ta.tensor(X23))
    message = str(info.value)
    for word in words + [THIS_FILE]:
        assert word in message, f"{word!r} missing from: {message}"
    assert isinstance(info.value, ta.errors.TraceadError)


@pytest.mark.parametrize("make", [lambda: ta.tensor([[1.0, 2.0], [3.0]]), lambda: ta.tensor(None)],
                         ids=["ragged", "none"])
def test_bad_tensor_data(make):
    with pytest.raises((TypeError, ValueError)) as info:
        make()
    message = str(info.value)
    assert "tensor" in message and THIS_FILE in message
    assert "ragged" in message or "None" in message


@pytest.mark.parametrize("backend", ["interpret", "numba"])
def test_float16_is_rejected_in_every_mode(backend):
    """float16 was inf eagerly, 1e7 interpreted and NotImplementedError in numba."""
    a16 = np.full(1000, 100, np.float16)
    with pytest.raises(TypeError) as info:
        ta.tensor(a16)
    assert "float16[1000]" in str(info.value) and "float32" in str(info.value)
    with pytest.raises(TypeError, match="float16"):
        ta.tensor(a16.astype(np.float32), dtype=np.float16)
    compiled = ta.compile(lambda a: (a * a).sum(), backend=backend)
    for _ in range(2):  # the second call must not reach a kernel either
        with pytest.raises(TypeError) as info:
            compiled(a16)
        message = str(info.value)
        assert "compile argument 0" in message and "float16[1000]" in message
        assert THIS_FILE in message


def test_assign_with_a_wrong_shape():
    t = ta.tensor([1.0, 2.0])
    with pytest.raises(ValueError) as info:
        t.assign_(np.ones(3))
    message = str(info.value)
    assert "assign_" in message and "(3,)" in message and "(2,)" in message and THIS_FILE in message
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0])


def test_list_arguments_behave_as_uncompiled(mode):
    """A list argument stays a Python list (as in JAX): list math fails as in plain Python."""
    def f(a):
        return ta.tanh(a).sum()

    data = [[0.5, -1.0], [2.0, 0.0]]
    np.testing.assert_allclose(run_strict(mode, f, data).item(), np.tanh(data).sum(), rtol=1e-15)
    with pytest.raises(TypeError, match="can't multiply sequence"):
        run_strict(mode, lambda a: a * 2.0, data)
