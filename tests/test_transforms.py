"""grad / value_and_grad and the seeds' worked examples."""
from __future__ import annotations

import numpy as np
import pytest

import tracead as ta
from examples.micrograd_example import micrograd_example
from examples.static_graph import g as static_graph
from modes import run, run_value_and_grad


def _f(x, y):
    return (x * x * y).sum() + ta.exp(y).sum()


@pytest.mark.parametrize("kind", ["tensor", "numpy", "python"])
def test_argnums_int_and_tuple(mode, kind):
    x0, y0 = 1.5, -0.5
    convert = {"tensor": ta.tensor, "numpy": np.asarray, "python": float}[kind]
    x, y = convert(x0), convert(y0)
    value, gx = run_value_and_grad(mode, _f, 0, x, y)
    assert isinstance(value, ta.Tensor) and isinstance(gx, ta.Tensor)
    assert value.item() == pytest.approx(x0 * x0 * y0 + np.exp(y0))
    assert gx.item() == pytest.approx(2 * x0 * y0)
    _, gy = run_value_and_grad(mode, _f, 1, x, y)
    assert gy.item() == pytest.approx(x0 * x0 + np.exp(y0))
    value, grads = run_value_and_grad(mode, _f, (0, 1), x, y)
    assert isinstance(grads, tuple) and len(grads) == 2
    assert [g.item() for g in grads] == pytest.approx([2 * x0 * y0, x0 * x0 + np.exp(y0)])
    _, grads = run_value_and_grad(mode, _f, (1,), x, y)
    assert isinstance(grads, tuple) and len(grads) == 1


def test_grad_returns_the_gradient_only(mode):
    g = run(mode, ta.grad(_f, argnums=(0, 1)), np.array([1.0, 2.0]), np.array([0.5, 0.0]))
    np.testing.assert_allclose(np.asarray(g[0]), [1.0, 0.0])
    np.testing.assert_allclose(np.asarray(g[1]), [1.0 + np.exp(0.5), 4.0 + 1.0])
    g1 = run(mode, ta.grad(lambda x: x ** 3), 2.0)
    assert isinstance(g1, ta.Tensor) and g1.item() == pytest.approx(12.0)


def test_gradient_shapes_and_dtypes_follow_the_inputs(mode):
    x = np.ones((2, 3), np.float32)
    b = np.ones(3, np.float32)
    _, (gx, gb) = run_value_and_grad(mode, lambda x, b: ((x + b) ** 2).mean(), (0, 1), x, b)
    assert (gx.shape, gx.dtype, gb.shape, gb.dtype) == ((2, 3), np.float32, (3,), np.float32)
    np.testing.assert_allclose(np.asarray(gb), np.full(3, 4 * 2 / 6), rtol=1e-6)


def test_unused_argument_gets_a_zero_gradient_of_its_shape(mode):
    value, (gx, gz) = run_value_and_grad(mode, lambda x, z: (x * 2.0).sum(), (0, 1),
                                         np.ones(3), np.ones((2, 4)))
    np.testing.assert_array_equal(np.asarray(gx), [2.0, 2.0, 2.0])
    assert isinstance(gz, ta.Tensor) and gz.shape == (2, 4) and gz.dtype == np.float64
    np.testing.assert_array_equal(np.asarray(gz), np.zeros((2, 4)))
    _, g = run_value_and_grad(mode, lambda x: ta.tensor(3.0), 0, np.ones(2))
    np.testing.assert_array_equal(np.asarray(g), [0.0, 0.0])


def test_integer_python_inputs_are_differentiated_as_floats():
    assert ta.grad(lambda x: x * x)(3).item() == 6.0


def test_transforms_do_not_touch_the_callers_tensors():
    x = ta.tensor([1.0, 2.0], requires_grad=True)
    g = ta.grad(lambda x: (x * x).sum())(x)
    np.testing.assert_array_equal(np.asarray(g), [2.0, 4.0])
    assert x.grad is None and not g.requires_grad


