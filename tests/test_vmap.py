"""vmap: every batching rule against a per-example NumPy loop (the reference),
in_axes / out_axes, composition with grad, compile, and clear errors."""
from __future__ import annotations

import numpy as np
import pytest

import tracead as ta
from tracead.errors import OpError, UnsupportedInCompile
from tree_checks import assert_trees_close, compiled_twice

B = 4


def _loop(ref, args, in_axes):
    """The reference: ref on each example (NumPy), stacked on axis 0."""
    outs = []
    for i in range(B):
        example = [a if ax is None else np.take(a, i, axis=ax) for a, ax in zip(args, in_axes)]
        outs.append(ref(*example))
    return np.stack(outs)


# (name, tracead fn, NumPy fn, per-example shapes) -- one row per rule family
CASES = [
    ("elementwise broadcast", lambda x, y: ta.tanh(x) * y + 1.0,
     lambda x, y: np.tanh(x) * y + 1.0, [(3, 1), (2,)]),
    ("elementwise 0-d", lambda x, y: ta.maximum(x, y) - ta.exp(x),
     lambda x, y: np.maximum(x, y) - np.exp(x), [(), ()]),
    ("where and compare", lambda x, y: ta.where(x > y, x, y * 2.0),
     lambda x, y: np.where(x > y, x, y * 2.0), [(3,), (1,)]),
    ("cast and pow", lambda x, y: ta.cast(x, np.float32) ** 2 + y.astype(np.float32),
     lambda x, y: x.astype(np.float32) ** 2 + y.astype(np.float32), [(2, 2), (2,)]),
    ("sum axis", lambda x, y: x.sum(axis=0) + y.sum(), lambda x, y: x.sum(axis=0) + y.sum(),
     [(3, 2), (2,)]),
    ("max keepdims", lambda x, y: ta.max(x, axis=-1, keepdims=True) * y,
     lambda x, y: x.max(axis=-1, keepdims=True) * y, [(3, 2), (1,)]),
    ("mean and logsumexp", lambda x, y: ta.logsumexp(x, axis=1) + ta.mean(y),
     lambda x, y: np.log(np.exp(x).sum(1)) + y.mean(), [(2, 3), (1, 1)]),
    ("reshape transpose", lambda x, y: ta.reshape(x, (3, 2)).T + y,
     lambda x, y: x.reshape(3, 2).T + y, [(2, 3), (3,)]),
    ("broadcast_to", lambda x, y: ta.broadcast_to(x, (2, 3)) * y,
     lambda x, y: np.broadcast_to(x, (2, 3)) * y, [(1, 3), ()]),
    ("concatenate stack", lambda x, y: ta.concatenate([x, ta.stack([y, y])], axis=0),
     lambda x, y: np.concatenate([x, np.stack([y, y])], axis=0), [(1, 2), (2,)]),
    ("matmul matrix", lambda x, y: x @ y, lambda x, y: x @ y, [(2, 3), (3, 4)]),
    ("matmul vector-matrix", lambda x, y: x @ y, lambda x, y: x @ y, [(3,), (3, 2)]),
    ("matmul matrix-vector", lambda x, y: x @ y, lambda x, y: x @ y, [(2, 3), (3,)]),
    ("matmul vector-vector", lambda x, y: x @ y, lambda x, y: x @ y, [(3,), (3,)]),
    ("matmul stacked", lambda x, y: x @ y, lambda x, y: x @ y, [(2, 2, 3), (3, 1)]),
    ("matmul lower rank left", lambda x, y: x @ y, lambda x, y: x @ y, [(2, 3), (2, 3, 4)]),
    ("softmax", lambda x, y: ta.softmax(x * y, axis=-1),
     lambda x, y: np.exp(x * y) / np.exp(x * y).sum(-1, keepdims=True), [(2, 3), (3,)]),
    ("basic index", lambda x, y: x[1:, None, 0] + y[..., -1],
     lambda x, y: x[1:, None, 0] + y[..., -1], [(3, 2), (2, 2)]),
    ("scans and prod", lambda x, y: ta.cumsum(x, 1) * ta.cumprod(y, 0) + ta.prod(x, axis=0),
     lambda x, y: np.cumsum(x, 1) * np.cumprod(y, 0) + np.prod(x, axis=0), [(2, 3), (3,)]),
    ("sort argmax cummax", lambda x, y: ta.sort(x, axis=0) + ta.argmax(x, axis=-1, keepdims=True)
     + ta.cummax(y, 0).values + ta.argsort(y),
     lambda x, y: np.sort(x, axis=0) + np.argmax(x, axis=-1, keepdims=True)
     + np.maximum.accumulate(y) + np.argsort(y, kind="stable"), [(2, 3), (3,)]),
]


