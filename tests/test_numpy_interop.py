"""NumPy calls on Tensors: mapped to tracead ops, or a clear error.

Every mapped function is checked against NumPy itself (values, dtype) and
its gradient against central differences; unmapped functions must never
silently drop a gradient or bake a traced value into a compiled graph.
"""
from __future__ import annotations

import numpy as np
import pytest

import tracead as ta
from strict import run_strict
from tree_checks import fd_grad as _fd_grad

THIS_FILE = "test_numpy_interop.py"
RNG = np.random.default_rng(7)
A = RNG.standard_normal((2, 3, 4))
B = RNG.standard_normal((4, 3, 2))

# (name, f(np-like module, a, b)): run once with NumPy on arrays, once on tensors.
MAPPED = [
    ("tensordot_1", lambda m, a, b: m.tensordot(a, b, 1)),
    ("tensordot_pairs", lambda m, a, b: m.tensordot(a, b, ([1, 2], [1, 0]))),
    ("tensordot_0", lambda m, a, b: m.tensordot(a[0, 0], b[0, 0], 0)),
    ("norm", lambda m, a, b: m.linalg.norm(a)),
    ("norm_axis", lambda m, a, b: m.linalg.norm(a, axis=1)),
    ("norm_1_keepdims", lambda m, a, b: m.linalg.norm(a, ord=1, axis=-1, keepdims=True)),
    ("norm_fro", lambda m, a, b: m.linalg.norm(a[0], "fro")),
    ("norm_inf", lambda m, a, b: m.linalg.norm(a, np.inf, axis=0)),
    ("sum_dtype", lambda m, a, b: m.sum(a, axis=(0, 2), dtype=np.float32)),
    ("mean", lambda m, a, b: m.mean(a, 1, keepdims=True)),
    ("var_ddof", lambda m, a, b: m.var(a, ddof=1, axis=1)),
    ("min_max", lambda m, a, b: m.min(a, axis=0) + m.amax(a, 2).sum()),
    ("squeeze", lambda m, a, b: m.squeeze(a[:1])),
    ("expand_dims", lambda m, a, b: m.expand_dims(a, (0, -1))),
    ("ravel_reshape", lambda m, a, b: m.reshape(m.ravel(a), (4, 6))),
    ("concatenate_none", lambda m, a, b: m.concatenate([a, b], axis=None)),
    ("stack", lambda m, a, b: m.stack([a[0], a[1]], axis=-1)),
    ("swapaxes_transpose", lambda m, a, b: m.transpose(m.swapaxes(a, 0, 2), (1, 0, 2))),
    ("clip_keywords", lambda m, a, b: m.clip(a, max=0.5, min=-0.5)),
    ("where", lambda m, a, b: m.where(a > 0, a, b.T)),
    ("dot_matrix_vector", lambda m, a, b: m.dot(a[0], b[:, 0, 0])),
    ("dot_vectors", lambda m, a, b: m.dot(a[0, 0], b[:, 0, 0])),
    ("dot_scalar", lambda m, a, b: m.dot(a[0, 0, 0], b[0])),
    ("ufuncs", lambda m, a, b: m.square(m.tanh(a)) + m.maximum(m.exp(a), m.sqrt(m.abs(a)))),
    ("ufunc_reduce", lambda m, a, b: m.add.reduce(a, axis=1) + m.maximum.reduce(a, axis=1)),
]


@pytest.mark.parametrize("name,fn", MAPPED, ids=[c[0] for c in MAPPED])
def test_numpy_functions_map_to_ops(mode, name, fn):
    expected = fn(np, A, B)
    out = run_strict(mode, lambda a, b: fn(np, a, b), ta.tensor(A), ta.tensor(B))
    assert isinstance(out, ta.Tensor), f"{name} returned {type(out).__name__}"
    assert out.dtype == np.asarray(expected).dtype
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-12)


GRADS = [
    ("norm", lambda x: np.linalg.norm(x) * x.sum()),
    ("tensordot", lambda x: np.tensordot(x, x * x, 1)),
    ("dot", lambda x: np.dot(x, np.tanh(x))),
    ("mean_var", lambda x: np.mean(np.exp(x)) + np.var(x, ddof=1)),
]


