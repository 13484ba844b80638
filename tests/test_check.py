"""Check mode: `compile(check=True)` runs the eager function beside the compiled one.

It must pass correct programs without changing what the caller sees (one
compiled call: state written once), and catch a broken kernel, a broken pass
and a broken gradient, naming the kernel or pass, the node and the source line.
"""
from __future__ import annotations

import contextlib

import numpy as np
import pytest

import tracead as ta
from tracead.errors import CheckError
from tracead.runtime.compare import mismatch

RNG = np.random.default_rng(7)


@contextlib.contextmanager
def patched(prim, **fields):
    """Temporarily change a (frozen) primitive: the broken compiler under test."""
    old = {k: getattr(prim, k) for k in fields}
    for k, v in fields.items():
        object.__setattr__(prim, k, v)
    try:
        yield
    finally:
        for k, v in old.items():
            object.__setattr__(prim, k, v)


# -- comparing values ---------------------------------------------------------------------
def test_mismatch_is_nan_signed_zero_and_dtype_aware():
    f32 = np.float32
    assert mismatch(np.array([1.0, np.nan], f32), np.array([1.0 + 1e-6, np.nan], f32)) is None
    assert "nan" in mismatch(np.array([np.nan]), np.array([1.0]))
    assert "-0.0, expected 0.0" in mismatch(np.array([-0.0]), np.array([0.0]))
    assert mismatch(np.array([np.inf]), np.array([np.inf])) is None
    assert "inf" in mismatch(np.array([np.inf]), np.array([-np.inf]))
    assert "dtype" in mismatch(np.zeros(2, f32), np.zeros(2))
    assert "shape" in mismatch(np.zeros(2), np.zeros(3))
    assert mismatch(np.array([3], np.int64), np.array([4], np.int64)) is not None
    assert mismatch(np.zeros((0, 3)), np.zeros((0, 3))) is None
    # float64 is held to a tighter tolerance than float32
    assert mismatch(np.array([1.0 + 1e-7]), np.array([1.0])) is not None
    assert mismatch(np.array([1.0 + 1e-7], f32), np.array([1.0], f32)) is None
    # an absolute error small against the largest value passes (a sum that cancels)
    assert mismatch(np.array([1e6, 1e-9]), np.array([1e6, 0.0])) is None


# -- correct programs pass, state is written once -----------------------------------------
@pytest.mark.parametrize("backend", ["interpret", "numba"])
def test_correct_training_step_passes_and_writes_state_once(backend):
    w0 = RNG.standard_normal((3, 2))
    w = ta.tensor(w0, requires_grad=True)

    @ta.compile(backend=backend, check=True)
    def step(x, y):
        loss = ((x @ w - y) ** 2).mean()
        loss.backward()
        w.assign_(w - 0.1 * w.grad)
        w.grad = None
        return loss

    x, y = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 2))
    xs, ys = x.copy(), y.copy()
    expected_w, losses = w0.copy(), []
    for _ in range(4):
        losses.append(float(step(ta.tensor(x), ta.tensor(y))))
        err = x @ expected_w - y
        assert np.isclose(losses[-1], (err ** 2).mean())
        expected_w = expected_w - 0.1 * (2 * x.T @ err / err.size)
    np.testing.assert_allclose(w.numpy(), expected_w, rtol=1e-12)  # each step applied once
    assert w.grad is None
    np.testing.assert_array_equal(x, xs)
    np.testing.assert_array_equal(y, ys)
    assert step.stats["hits"] == 3 and step.stats["eager_calls"] == 0
    assert list(step.checker.checked.values()) == [3]


def test_checked_gradients_of_outputs_pass_and_grad_accumulates_once():
    a = ta.tensor(RNG.standard_normal(5), requires_grad=True)
    b = ta.tensor(RNG.standard_normal(5), requires_grad=True)
    f = ta.compile(lambda a, b: (ta.tanh(a) * ta.exp(b)).sum(), check=True, backward="eager")
    f(a, b)
    for _ in range(3):
        out = f(a, b)
    out.backward()
    np.testing.assert_allclose(a.grad.numpy(), (1 - np.tanh(a.numpy()) ** 2) * np.exp(b.numpy()))
    np.testing.assert_allclose(b.grad.numpy(), np.tanh(a.numpy()) * np.exp(b.numpy()))


def test_env_var_turns_check_mode_on(monkeypatch):
    monkeypatch.setenv("TRACEAD_CHECK", "1")
    assert ta.compile(lambda x: x + 1.0).checker is not None
    monkeypatch.setenv("TRACEAD_CHECK", "grad")
    assert ta.compile(lambda x: x + 1.0).checker.mode == "grad"
    monkeypatch.delenv("TRACEAD_CHECK")
    assert ta.compile(lambda x: x + 1.0).checker is None
    with pytest.raises(ValueError, match="check="):
        ta.compile(lambda x: x, check="sometimes")


def test_only_the_first_calls_are_checked():
    f = ta.compile(lambda x: x * 2.0, backend="interpret", check=True, check_calls=2)
    x = ta.tensor(np.ones(3))
    for _ in range(5):
        f(x)
    assert list(f.checker.checked.values()) == [2] and f.stats["hits"] == 4