# -- higher order ------------------------------------------------------------------------
def test_second_derivative(mode):
    d2 = ta.grad(ta.grad(lambda x: ta.tanh(x) * x))
    x = 0.7
    t = np.tanh(x)
    # d/dx (tanh x + x (1 - t^2)) = 2 (1 - t^2) - 2 x t (1 - t^2)
    assert run(mode, d2, x).item() == pytest.approx(2 * (1 - t * t) - 2 * x * t * (1 - t * t))


def test_third_derivative_of_a_polynomial(mode):
    def p(x):
        return x ** 4 + 2 * x ** 3 - x * x + 5.0

    d1, d2, d3 = ta.grad(p), ta.grad(ta.grad(p)), ta.grad(ta.grad(ta.grad(p)))
    x = 1.5
    assert run(mode, d1, x).item() == pytest.approx(4 * x ** 3 + 6 * x ** 2 - 2 * x)
    assert run(mode, d2, x).item() == pytest.approx(12 * x ** 2 + 12 * x - 2)
    assert run(mode, d3, x).item() == pytest.approx(24 * x + 12)


def test_second_derivatives_of_arrays_hessian_vector_product(mode):
    a = np.array([0.3, -0.2, 0.5])
    v = np.array([1.0, 2.0, -1.0])

    def hvp(x):
        g = ta.grad(lambda x: ta.logsumexp(x * x))(x)
        return (g * v).sum()

    got = run(mode, ta.grad(hvp), a)
    # Hessian of logsumexp(x^2) by central differences of its gradient
    def grad_np(x):
        s = np.exp(x * x) / np.exp(x * x).sum()
        return 2 * x * s
    eps = 1e-6
    expected = (grad_np(a + eps * v) - grad_np(a - eps * v)) / (2 * eps)
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-6)


def test_mixed_partial_through_a_closure(mode):
    """d/dy of (d/dx x*y*y) = 2y: the inner grad must record its graph."""
    def inner_grad(x, y):
        return ta.grad(lambda x: x * y * y)(x)

    assert run(mode, ta.grad(inner_grad, argnums=1), 3.0, 2.0).item() == pytest.approx(4.0)


# -- the seeds' worked examples -----------------------------------------------------------------
def test_micrograd_example_backward():
    a = ta.tensor(-4.0, requires_grad=True)
    b = ta.tensor(2.0, requires_grad=True)
    g = micrograd_example(a, b)
    g.backward()
    assert g.item() == pytest.approx(24.7041, abs=1e-4)
    assert a.grad.item() == pytest.approx(138.8338, abs=1e-4)
    assert b.grad.item() == pytest.approx(645.5773, abs=1e-4)


def test_micrograd_example_value_and_grad(mode):
    g, (da, db) = run_value_and_grad(mode, micrograd_example, (0, 1), -4.0, 2.0)
    assert g.item() == pytest.approx(24.7041, abs=1e-4)
    assert da.item() == pytest.approx(138.8338, abs=1e-4)
    assert db.item() == pytest.approx(645.5773, abs=1e-4)


def test_static_graph_example(mode):
    value, (da, do) = run_value_and_grad(mode, static_graph, (0, 1), 2.0, 1.0)
    assert value.item() == 47
    assert da.item() == -432
    assert do.item() == -1


def test_linear_regression_converges(mode):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (100, 1))
    y = 3.0 * x - 2.0 + 0.01 * rng.standard_normal((100, 1))

    def loss(w, b, x, y):
        return ((x @ w + b - y) ** 2).mean()

    w, b = np.zeros((1, 1)), np.zeros(1)
    for _ in range(300):
        value, (gw, gb) = run_value_and_grad(mode, loss, (0, 1), w, b, x, y)
        w = w - 0.3 * np.asarray(gw)
        b = b - 0.3 * np.asarray(gb)
    assert value.item() < 2e-4
    assert w[0, 0] == pytest.approx(3.0, abs=0.01)
    assert b[0] == pytest.approx(-2.0, abs=0.01)
