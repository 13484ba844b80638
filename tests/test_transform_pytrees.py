"""grad / value_and_grad over pytrees, has_aux, the nn dict-of-parameters step,
make_graph; eager and compiled, against central differences and NumPy."""
from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass

import numpy as np
import pytest

import tracead as ta
from tracead.errors import OpError, OpTypeError
from tree_checks import as_numpy, assert_trees_close, compiled_twice, fd_grad

Layer = namedtuple("Layer", "w b")


@ta.register_dataclass
@dataclass
class Weights:
    w: object
    b: object


def _ta_loss(params):
    total = 0.0
    for leaf in ta.tree_leaves(params):
        total = total + ta.sum(ta.tanh(leaf) * leaf)
    return total


def _np_loss(params):
    return sum(float(np.sum(np.tanh(x) * x)) for x in ta.tree_leaves(params))


def _trees(rng):
    a, b, c = rng.standard_normal(3), rng.standard_normal((2, 2)), rng.standard_normal(())
    return {
        "dict": {"w": a, "b": b, "s": c},
        "list": [a, b, c],
        "tuple": (a, (b, c)),
        "nested with None": {"layers": [{"w": a, "b": None}], "extra": (c, None)},
        "namedtuple": Layer(a, b),
        "dataclass": Weights(a, [b, c]),
    }


KINDS = ["dict", "list", "tuple", "nested with None", "namedtuple", "dataclass"]
# The compile runtime rebuilds outputs with tuples, lists and dicts only (see the report of
# this change); a namedtuple or registered class returned by a compiled function fails loudly.