# -- broken compilers are caught and named ------------------------------------------------
def test_broken_kernel_is_named_with_node_and_source_line(monkeypatch, tmp_path):
    monkeypatch.setenv("TRACEAD_CACHE_DIR", str(tmp_path))  # keep the broken kernel out of the shared cache

    def f(x, y):
        u = ta.exp(x) * 2.0
        return u - y  # the line check mode must point at

    f_line = f.__code__.co_firstlineno + 2
    x, y = RNG.standard_normal((3, 5)), RNG.standard_normal((3, 5))
    with patched(ta.PRIMS["sub"], template="({1} - {0})"):
        cf = ta.compile(f, check=True)
        cf(ta.tensor(x), ta.tensor(y))  # the trace runs eagerly: right
        with pytest.raises(CheckError) as info:
            cf(ta.tensor(x), ta.tensor(y))
    text = str(info.value)
    assert "output 0" in text and "forward kernel 0 [elementwise]" in text, text
    assert "= sub" in text and f"test_check.py:{f_line}" in text, text
    expected = np.exp(x) * 2.0 - y
    assert repr(float(expected[0, 0]))[:8] in text  # the reference value is shown


def test_broken_node_inside_a_fused_kernel_is_named(monkeypatch, tmp_path):
    """The kernel only hands out exp(x) * 2 - y; its nodes are then compiled one by one."""
    monkeypatch.setenv("TRACEAD_CACHE_DIR", str(tmp_path))

    def f(x, y):
        u = ta.exp(x)  # the broken node
        return u * 2.0 - y

    x, y = RNG.standard_normal((2, 3)), RNG.standard_normal((2, 3))
    with patched(ta.PRIMS["exp"], template="math.exp({0} + 1e-3)"):
        cf = ta.compile(f, check=True)
        cf(ta.tensor(x), ta.tensor(y))
        with pytest.raises(CheckError) as info:
            cf(ta.tensor(x), ta.tensor(y))
    text = str(info.value)
    assert "node by node" in text and "= exp" in text, text
    assert f"test_check.py:{f.__code__.co_firstlineno + 1}" in text, text


def swap_sub(graph):
    """A broken pass: a - b -> b - a."""
    nodes = tuple(n.__class__(n.prim, n.inputs[::-1], n.params, n.out, n.source)
                  if n.prim.name == "sub" else n for n in graph.nodes)
    return graph.replace(nodes=nodes)


@pytest.mark.parametrize("backend", ["interpret", "numba"])
def test_broken_pass_is_named(backend):
    def f(x, y):
        return ta.tanh(x) - y

    cf = ta.compile(f, backend=backend, check=True, passes=["fold", swap_sub, "cse", "dce"])
    args = (ta.tensor(RNG.standard_normal(4)), ta.tensor(RNG.standard_normal(4)))
    cf(*args)
    with pytest.raises(CheckError, match=r"(?s)output 0.*pass 'swap_sub'.*= sub.*test_check.py:\d+ in f"):
        cf(*args)


def test_broken_interpreted_node_is_named():
    """The interpret backend is bisected node by node."""
    from tracead.backends import interpret as backend

    real = backend.interpret

    def off_by_one(graph, args, freed=None):
        outs = real(graph, args, freed)
        return [o + 1 if o.dtype.kind == "f" else o for o in outs]

    cf = ta.compile(lambda x: ta.exp(x), backend="interpret", check=True)
    x = ta.tensor(np.zeros(2))
    cf(x)
    backend.interpret = off_by_one
    try:
        with pytest.raises(CheckError, match="output 0: 2.0, expected 1.0"):
            cf(x)
    finally:
        backend.interpret = real


def test_swapped_compiled_gradients_are_caught(monkeypatch):
    from tracead.runtime.variant import Variant

    real = Variant.backward

    def swapped(self, cts, outs, inputs, saved):
        return real(self, cts, outs, inputs, saved)[::-1]

    a = ta.tensor(RNG.standard_normal(3), requires_grad=True)
    b = ta.tensor(RNG.standard_normal(3), requires_grad=True)
    cf = ta.compile(lambda a, b: (a * ta.exp(b)).sum(), backend="interpret", check=True, backward="eager")
    cf(a, b)
    monkeypatch.setattr(Variant, "backward", swapped)
    with pytest.raises(CheckError, match=r"gradient of argument 0"):
        cf(a, b)
    assert a.grad is None and b.grad is None


def test_check_grad_catches_a_wrong_vjp_rule_that_eager_shares():
    """A wrong vjp rule is wrong eagerly too: only finite differences see it."""
    tanh = ta.PRIMS["tanh"]
    f = ta.compile(lambda x: ta.tanh(x) * 3.0, backend="interpret", check="grad")
    x = ta.tensor(RNG.standard_normal(4))
    f(x)
    f(x)  # right rule: passes
    g = ta.compile(lambda x: ta.tanh(x) * 3.0 + 0.0, backend="interpret", check="grad")
    with patched(tanh, vjp=lambda ct, out, x: (ct * (1 + out * out),)):
        g(x)
        with pytest.raises(CheckError, match=r"gradient of argument 0 \(float64\[4\]\).*finite differences"):
            g(x)