def test_every_primitive_has_a_batching_rule():
    from tracead.transforms.batching_rules import rule_for

    for prim in ta.PRIMS.values():
        rule_for(prim)  # raises NoBatchingRule naming the primitive


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_every_rule_family_matches_a_per_example_loop(case, dtype):
    name, fn, ref, shapes = case
    rng = np.random.default_rng(len(name))
    args = [rng.uniform(-1, 1, (B,) + s).astype(dtype) for s in shapes]
    got = ta.vmap(fn)(*args)
    expected = _loop(ref, args, [0, 0])
    assert got.shape == expected.shape and got.dtype == expected.dtype, name
    tol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(np.asarray(got), expected, rtol=tol, atol=tol, err_msg=name)


@pytest.mark.parametrize("in_axes", [(0, None), (1, None), (-1, 0), (None, 1)])
def test_in_axes_pick_the_batch_axis_of_each_argument(in_axes):
    rng = np.random.default_rng(5)
    x_shape = {0: (B, 2, 3), 1: (2, B, 3), -1: (2, 3, B), None: (2, 3)}[in_axes[0]]
    y_shape = {None: (3, 2), 0: (B, 3, 2), 1: (3, B, 2)}[in_axes[1]]
    x, y = rng.standard_normal(x_shape), rng.standard_normal(y_shape)
    got = ta.vmap(lambda x, y: ta.tanh(x @ y), in_axes=in_axes)(x, y)
    np.testing.assert_allclose(np.asarray(got), _loop(lambda x, y: np.tanh(x @ y), [x, y], in_axes),
                               rtol=1e-12)


def test_out_axes_and_unbatched_outputs():
    x = np.arange(B * 3.0).reshape(B, 3)
    got = ta.vmap(lambda x: x * 2.0, out_axes=1)(x)
    np.testing.assert_array_equal(np.asarray(got), (x * 2.0).T)
    const = ta.vmap(lambda x: (x.sum(), ta.tensor([1.0, 2.0])))(x)
    np.testing.assert_array_equal(np.asarray(const[1]), np.tile([1.0, 2.0], (B, 1)))
    both = ta.vmap(lambda x: {"a": x, "c": ta.tensor(3.0)}, out_axes={"a": 1, "c": None})(x)
    np.testing.assert_array_equal(np.asarray(both["a"]), x.T)
    assert both["c"].shape == ()


def test_pytree_arguments_with_prefix_in_axes():
    rng = np.random.default_rng(6)
    params = {"w": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}
    xs = rng.standard_normal((B, 3))
    def predict(p, x):
        return ta.tanh(x @ p["w"] + p["b"])
    got = ta.vmap(predict, in_axes=({"w": None, "b": None}, 0))(params, xs)
    np.testing.assert_allclose(np.asarray(got), np.tanh(xs @ params["w"] + params["b"]), rtol=1e-12)
    per_example_w = rng.standard_normal((B, 3, 2))
    got = ta.vmap(predict, in_axes=({"w": 0, "b": None}, 0))({"w": per_example_w, "b": params["b"]}, xs)
    expected = np.tanh(np.einsum("bi,bij->bj", xs, per_example_w) + params["b"])
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-12)


# -- indexing: NumPy's placement of advanced-index axes ------------------------------------
INDEX_CASES = [
    ("int array", lambda x, i: x[i], lambda x, i: x[i], (5, 3), False),
    ("array after slice", lambda x, i: x[:, i], lambda x, i: x[:, i], (3, 5), False),
    ("separated advanced", lambda x, i: x[i, :, 1], lambda x, i: x[i, :, 1], (5, 2, 3), False),
    ("batched gather", lambda x, i: x[i], lambda x, i: x[i], (5, 3), True),
    ("batched gather after slice", lambda x, i: x[:, i], lambda x, i: x[:, i], (3, 5), True),
    ("batched separated", lambda x, i: x[i, :, 1], lambda x, i: x[i, :, 1], (5, 2, 3), True),
    ("batched with ellipsis", lambda x, i: x[..., i], lambda x, i: x[..., i], (2, 5), True),
]


