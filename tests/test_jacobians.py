"""jvp, vjp, linearize, jacrev, jacfwd, hessian: against central differences of
NumPy twins, against each other and composed with grad; eager and compiled."""
from __future__ import annotations

import numpy as np
import pytest

import tracead as ta
from tracead.errors import OpError
from tree_checks import assert_trees_close, compiled_twice, fd_grad, fd_jacobian, fd_jvp

SHAPES = {"0-d": ((), ()), "size-1": ((1,), (1, 1)), "broadcast": ((3, 1), (4,))}
TOL = {np.float32: dict(rtol=2e-4, atol=2e-5), np.float64: dict(rtol=1e-6, atol=1e-8)}


def f(x, y):
    return ta.tanh(x * y) + x ** 2 * y


def f_np(x, y):
    return np.tanh(x * y) + x ** 2 * y


def _inputs(shape_name, dtype, seed=0):
    rng = np.random.default_rng(seed)
    sx, sy = SHAPES[shape_name]
    return [rng.uniform(-1, 1, s).astype(dtype) for s in (sx, sy, sx, sy)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_jvp_matches_central_differences(shape, dtype):
    x, y, tx, ty = _inputs(shape, dtype)
    out, tangent = ta.jvp(f, (x, y), (tx, ty))
    expected = fd_jvp(f_np, (x, y), (tx, ty))
    assert tangent.dtype == dtype and tangent.shape == np.shape(expected)
    np.testing.assert_allclose(np.asarray(out), f_np(x, y), **TOL[dtype])
    np.testing.assert_allclose(np.asarray(tangent), expected, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_vjp_inner_product_with_central_differences(shape, dtype):
    x, y, tx, ty = _inputs(shape, dtype, seed=1)
    out, vjp_fn = ta.vjp(f, x, y)
    ct = np.random.default_rng(2).standard_normal(out.shape).astype(dtype)
    gx, gy = vjp_fn(ct)
    assert (gx.shape, gy.shape, gx.dtype) == (x.shape, y.shape, dtype)
    lhs = np.vdot(np.asarray(gx, np.float64), tx) + np.vdot(np.asarray(gy, np.float64), ty)
    rhs = np.vdot(ct, fd_jvp(f_np, (x, y), (tx, ty)))
    assert lhs == pytest.approx(rhs, rel=TOL[dtype]["rtol"] * 10, abs=TOL[dtype]["atol"] * 10)
    gx2, _ = vjp_fn(2 * ct)  # vjp_fn is reusable and linear
    np.testing.assert_allclose(np.asarray(gx2), 2 * np.asarray(gx), rtol=1e-6)


@pytest.mark.parametrize("shape", list(SHAPES))
def test_jacrev_and_jacfwd_match_central_differences(shape):
    x, y, _, _ = _inputs(shape, np.float64, seed=3)
    jr = ta.jacrev(f, argnums=(0, 1))(x, y)
    jf = ta.jacfwd(f, argnums=(0, 1))(x, y)
    out_shape = f_np(x, y).shape
    for k, (arg, other) in enumerate(((x, y), (y, x))):
        ref = fd_jacobian(lambda a: f_np(a, other) if k == 0 else f_np(other, a), arg)
        assert jr[k].shape == jf[k].shape == out_shape + arg.shape
        np.testing.assert_allclose(np.asarray(jr[k]), ref, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(np.asarray(jf[k]), np.asarray(jr[k]), rtol=1e-12, atol=1e-14)


def g(x):
    return ta.sum(ta.tanh(x) * x ** 2) + ta.logsumexp(x)


def g_grad_np(x):
    t = np.tanh(x)
    e = np.exp(x - x.max())
    return (1 - t ** 2) * x ** 2 + 2 * x * t + e / e.sum()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(), (1,), (3,)])
def test_hessian_three_ways_and_central_differences(shape, dtype):
    x = np.random.default_rng(4).uniform(-1, 1, shape).astype(dtype)
    h = ta.hessian(g)(x)
    assert h.dtype == dtype
    if dtype == np.float32:
        ref = fd_jacobian(g_grad_np, x.astype(np.float64))
        np.testing.assert_allclose(np.asarray(h), ref, rtol=1e-4, atol=1e-5)
        return
    ff = ta.jacfwd(ta.jacfwd(g))(x)
    rr = ta.jacrev(ta.jacrev(g))(x)
    ref = fd_jacobian(g_grad_np, x)
    assert h.shape == shape + shape
    np.testing.assert_allclose(np.asarray(h), ref, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(np.asarray(ff), np.asarray(h), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.asarray(rr), np.asarray(h), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.asarray(h), np.asarray(h).T, rtol=1e-12, atol=1e-14)


def test_forward_and_reverse_compose_with_grad():
    x = np.array([0.3, -0.5, 0.8])
    v = np.array([1.0, -2.0, 0.5])
    # forward-over-reverse: jvp of grad is the Hessian-vector product
    _, hvp = ta.jvp(ta.grad(g), (x,), (v,))
    np.testing.assert_allclose(np.asarray(hvp), fd_jvp(g_grad_np, (x,), (v,)), rtol=1e-6)
    # reverse-over-forward: grad of a directional derivative is the same product
    rof = ta.grad(lambda x: ta.jvp(g, (x,), (v,))[1])(x)
    np.testing.assert_allclose(np.asarray(rof), np.asarray(hvp), rtol=1e-10)
    # grad through vjp: d/dx <vjp(ct), v>
    def pulled(x):
        _, vjp_fn = ta.vjp(lambda x: ta.tanh(x) * x, x)
        return (vjp_fn(np.ones(3))[0] * v).sum()
    ref = fd_grad(lambda x: float(((1 - np.tanh(x) ** 2) * x + np.tanh(x)) @ v), x)
    np.testing.assert_allclose(np.asarray(ta.grad(pulled)(x)), ref, rtol=1e-6)
    # a closure over an outer variable: d/dy of jvp_x(x*y*y) = 2 y t x^0 ... = 2 y t
    mixed = ta.grad(lambda y: ta.jvp(lambda x: (x * y * y).sum(), (x,), (v,))[1])(1.5)
    assert mixed.item() == pytest.approx(2 * 1.5 * v.sum())


def test_linearize_reuses_one_forward_for_many_tangents():
    x = np.array([0.2, -0.4])
    out, jvp_fn = ta.linearize(lambda x: ta.tanh(x) * x.sum(), x)
    np.testing.assert_allclose(np.asarray(out), np.tanh(x) * x.sum())
    for t in (np.array([1.0, 0.0]), np.array([0.3, -2.0])):
        np.testing.assert_allclose(np.asarray(jvp_fn(t)),
                                   fd_jvp(lambda x: np.tanh(x) * x.sum(), (x,), (t,)), rtol=1e-6)


def test_identity_repeated_and_integer_outputs():
    x = np.array([1.0, 2.0])
    _, tangent = ta.jvp(lambda x: x, (x,), (np.array([3.0, 4.0]),))
    np.testing.assert_array_equal(np.asarray(tangent), [3.0, 4.0])
    for jac in (ta.jacrev, ta.jacfwd):
        same, double = jac(lambda x: (x, x * 2.0))(x)
        np.testing.assert_array_equal(np.asarray(same), np.eye(2))
        np.testing.assert_array_equal(np.asarray(double), 2 * np.eye(2))
    (total, count), (d_total, d_count) = ta.jvp(lambda x: (x.sum(), (x > 1).sum()), (x,),
                                                (np.ones(2),))
    assert (count.item(), d_total.item(), d_count.item()) == (1, 2.0, 0)


# -- pytrees --------------------------------------------------------------------------------
def p_fn(p, x):
    return {"y": ta.tanh(p["w"] * x) + p["b"], "s": (p["w"] * p["b"]).sum()}


def p_np(p, x):
    return {"y": np.tanh(p["w"] * x) + p["b"], "s": (p["w"] * p["b"]).sum()}


P = {"w": np.array([0.5, -1.0]), "b": np.array(0.3)}
X = np.array([1.5, 2.0])


def test_jvp_and_vjp_over_dicts():
    t = {"w": np.array([1.0, 0.5]), "b": np.array(-1.0)}
    out, tangent = ta.jvp(p_fn, (P, X), (t, np.zeros(2)))
    assert_trees_close(out, p_np(P, X), rtol=1e-12)
    assert_trees_close(tangent, fd_jvp(p_np, (P, X), (t, np.zeros(2))), rtol=1e-6)
    out, vjp_fn = ta.vjp(p_fn, P, X)
    gp, gx = vjp_fn({"y": np.ones(2), "s": np.array(2.0)})
    ref = fd_grad(lambda p: float(p_np(p, X)["y"].sum() + 2 * p_np(p, X)["s"]), P)
    assert_trees_close(gp, ref, rtol=1e-6)
    assert gx.shape == (2,)


def test_hessian_of_a_dict_argument():
    def energy(p):
        return ta.sum(ta.tanh(p["w"]) * p["b"] ** 2)
    h = ta.hessian(energy)(P)
    assert set(h) == {"b", "w"} and set(h["w"]) == {"b", "w"}
    assert h["w"]["w"].shape == (2, 2) and h["w"]["b"].shape == (2,) and h["b"]["b"].shape == ()
    def grad_np(p):
        return {"b": 2 * p["b"] * np.tanh(p["w"]).sum(), "w": (1 - np.tanh(p["w"]) ** 2) * p["b"] ** 2}
    for wrt in ("w", "b"):  # one block column at a time, by central differences of the gradient
        for of in ("w", "b"):
            ref = fd_jacobian(lambda v: grad_np({**P, wrt: v})[of], P[wrt])
            np.testing.assert_allclose(np.asarray(h[of][wrt]), ref, rtol=1e-6, atol=1e-8)


def test_jacobians_of_dict_to_dict_nest_output_then_input():
    jr = ta.jacrev(p_fn)(P, X)
    jf = ta.jacfwd(p_fn)(P, X)
    assert set(jr) == {"y", "s"} and set(jr["y"]) == {"w", "b"}
    assert jr["y"]["w"].shape == (2, 2) and jr["y"]["b"].shape == (2,) and jr["s"]["w"].shape == (2,)
    assert_trees_close(jf, jr, rtol=1e-12, atol=1e-14)
    w_ref = fd_jacobian(lambda w: p_np({"w": w, "b": P["b"]}, X)["y"], P["w"])
    np.testing.assert_allclose(np.asarray(jr["y"]["w"]), w_ref, rtol=1e-6, atol=1e-9)


def test_has_aux_on_jvp_vjp_and_jacobians():
    def f_aux(x):
        return ta.tanh(x), {"sq": x * x}
    x = np.array([0.1, 0.2])
    out, tangent, aux = ta.jvp(f_aux, (x,), (np.ones(2),), has_aux=True)
    np.testing.assert_allclose(np.asarray(aux["sq"]), x * x)
    out, vjp_fn, aux = ta.vjp(f_aux, x, has_aux=True)
    np.testing.assert_allclose(np.asarray(vjp_fn(np.ones(2))[0]), 1 - np.tanh(x) ** 2)
    for jac in (ta.jacrev, ta.jacfwd):
        j, aux = jac(f_aux, has_aux=True)(x)
        np.testing.assert_allclose(np.asarray(j), np.diag(1 - np.tanh(x) ** 2), atol=1e-15)
        assert not aux["sq"].requires_grad
    h, aux = ta.hessian(lambda x: ((x ** 3).sum(), x), has_aux=True)(x)
    np.testing.assert_allclose(np.asarray(h), np.diag(6 * x))


# -- errors ---------------------------------------------------------------------------------
def test_mismatched_tangents_and_cotangents_are_clear_errors():
    with pytest.raises(OpError, match=r"tangent 0 has structure PyTreeDef\(\{'w': \*\}\), "
                                      r"expected PyTreeDef\(\{'b': \*, 'w': \*\}\)"):
        ta.jvp(p_fn, (P, X), ({"w": np.ones(2)}, np.zeros(2)))
    with pytest.raises(OpError, match=r"tangent 0\['w'\] has shape \(3,\), expected \(2,\)"):
        ta.jvp(p_fn, (P, X), ({"w": np.ones(3), "b": np.array(0.0)}, np.zeros(2)))
    with pytest.raises(OpError, match="2 primals but 1 tangents"):
        ta.jvp(p_fn, (P, X), (P,))
    with pytest.raises(OpError, match="must be tuples or lists"):
        ta.jvp(ta.tanh, np.ones(2), np.ones(2))
    _, vjp_fn = ta.vjp(p_fn, P, X)
    with pytest.raises(OpError, match=r"cotangent\['y'\] has shape \(3,\), expected \(2,\)"):
        vjp_fn({"y": np.ones(3), "s": np.array(1.0)})
    with pytest.raises(OpError, match="cotangent has structure"):
        vjp_fn(np.ones(2))


# -- compiled ---------------------------------------------------------------------------------
@pytest.mark.parametrize("backend,shape", [("interpret", ()), ("interpret", (1,)),
                                           ("interpret", (3,)), ("numba", (3,))])
def test_transforms_inside_compile(backend, shape):
    rng = np.random.default_rng(11)
    x, v = rng.uniform(-1, 1, shape), rng.uniform(-1, 1, shape)

    def everything(x, v):
        out, tangent = ta.jvp(g, (x,), (v,))
        _, vjp_fn = ta.vjp(lambda x: ta.tanh(x) * x, x)
        return {"out": out, "jvp": tangent, "vjp": vjp_fn(v)[0], "hess": ta.hessian(g)(x),
                "jac": ta.jacrev(lambda x: ta.tanh(x) * x.sum())(x)}

    got = compiled_twice(everything, x, v, backend=backend)
    ref_jac = fd_jacobian(lambda x: np.tanh(x) * x.sum(), x)
    expected = {"out": float(np.sum(np.tanh(x) * x ** 2) + np.log(np.exp(x).sum())),
                "jvp": fd_jvp(lambda x: np.sum(np.tanh(x) * x ** 2) + np.log(np.exp(x).sum()),
                              (x,), (v,)),
                "vjp": ((1 - np.tanh(x) ** 2) * x + np.tanh(x)) * v,
                "hess": fd_jacobian(g_grad_np, x), "jac": ref_jac}
    assert_trees_close(got, expected, rtol=1e-6, atol=1e-8)


# -- batching --------------------------------------------------------------------------------
def test_jacobians_are_one_batched_pass_not_a_loop():
    """The captured graph of a Jacobian does not grow with the number of rows."""
    def sizes(transform):
        return [len(ta.make_graph(transform(lambda x: ta.tanh(x) * x.sum()))(np.ones(n)).nodes)
                for n in (2, 16)]
    for transform in (ta.jacrev, ta.jacfwd, ta.hessian):
        small, large = sizes(transform)
        assert small == large, (transform.__name__, small, large)


def test_jacobians_loop_when_a_primitive_has_no_batching_rule():
    from tracead.dispatch import bind
    from tracead.ops.prim import Aval, Prim

    doubler = Prim("doubler_without_batching_rule", "opaque", lambda a: 2 * a,
                   lambda a: Aval(a.shape, a.dtype), lambda g, out, a: (bind(doubler, g),))
    x = np.array([0.1, -0.3, 0.4])
    expected = np.diag(2 * (1 - np.tanh(2 * x) ** 2))
    for jac in (ta.jacrev, ta.jacfwd):
        got = jac(lambda x: ta.tanh(bind(doubler, x)))(x)
        np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("mode", ["eager", "interpret"])
def test_grad_of_a_jacobian(mode):
    """The batched pass inside jacrev/jacfwd stays differentiable for an outer grad."""
    x = np.array([0.3, -0.5, 0.8])
    weights = np.arange(9.0).reshape(3, 3)

    def jac_np(x):
        return np.diag(1 - np.tanh(x) ** 2) * x.sum() + np.tanh(x)[:, None]

    expected = fd_grad(lambda x: float((jac_np(x) * weights).sum()), x)
    for jac in (ta.jacrev, ta.jacfwd):
        fn = ta.grad(lambda x: (jac(lambda x: ta.tanh(x) * x.sum())(x) * weights).sum())
        got = fn(x) if mode == "eager" else compiled_twice(fn, x, backend=mode)
        np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-6, atol=1e-8)


def test_jacobians_through_indexing():
    """Gather and its transpose scatter_add inside the batched Jacobian passes."""
    x = np.arange(6.0).reshape(2, 3) / 5
    idx = np.array([2, 0, 2])
    expected = fd_jacobian(lambda x: np.tanh(x[:, idx]) * x[1, 0], x)
    for jac in (ta.jacrev, ta.jacfwd):
        got = jac(lambda x: ta.tanh(x[:, idx]) * x[1, 0])(x)
        np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-6, atol=1e-8)
    h = ta.hessian(lambda x: (x[:, idx] ** 3).sum())(x)
    counts = np.zeros((2, 3))
    np.add.at(counts, (slice(None), idx), 1)
    np.testing.assert_allclose(np.asarray(h).reshape(6, 6), np.diag((6 * x * counts).reshape(-1)),
                               atol=1e-12)


def test_jvp_does_no_second_order_work():
    """Forward mode by double vjp must cost about two reverse passes, not a Hessian:
    the tangent pass is cut to what depends on the dummy cotangent."""
    def chain(x):
        for _ in range(5):
            x = ta.tanh(x) * x
        return x

    x = np.linspace(-1, 1, 4)
    grad_ops = len(ta.make_graph(ta.grad(lambda x: chain(x).sum()))(x).nodes)
    jvp_ops = len(ta.make_graph(lambda x: ta.jvp(chain, (x,), (np.ones(4),))[1])(x).nodes)
    assert jvp_ops <= 2 * grad_ops, (jvp_ops, grad_ops)