@pytest.mark.parametrize("kind", KINDS)
def test_grad_of_every_pytree_kind_has_the_argument_structure(kind):
    tree = _trees(np.random.default_rng(0))[kind]
    g = ta.grad(_ta_loss)(tree)
    assert ta.tree_structure(g) == ta.tree_structure(tree)
    assert type(g) is type(tree)
    assert all(isinstance(x, ta.Tensor) and not x.requires_grad for x in ta.tree_leaves(g))
    assert_trees_close(g, fd_grad(_np_loss, tree), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("kind", KINDS)
def test_grad_of_every_pytree_kind_compiled(kind):
    tree = _trees(np.random.default_rng(1))[kind]
    g = compiled_twice(ta.value_and_grad(_ta_loss), tree)
    assert g[0].item() == pytest.approx(_np_loss(tree))
    assert_trees_close(g[1], fd_grad(_np_loss, tree), rtol=1e-7, atol=1e-9)


def test_a_list_argument_is_a_list_pytree_never_stacked():
    a, b = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    g = ta.grad(lambda xs: (xs[0] * xs[1]).sum())([a, b])
    assert isinstance(g, list) and len(g) == 2
    np.testing.assert_array_equal(np.asarray(g[0]), b)
    np.testing.assert_array_equal(np.asarray(g[1]), a)
    ragged = ta.grad(lambda xs: xs[0].sum() * xs[1].sum())([np.ones(2), np.ones(3)])
    assert [x.shape for x in ragged] == [(2,), (3,)]
    np.testing.assert_array_equal(np.asarray(ragged[0]), [3.0, 3.0])
    floats = ta.grad(lambda xs: xs[0] * xs[1] + xs[2] ** 2)([1.0, 2.0, 3.0])
    assert [x.item() for x in floats] == [2.0, 1.0, 6.0]


def test_argnums_tuple_of_pytrees():
    p = {"a": np.array([0.5, -1.0])}
    q = (np.array(2.0),)
    def f(p, x, q):
        return (p["a"] * q[0] * x).sum()
    gp, gq = ta.grad(f, argnums=(0, 2))(p, np.array([1.0, 3.0]), q)
    np.testing.assert_allclose(np.asarray(gp["a"]), [2.0, 6.0])
    assert isinstance(gq, tuple) and gq[0].item() == pytest.approx(0.5 - 3.0)


def test_second_order_through_a_dict():
    p = {"u": np.array([0.3, -0.2]), "v": np.array(0.7)}
    def hvp_loss(p):
        g = ta.grad(lambda p: (ta.tanh(p["u"]) * p["v"] ** 2).sum())(p)
        return (g["u"] * np.array([1.0, 2.0])).sum() + g["v"]
    def np_g(p):  # the inner gradient in NumPy
        u, v = p["u"], p["v"]
        return (1 - np.tanh(u) ** 2) * v ** 2, 2 * v * np.tanh(u).sum()
    got = ta.grad(hvp_loss)(p)
    expected = fd_grad(lambda p: float((np_g(p)[0] * [1.0, 2.0]).sum() + np_g(p)[1]), p)
    assert_trees_close(got, expected, rtol=1e-6, atol=1e-8)


# -- has_aux ---------------------------------------------------------------------------
def _loss_with_aux(p, x):
    pred = x @ p["w"] + p["b"]
    loss = (pred * pred).mean()
    return loss, {"pred": pred, "norm": (p["w"] * p["w"]).sum()}


def test_has_aux_on_value_and_grad_and_grad(mode):
    rng = np.random.default_rng(2)
    p = {"w": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}
    x = rng.standard_normal((4, 3))
    vg = ta.value_and_grad(_loss_with_aux, has_aux=True)
    if mode == "eager":
        (value, aux), g = vg(p, x)
        g2, aux2 = ta.grad(_loss_with_aux, has_aux=True)(p, x)
    else:
        (value, aux), g = compiled_twice(vg, p, x, backend=mode)
        g2, aux2 = compiled_twice(ta.grad(_loss_with_aux, has_aux=True), p, x, backend=mode)
    pred = x @ p["w"] + p["b"]
    assert value.item() == pytest.approx((pred ** 2).mean())
    np.testing.assert_allclose(np.asarray(aux["pred"]), pred, rtol=1e-12)
    assert aux["norm"].item() == pytest.approx((p["w"] ** 2).sum())
    assert not aux["pred"].requires_grad
    expected = {"w": x.T @ (2 * pred / pred.size), "b": (2 * pred / pred.size).sum(0)}
    assert_trees_close(g, expected, rtol=1e-10)
    assert_trees_close(g2, expected, rtol=1e-10)
    assert_trees_close(aux2, as_numpy(aux), rtol=1e-12)


def test_has_aux_needs_a_pair():
    with pytest.raises(OpError, match=r"has_aux=True\): f must return a pair \(output, aux\), "
                                      r"got a Tensor"):
        ta.grad(lambda x: (x * x).sum(), has_aux=True)(np.ones(2))
    with pytest.raises(OpError, match="got a tuple of length 3"):
        ta.grad(lambda x: (x.sum(), 1, 2), has_aux=True)(np.ones(2))


# -- errors ----------------------------------------------------------------------------
def test_non_scalar_output_names_the_shape():
    with pytest.raises(OpError, match=r"got a tensor of shape \(3,\); use jacrev/vjp") as info:
        ta.grad(lambda x: x * 2.0)(np.ones(3))
    assert "test_transform_pytrees.py" in str(info.value)
    with pytest.raises(OpError, match="got a tensor of dtype int64"):
        ta.grad(lambda x: (x > 0).astype(np.int64).sum())(np.ones(3))


def test_non_float_leaf_names_its_path():
    with pytest.raises(OpTypeError, match=r"argument 0\['w'\]\[1\] has dtype int64"):
        ta.grad(_ta_loss)({"w": [np.ones(2), np.arange(3)]})
    with pytest.raises(OpTypeError, match=r"argument 0\['w'\] is a str"):
        ta.grad(_ta_loss)({"w": "text"})


def test_transforms_do_not_mutate_the_arguments():
    p = {"w": ta.tensor([1.0, 2.0], requires_grad=True), "b": [np.array([3.0])]}
    before = np.array(p["b"][0])
    ta.value_and_grad(_ta_loss)(p)
    assert set(p) == {"w", "b"} and p["w"].grad is None and isinstance(p["b"][0], np.ndarray)
    np.testing.assert_array_equal(p["b"][0], before)


# -- nn: a JAX-style step with a dict of parameters --------------------------------------
def _linear_reference(w, b, x, y):
    """mse(x @ w + b, y) and its gradients, by hand in NumPy."""
    r = x @ w + b - y
    return (r ** 2).mean(), {"bias": 2 * r.sum(0) / r.size, "weight": 2 * x.T @ r / r.size}


def test_functional_call_training_step_with_a_dict_of_parameters(mode):
    model = ta.nn.Linear(3, 2, dtype=np.float64, seed=0)
    params = model.param_dict()
    assert params == {"weight": model.weight, "bias": model.bias}
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 2))

    def loss(p, x, y):
        pred = ta.nn.functional_call(model, p, x)
        return ta.nn.mse_loss(pred, y), pred

    step = ta.value_and_grad(loss, has_aux=True)
    if mode != "eager":
        step = ta.compile(step, backend=mode)
    w, b = model.weight.numpy(), model.bias.numpy()
    p = ta.tree_map(lambda v: v.numpy(), params)  # sorted keys, as every later step's
    for i in range(3):
        (value, pred), g = step(p, x, y)
        ref_value, ref_g = _linear_reference(w, b, x, y)
        assert value.item() == pytest.approx(ref_value, rel=1e-12)
        np.testing.assert_allclose(np.asarray(pred), x @ w + b, rtol=1e-12)
        assert_trees_close(g, ref_g, rtol=1e-10)
        p = ta.tree_map(lambda v, d: np.asarray(v) - 0.1 * np.asarray(d), p, g)
        w, b = w - 0.1 * ref_g["weight"], b - 0.1 * ref_g["bias"]
    if mode != "eager":
        assert step.stats["hits"] >= 2 and step.stats["eager_calls"] == 0
    # The module itself is untouched by functional_call.
    np.testing.assert_array_equal(model.weight.numpy(), params["weight"].numpy())
    assert model.param_dict()["weight"] is params["weight"]