@pytest.mark.parametrize("case", INDEX_CASES, ids=[c[0] for c in INDEX_CASES])
def test_indexing_and_its_gradient(case):
    name, fn, ref, shape, batched_index = case
    rng = np.random.default_rng(7)
    x = rng.standard_normal((B,) + shape)
    i = rng.integers(0, 5, (B, 2)) if batched_index else np.array([[4, 0], [1, 1]])
    in_axes = (0, 0) if batched_index else (0, None)
    got = ta.vmap(fn, in_axes=in_axes)(x, i)
    np.testing.assert_array_equal(np.asarray(got), _loop(ref, [x, i], in_axes))
    # The gradient of a gather is a scatter_add (repeated indices accumulate).
    grads = ta.vmap(ta.grad(lambda x, i: (fn(x, i) ** 2).sum()), in_axes=in_axes)(x, i)
    expected = []
    for b in range(B):
        g = np.zeros(shape)
        idx = i[b] if batched_index else i
        sel = ref(x[b], idx)
        dummy = np.arange(g.size).reshape(shape)
        np.add.at(g.reshape(-1), ref(dummy, idx).reshape(-1), (2 * sel).reshape(-1))
        expected.append(g)
    np.testing.assert_allclose(np.asarray(grads), np.stack(expected), rtol=1e-12)


@pytest.mark.parametrize("index", ["rows", "columns", "separated"])
def test_gather_from_a_shared_table_and_per_example_gradients(index):
    rng = np.random.default_rng(10)
    table = rng.standard_normal((5, 6, 3))
    pick = {"rows": lambda t, i: t[i], "columns": lambda t, i: t[:, i],
            "separated": lambda t, i: t[i, :, 2]}[index]
    idx = rng.integers(0, 5, (B, 2))
    got = ta.vmap(pick, in_axes=(None, 0))(table, idx)
    np.testing.assert_array_equal(np.asarray(got), _loop(pick, [table, idx], (None, 0)))
    per_example = ta.vmap(ta.grad(lambda t, i: (pick(t, i) ** 2).sum()), in_axes=(None, 0))(table, idx)
    total = ta.grad(lambda t: (ta.vmap(pick, in_axes=(None, 0))(t, idx) ** 2).sum())(table)
    expected = []
    for b in range(B):
        g = np.zeros(table.shape)
        cells = pick(np.arange(table.size).reshape(table.shape), idx[b]).reshape(-1)
        np.add.at(g.reshape(-1), cells, 2 * pick(table, idx[b]).reshape(-1))
        expected.append(g)
    np.testing.assert_allclose(np.asarray(per_example), np.stack(expected), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(total), np.sum(expected, axis=0), rtol=1e-12)


# -- composition ------------------------------------------------------------------------------
def test_vmap_composes_with_grad_and_jacobians():
    rng = np.random.default_rng(8)
    xs = rng.uniform(-1, 1, (B, 3))
    # per-example gradients
    g = ta.vmap(ta.grad(lambda x: (ta.tanh(x) * x).sum()))(xs)
    np.testing.assert_allclose(np.asarray(g), np.tanh(xs) + xs * (1 - np.tanh(xs) ** 2), rtol=1e-12)
    # gradient through vmap
    gv = ta.grad(lambda xs: ta.vmap(lambda x: ta.tanh(x).sum() ** 2)(xs).sum())(xs)
    t = np.tanh(xs)
    np.testing.assert_allclose(np.asarray(gv), 2 * t.sum(1, keepdims=True) * (1 - t ** 2), rtol=1e-12)
    # second order through vmap: the per-example inner grad must not cut the outer level
    gg = ta.grad(lambda xs: ta.vmap(ta.grad(lambda x: (ta.tanh(x) ** 2).sum()))(xs).sum())(xs)
    np.testing.assert_allclose(np.asarray(gg), 2 * (1 - t ** 2) ** 2 - 4 * t * t * (1 - t ** 2),
                               rtol=1e-10, atol=1e-12)
    # vmap of a Jacobian: per-example diagonal Jacobians
    jac = ta.vmap(ta.jacrev(ta.tanh))(xs)
    expected = np.stack([np.diag(1 - np.tanh(x) ** 2) for x in xs])
    np.testing.assert_allclose(np.asarray(jac), expected, rtol=1e-12, atol=1e-15)
    # nested vmap: an outer product table
    table = ta.vmap(ta.vmap(lambda a, b: a * b, in_axes=(None, 0)), in_axes=(0, None))(xs[:, 0], xs[0])
    np.testing.assert_allclose(np.asarray(table), np.outer(xs[:, 0], xs[0]), rtol=1e-12)


