"""Python float arguments of compiled functions are graph inputs; other Python use guards.

Every compiled result is compared with NumPy from the second call of a variant on, and
each test checks that the compiled path ran (hits, no eager fallback).
"""
import collections
import math

import numpy as np
import pytest

import tracead as ta

BACKENDS = ["interpret", "numba"]
LRS = [0.1, 0.05, 0.2, 0.013, 0.3, 1e-3, 0.07, 0.5, 0.025, 0.11]


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


def _compiled(cf):
    assert cf.stats["eager_calls"] == 0 and cf.stats["hits"] >= 1, cf.stats


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_learning_rate_schedule_compiles_once(backend, dtype):
    """SGD on a linear model with a new learning rate every step: one variant, and every
    step equals NumPy (float32 parameters stay float32: the lr is weakly typed)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 4)).astype(dtype)
    y = rng.standard_normal((16, 1)).astype(dtype)

    @ta.compile(backend=backend)
    def step(w, lr):
        err = x @ w - y
        grad = x.T @ err * (2.0 / len(x))
        return w - lr * grad, (err * err).mean()

    w = np.zeros((4, 1), dtype)
    w_ref = w.copy()
    for lr in LRS:
        new_w, loss = step(w, lr)
        err = x @ w_ref - y
        loss_ref = (err * err).mean()
        w_ref = w_ref - dtype(lr) * (x.T @ err * dtype(2.0 / 16))
        assert new_w.dtype == dtype and loss.dtype == dtype
        tol = 1e-5 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(np.asarray(new_w), w_ref, rtol=tol, atol=tol)
        np.testing.assert_allclose(np.asarray(loss), loss_ref, rtol=tol, atol=tol)
        w = np.asarray(new_w)
    assert len(step.order) == 1 and step.stats == {"hits": 9, "misses": 1, "eager_calls": 0}
    assert "argument 1: float (a graph input: any value)" in step.guards()


def test_arithmetic_on_floats_stays_in_the_graph(backend):
    @ta.compile(backend=backend)
    def f(x, base, step_frac):
        lr = base * (1 - step_frac) + 0.5 * base * step_frac - (-base) / 4
        return x * lr, lr

    x = np.arange(3.0)
    for base, frac in [(0.1, 0.0), (0.2, 0.5), (0.3, 0.25), (1.5, 1.0)]:
        out, lr = f(x, base, frac)
        lr_ref = base * (1 - frac) + 0.5 * base * frac - (-base) / 4
        assert type(lr) is float and lr == lr_ref
        np.testing.assert_array_equal(np.asarray(out), x * lr_ref)
    assert len(f.order) == 1
    _compiled(f)


@pytest.mark.parametrize("use", ["branch", "math", "numpy", "format", "divisor", "pow",
                                 "array_divisor"])
def test_python_use_of_a_float_guards_its_value(use):
    fns = {
        "branch": lambda x, a: x * 2 if a > 0.15 else x * a,
        "math": lambda x, a: x * math.exp(a),
        "numpy": lambda x, a: x + np.full(3, a),
        "format": lambda x, a: x * float(f"{a:.1f}"),
        "divisor": lambda x, a: x * (1 / a),
        "pow": lambda x, a: x * a ** 2,
        "array_divisor": lambda x, a: x * (a / np.array([2.0, 4.0, 8.0])),
    }
    fn = fns[use]
    cf = ta.compile(fn, backend="interpret")
    x = np.array([1.0, -2.0, 3.0])
    for a in [0.1, 0.2, 0.1, 0.2]:
        cf(x, a)
        out = cf(x, a)  # the second call of the variant for this value
        np.testing.assert_allclose(np.asarray(out), np.asarray(fn(ta.tensor(x), a)), rtol=1e-15)
    assert len(cf.order) == 2, cf.recompile_reasons
    assert "value guard failed" in cf.recompile_reasons[1]
    assert "test_scalar_inputs.py" in cf.recompile_reasons[1]  # the user's line
    _compiled(cf)


def test_weak_typing_with_integer_and_float32_tensors():
    @ta.compile(backend="interpret")
    def f(i, s, a):
        return i * a, s + a, ta.maximum(s, a)

    i, s = np.arange(3, dtype=np.int32), np.ones(3, np.float32)
    for a in [0.5, 1.5]:
        f(i, s, a)
        outs = f(i, s, a)
        refs = (i * a, s + a, np.maximum(s, a))
        for out, ref in zip(outs, refs):
            assert out.dtype == ref.dtype, (out.dtype, ref.dtype)
            np.testing.assert_array_equal(np.asarray(out), ref)
    assert len(f.order) == 1
    _compiled(f)


def test_gradient_with_a_float_argument(backend):
    def loss(w, x, scale):
        return (ta.tanh(x @ w) * scale).sum()

    step = ta.compile(ta.value_and_grad(loss), backend=backend)
    rng = np.random.default_rng(1)
    w, x = rng.standard_normal((3, 2)), rng.standard_normal((4, 3))
    for scale in [0.5, 2.0, -1.0]:
        value, g = step(w, x, scale)
        t = np.tanh(x @ w)
        np.testing.assert_allclose(np.asarray(value), (t * scale).sum(), rtol=1e-12)
        np.testing.assert_allclose(np.asarray(g), x.T @ ((1 - t * t) * scale), rtol=1e-12)
    assert len(step.order) == 1
    _compiled(step)


def test_bools_and_ints_stay_static():
    cf = ta.compile(lambda x, flag, n: x * n if flag else x, backend="interpret")
    x = np.ones(2)
    for flag, n in [(True, 2), (True, 2), (False, 2), (True, 3), (True, 3)]:
        np.testing.assert_array_equal(np.asarray(cf(x, flag, n)), x * n if flag else x)
    assert len(cf.order) == 3 and cf.stats["hits"] == 2


def test_static_argnums_and_argnames():
    def f(x, a, *, b=1.0):
        return x * a + b

    x = np.ones(2)
    by_num = ta.compile(f, backend="interpret", static_argnums=1)
    by_name = ta.compile(f, backend="interpret", static_argnames=("a", "b"))
    for cf in (by_num, by_name):
        for a in [0.5, 0.5, 2.0, 2.0]:
            np.testing.assert_array_equal(np.asarray(cf(x, a, b=3.0)), x * a + 3.0)
        np.testing.assert_array_equal(np.asarray(cf(x, a=2.0, b=3.0)), x * 2.0 + 3.0)
    assert len(by_num.order) == 3  # a static; b (a keyword float) a graph input
    assert "float 2.0" in by_num.recompile_reasons[1]
    assert len(by_name.order) == 3  # "a" passed positionally is static too
    by_neg = ta.compile(f, backend="interpret", static_argnums=-1)
    by_neg(x, 0.5), by_neg(x, 1.5)
    assert len(by_neg.order) == 2


def test_dynamic_false_specialises_floats():
    cf = ta.compile(lambda x, a: x * a, backend="interpret", dynamic=False)
    x = np.ones(2)
    for a in [0.5, 0.5, 1.5]:
        np.testing.assert_array_equal(np.asarray(cf(x, a)), x * a)
    assert len(cf.order) == 2 and "float 0.5 -> float 1.5" in cf.recompile_reasons[1]


def test_a_stored_float_is_its_value_after_the_trace():
    kept = []

    @ta.compile(backend="interpret")
    def f(x, a):
        kept.append(a)
        return x * a

    f(np.ones(2), 0.25)
    assert kept[0] * 4 == 1.0 and float(kept[0]) == 0.25 and f"{kept[0]}" == "0.25"


def test_unknown_options_are_a_type_error_naming_the_valid_ones():
    with pytest.raises(TypeError, match=r"'foo'.*valid options: backend, max_variants"):
        ta.compile(lambda x: x, foo=1)
    with pytest.raises(TypeError, match="static_argnum"):
        ta.compile(static_argnum=0)(lambda x: x)
    with pytest.raises(ValueError, match="dynamic"):
        ta.compile(lambda x: x, dynamic="yes")
    with pytest.raises(ValueError, match="backward"):
        ta.compile(lambda x: x, backward="later")


def test_every_option_is_documented():
    from tracead.runtime.options import OPTIONS

    doc = ta.compile.__doc__
    for name in OPTIONS + ("backend",):
        assert f"`{name}`" in doc or f"`{name}=" in doc, name


Pair = collections.namedtuple("Pair", "total scaled")


def test_compiled_function_returns_a_namedtuple(backend):
    cf = ta.compile(lambda x, a: Pair(x.sum(), x * a), backend=backend)
    x = np.arange(4.0)
    cf(x, 2.0)
    out = cf(x, 3.0)
    assert type(out) is Pair
    np.testing.assert_array_equal(np.asarray(out.total), 6.0)
    np.testing.assert_array_equal(np.asarray(out.scaled), x * 3.0)
    _compiled(cf)


def test_compiling_a_module_instance():
    model = ta.nn.Linear(3, 2, seed=0)
    cf = ta.compile(model, backend="interpret")
    assert cf.__name__ == "Linear"
    x = np.random.default_rng(2).standard_normal((5, 3)).astype(np.float32)
    cf(x)
    w, b = np.asarray(model.weight), np.asarray(model.bias)
    np.testing.assert_allclose(np.asarray(cf(x)), x @ w + b, rtol=1e-6)
    model.weight = ta.tensor(np.ones((3, 2), np.float32), requires_grad=True)  # rebinding is seen
    np.testing.assert_allclose(np.asarray(cf(x)), x @ np.ones((3, 2)) + b, rtol=1e-6)
    _compiled(cf)


def test_floats_inside_nested_transforms_and_compiled_calls(backend):
    """vmap's trace and an inner compiled function see the float as the outer graph's
    input (a closure tensor) or guard it: never a value baked in silently."""
    inner = ta.compile(lambda r, a: r * a)
    fns = {
        "vmap": lambda xs, a: ta.vmap(lambda r: r * a + 1)(xs),
        "vmap_float": lambda xs, a: ta.vmap(lambda r: r * float(a))(xs),
        "grad": lambda xs, a: ta.grad(lambda w: (w * w * a).sum())(xs),
        "inner_compiled": lambda xs, a: inner(xs, a) - a,
    }
    xs = np.arange(4.0).reshape(2, 2)
    refs = {"vmap": lambda a: xs * a + 1, "vmap_float": lambda a: xs * a,
            "grad": lambda a: 2 * a * xs, "inner_compiled": lambda a: xs * a - a}
    for name, fn in fns.items():
        cf = ta.compile(fn, backend=backend)
        for a in [1.0, 2.0, 3.0, 3.0]:
            np.testing.assert_allclose(np.asarray(cf(xs, a)), refs[name](a), rtol=1e-15)
        # float(a) is guarded: each new value re-traces
        assert len(cf.order) == (3 if name == "vmap_float" else 1), (name, cf.recompile_reasons)
        assert cf.stats["hits"] == 4 - len(cf.order) and cf.stats["eager_calls"] == 0


def test_a_zero_divisor_raises_as_in_python():
    cf = ta.compile(lambda x, a: x * (a / 0), backend="interpret")
    with pytest.raises(ZeroDivisionError):
        cf(np.ones(2), 1.0)


def test_differentiating_with_respect_to_a_float_argument(backend):
    """grad(f)(x) with x a Python float, compiled: the derivative at each new x, not at
    the traced one (the float is the differentiated graph input)."""
    def f(a, y):
        return ta.tanh(a * y).sum()

    cf = ta.compile(ta.value_and_grad(f), backend=backend)
    y = np.array([0.5, -1.0, 2.0])
    for a in [1.5, 0.25, -2.0, 0.75]:
        value, g = cf(a, y)
        t = np.tanh(a * y)
        dt = 1 - t * t
        np.testing.assert_allclose(np.asarray(value), t.sum(), rtol=1e-12)
        np.testing.assert_allclose(np.asarray(g), (dt * y).sum(), rtol=1e-12)
        assert np.asarray(g).shape == () and np.asarray(g).dtype == np.float64
    assert len(cf.order) == 1
    _compiled(cf)