def test_functional_call_restores_and_checks_names():
    model = ta.nn.MLP([2, 3, 1], dtype=np.float64, seed=1)
    before = model.param_dict()
    x = np.ones((1, 2))
    zeroed = {"layers.2.weight": np.zeros((3, 1))}
    out = ta.nn.functional_call(model, zeroed, x)  # partial dict: the rest are the model's
    np.testing.assert_array_equal(np.asarray(out), model.param_dict()["layers.2.bias"].numpy()[None])
    assert model.param_dict() == before and "weight" in model.layers[2]._parameters
    with pytest.raises(KeyError, match=r"unknown parameter names \['nope'\]"):
        ta.nn.functional_call(model, {"nope": np.zeros(1)}, x)
    with pytest.raises(ValueError):
        ta.nn.functional_call(model, {"layers.0.weight": np.zeros((5, 5))}, x)
    assert model.param_dict() == before  # restored after an error too


def test_functional_call_replaces_a_tied_parameter_everywhere():
    class Tied(ta.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = ta.nn.Linear(2, 2, bias=False, dtype=np.float64, seed=0)
            self.b = ta.nn.Linear(2, 2, bias=False, dtype=np.float64, seed=1)
            self.b.weight = self.a.weight  # tied: listed once, as "a.weight"

        def forward(self, x):
            return self.b(self.a(x))

    model = Tied()
    assert list(model.param_dict()) == ["a.weight"]
    w = np.array([[1.0, 2.0], [0.0, 1.0]])
    out = ta.nn.functional_call(model, {"a.weight": w}, np.ones((1, 2)))
    np.testing.assert_allclose(np.asarray(out), np.ones((1, 2)) @ w @ w)
    assert model.b.weight is model.a.weight and model.a.weight.requires_grad


# -- make_graph --------------------------------------------------------------------------
def test_make_graph_returns_the_captured_graph_without_compiling():
    def f(p, x):
        return ta.tanh(x @ p["w"]).sum(), p["b"] * 2.0

    p = {"w": np.ones((3, 2)), "b": np.ones(2, np.float32)}
    graph = ta.make_graph(f)(p, np.ones((4, 3)))
    text = str(graph)
    assert "graph(%0:f64[3,2], %1:f32[2], %2:f64[4,3])" in text  # the dict's order, then x
    assert "matmul %2 %0" in text and "tanh" in text and "test_transform_pytrees.py" in text
    assert len(graph.outputs) == 2
    from tracead.ir.interpret import interpret

    out = interpret(graph, [np.full((3, 2), 0.1), np.full(2, 3.0, np.float32), np.ones((4, 3))])
    assert np.asarray(out[0]) == pytest.approx(np.tanh(np.full((4, 2), 0.3)).sum())
    np.testing.assert_array_equal(np.asarray(out[1]), [6.0, 6.0])


def test_one_tensor_passed_twice_gets_two_separate_gradients_when_nested():
    """Inside an outer grad the inner arguments are differentiated in place; the same
    tensor in two leaves used to receive the sum of both gradients in each."""
    w0 = np.array([1.0, 2.0])
    inner = ta.grad(lambda p: (p["a"] * p["b"] * p["b"]).sum())
    # d/dw sum(inner({a: w, b: w})["a"]) = d/dw sum(b^2) = 2w
    got = ta.grad(lambda w: inner({"a": w, "b": w})["a"].sum())(w0)
    np.testing.assert_allclose(np.asarray(got), 2 * w0)
    pair = ta.grad(lambda a, b: (a * b).sum(), argnums=(0, 1))
    got = ta.grad(lambda w: pair(w, w)[0].sum())(w0)
    np.testing.assert_allclose(np.asarray(got), [1.0, 1.0])


def test_compiled_functions_see_dicts_in_the_callers_order():
    """Compile keeps insertion order (the transforms sort, as JAX): a compiled function
    that depends on the order must agree with its eager run."""
    def ordered(d):
        return ta.concatenate(list(d.values())), {k: v * 2.0 for k, v in d.items()}

    d = {"b": np.array([1.0]), "a": np.array([2.0, 3.0])}
    got = compiled_twice(ordered, d)
    np.testing.assert_array_equal(np.asarray(got[0]), [1.0, 2.0, 3.0])
    assert list(got[1]) == ["b", "a"]


def test_compiled_function_taking_a_registered_class_reads_its_tensors_by_reference():
    """For compile a registered class argument is one opaque object (its tensors are read
    by reference, like module parameters): updates in place are seen, and a new object is
    a new variant, never a stale result."""
    w = Weights(ta.tensor([1.0, 2.0]), ta.tensor(0.5))
    cf = ta.compile(lambda p, x: {"y": (x * p.w + p.b).sum()}, backend="interpret")
    x = np.array([3.0, 4.0])
    cf(w, x)
    assert cf(w, x)["y"].item() == pytest.approx(12.0) and cf.stats["hits"] == 1
    w.w.assign_(np.array([0.0, 1.0]))
    assert cf(w, x)["y"].item() == pytest.approx(5.0) and cf.stats["hits"] == 2
    other = Weights(ta.tensor([1.0, 1.0]), ta.tensor(0.0))
    assert cf(other, x)["y"].item() == pytest.approx(7.0)