def test_closed_over_tensors_are_unbatched_and_differentiable():
    w = ta.tensor(np.array([[1.0, -1.0], [0.5, 2.0]]), requires_grad=True)
    xs = np.arange(B * 2.0).reshape(B, 2) / 10
    out = ta.vmap(lambda x: ta.tanh(x @ w).sum())(xs)
    out.sum().backward()
    t = np.tanh(xs @ w.numpy())
    np.testing.assert_allclose(w.grad.numpy(), xs.T @ (1 - t ** 2), rtol=1e-12)


@pytest.mark.parametrize("backend", ["interpret", "numba"])
def test_vmap_inside_compile(backend):
    rng = np.random.default_rng(9)
    params = {"w": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}
    xs, ys = rng.standard_normal((B, 3)), rng.standard_normal((B, 2))

    def per_example_grads(p, xs, ys):
        loss = lambda p, x, y: ((x @ p["w"] + p["b"] - y) ** 2).sum()
        return ta.vmap(ta.grad(loss), in_axes=(None, 0, 0))(p, xs, ys)

    got = compiled_twice(per_example_grads, params, xs, ys, backend=backend)
    r = xs @ params["w"] + params["b"] - ys
    expected = {"w": 2 * xs[:, :, None] * r[:, None, :], "b": 2 * r}
    assert_trees_close(got, expected, rtol=1e-10)


# -- errors -------------------------------------------------------------------------------------
def test_clear_errors():
    from tracead.dispatch import bind
    from tracead.ops.prim import Aval, Prim

    x = np.ones((B, 3))
    unknown = Prim("unknown_opaque", "opaque", lambda a: a, lambda a: Aval(a.shape, a.dtype))
    with pytest.raises(OpError, match="vmap: no batching rule for primitive 'unknown_opaque'"):
        ta.vmap(lambda a: bind(unknown, a))(x)
    with pytest.raises(UnsupportedInCompile, match="vmap: f looked at a value"):
        ta.vmap(lambda x: x * 2 if x.sum() > 0 else x)(x)
    with pytest.raises(OpError, match=r"different sizes along their in_axes \(argument \[0\]: 4, "
                                      r"argument \[1\]: 3\)"):
        ta.vmap(lambda a, b: a + b.sum())(x, np.ones((3, 2)))
    with pytest.raises(OpError, match="no argument is batched"):
        ta.vmap(lambda a: a, in_axes=None)(x)
    with pytest.raises(OpError, match=r"in_axes 2 is out of range for argument \[0\] of shape \(4, 3\)"):
        ta.vmap(lambda a: a, in_axes=2)(x)
    with pytest.raises(OpError, match="depends on the batch but out_axes is None"):
        ta.vmap(lambda a: a, out_axes=None)(x)
    with pytest.raises(OpError, match=r"in_axes\[0\] = \{'w': 0\} does not match"):
        ta.vmap(lambda p: p["w"], in_axes=({"w": 0},))({"w": x, "b": x})
    p = ta.tensor([1.0, 2.0, 3.0])
    with pytest.raises(UnsupportedInCompile, match="^vmap: f must not write to tensors"):
        ta.vmap(lambda a: p.assign_(a * 2.0))(x)
    np.testing.assert_array_equal(p.numpy(), [1.0, 2.0, 3.0])
    with pytest.raises(UnsupportedInCompile, match="must not set .grad"):
        ta.vmap(lambda a: setattr(p, "grad", a))(x)
    assert p.grad is None