@pytest.mark.parametrize("name,fn", GRADS, ids=[c[0] for c in GRADS])
def test_gradients_flow_through_numpy_calls(mode, name, fn):
    x = np.array([0.5, -1.0, 2.0, 1.5])
    _, g = run_strict(mode, ta.value_and_grad(lambda t: ta.sum(fn(t))), x)
    np.testing.assert_allclose(g.numpy(), _fd_grad(lambda v: float(np.sum(fn(v))), x), rtol=1e-6)


def test_eager_backward_through_numpy_calls():
    x = ta.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (np.linalg.norm(x) * np.sum(x)).backward()
    v = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(x.grad.numpy(), v / np.linalg.norm(v) * v.sum() + np.linalg.norm(v))


# NumPy calls tracead has no op for.
UNMAPPED = [
    ("diff", lambda t: np.diff(t), "np.diff"),
    ("cumsum_out", lambda t: np.cumsum(t, out=np.empty(4)), "np.cumsum with out="),
    ("cbrt_ufunc", lambda t: np.cbrt(t), "np.cbrt"),
    ("ufunc_out", lambda t: np.exp(t, out=np.empty(4)), "np.exp"),
    ("sum_where", lambda t: np.sum(t, where=np.array([True, False, True, True])),
     "np.sum with where="),
    ("median", lambda t: np.median(t), "np.median"),
    ("accumulate", lambda t: np.add.accumulate(t), "np.add.accumulate"),
]


@pytest.mark.parametrize("name,fn,what", UNMAPPED, ids=[c[0] for c in UNMAPPED])
def test_unmapped_call_on_a_grad_tensor_is_a_clear_error(name, fn, what):
    x = ta.tensor([4.0, 1.0, 3.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError) as info:
        fn(x)
    message = str(info.value)
    for word in [what, "float64[4]", "requires grad", "tracead has no op", THIS_FILE]:
        assert word in message, f"{word!r} missing from: {message}"


@pytest.mark.parametrize("name,fn,what", UNMAPPED, ids=[c[0] for c in UNMAPPED])
def test_unmapped_call_under_grad_is_a_clear_error(name, fn, what):
    # Used to report "f must return a single-element tensor, got float64".
    with pytest.raises(TypeError, match="requires grad"):
        ta.grad(lambda t: ta.sum(fn(t)))(np.array([4.0, 1.0, 3.0, 2.0]))


@pytest.mark.parametrize("backend", ["interpret", "numba"])
@pytest.mark.parametrize("name,fn,what", UNMAPPED, ids=[c[0] for c in UNMAPPED])
def test_unmapped_call_inside_compile_is_a_clear_error(backend, name, fn, what):
    """No gradient involved: the value would still be baked into the graph."""
    compiled = ta.compile(lambda t: ta.sum(fn(t)), backend=backend)
    with pytest.raises(TypeError) as info:
        compiled(np.array([4.0, 1.0, 3.0, 2.0]))
    message = str(info.value)
    for word in [what, "compiled", "float64[4]", THIS_FILE]:
        assert word in message, f"{word!r} missing from: {message}"


def test_unmapped_call_on_a_plain_eager_tensor_converts():
    t = ta.tensor([3.0, 1.0, 2.0])
    out = np.diff(t)
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, [-2.0, 1.0])
    assert np.allclose(t, [3.0, 1.0, 2.0])
    p = ta.tensor([3.0, 1.0], requires_grad=True)
    with ta.no_grad():  # no gradient is being recorded, so nothing is dropped
        np.testing.assert_array_equal(np.diff(p), [-2.0])


def test_shape_queries_need_no_values(mode):
    def f(t):
        return t * (np.shape(t)[0] + np.ndim(t) + np.size(t))
    out = run_strict(mode, f, ta.tensor(np.ones((2, 3))))
    np.testing.assert_array_equal(out.numpy(), np.full((2, 3), 2 + 2 + 6.0))


def test_dot_above_2d_is_refused():
    with pytest.raises(ValueError, match="dot"):
        np.dot(ta.tensor(A), ta.tensor(B))


@pytest.mark.parametrize("backend", ["interpret", "numba"])
def test_mapped_calls_compile_once(backend):
    """np.linalg.norm / np.tensordot used to concretise: a retrace per new value."""
    compiled = ta.compile(lambda x: np.linalg.norm(x) + np.tensordot(x, x, 1), backend=backend)
    for k in range(4):
        x = np.arange(3.0) + k
        np.testing.assert_allclose(compiled(x).numpy(), np.linalg.norm(x) + x @ x, rtol=1e-14)
    assert compiled.stats["misses"] == 1 and compiled.stats["hits"] == 3, compiled.stats
