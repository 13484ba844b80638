"""The compiled runtime's contracts, one test each (found by mutation testing: breaking
any of these in tracead/runtime or tracead/trace left the rest of the suite green).

Guards must let a variant be reused exactly when it applies; writes (assign_,
.grad =) must be replayed; output structure, keyword arguments, object
arguments and options must be honoured. Values are checked against NumPy.
"""
from __future__ import annotations

import numpy as np
import pytest

import tracead as ta

BACKENDS = ["interpret", "numba"]


def compiled_twice(cf, *args, **kwargs):
    """Trace, then run compiled; returns the compiled call's result."""
    cf(*args, **kwargs)
    hits = cf.stats["hits"]
    out = cf(*args, **kwargs)
    assert cf.stats["hits"] == hits + 1, f"did not run compiled: {cf.stats} {cf.recompile_reasons}"
    return out


# -- value guards ---------------------------------------------------------------------------
def test_value_guard_reuses_the_variant_while_the_value_agrees():
    def f(x):
        return x * 2.0 if x.sum() > 0 else x * 3.0

    cf = ta.compile(f, backend="interpret")
    pos, neg = np.array([1.0, 2.0]), np.array([-1.0, -2.0])
    np.testing.assert_array_equal(compiled_twice(cf, ta.tensor(pos)).numpy(), pos * 2)
    np.testing.assert_array_equal(cf(ta.tensor(neg)).numpy(), neg * 3)  # guard fails: retrace
    np.testing.assert_array_equal(cf(ta.tensor(pos)).numpy(), pos * 2)
    assert cf.stats == {"hits": 2, "misses": 2, "eager_calls": 0}


def test_nan_value_guard_holds_for_nan():
    def f(x):
        return x * 2.0 if np.isnan(float(x.max())) else x * 3.0

    cf = ta.compile(f, backend="interpret")
    x = np.array([np.nan, 1.0])
    np.testing.assert_array_equal(compiled_twice(cf, ta.tensor(x)).numpy(), x * 2)


def test_item_of_a_tensor_read_from_outside_is_guarded():
    flag = ta.tensor(1.0)

    def f(x):
        return x * 2.0 if flag.item() > 0 else x * 3.0

    cf = ta.compile(f, backend="interpret")
    x = np.array([1.0, 2.0])
    np.testing.assert_array_equal(compiled_twice(cf, ta.tensor(x)).numpy(), x * 2)
    flag.assign_(-1.0)
    np.testing.assert_array_equal(cf(ta.tensor(x)).numpy(), x * 3)


# -- writes are replayed ----------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_assign_to_an_argument_is_replayed_and_read_back(backend):
    def f(x):
        x.assign_(x * 2.0)
        return x + 1.0  # reads the new value

    cf = ta.compile(f, backend=backend)
    cf(ta.tensor(np.zeros(3)))
    x0 = np.array([1.0, -2.0, 3.0])
    x = ta.tensor(x0)
    out = cf(x)
    assert cf.stats["hits"] == 1
    np.testing.assert_array_equal(x.numpy(), x0 * 2)
    np.testing.assert_array_equal(out.numpy(), x0 * 2 + 1)


def test_grad_writes_are_replayed():
    w = ta.tensor(np.zeros(3), requires_grad=True)
    v = ta.tensor(np.zeros(3), requires_grad=True)

    def f(x):
        w.grad = x * 2.0
        v.grad = None
        return x.sum()

    cf = ta.compile(f, backend="interpret")
    cf(ta.tensor(np.ones(3)))
    v.grad = ta.tensor(np.ones(3))
    x = np.array([1.0, 2.0, 3.0])
    cf(ta.tensor(x))
    assert cf.stats["hits"] == 1
    np.testing.assert_array_equal(w.grad.numpy(), x * 2)
    assert v.grad is None


def test_grad_read_of_an_outside_tensor_is_by_reference_and_guarded():
    p = ta.tensor(np.zeros(2), requires_grad=True)
    p.grad = ta.tensor(np.array([1.0, 2.0]))
    cf = ta.compile(lambda x: x * p.grad, backend="interpret")
    x = np.array([3.0, 4.0])
    np.testing.assert_array_equal(compiled_twice(cf, ta.tensor(x)).numpy(), x * [1.0, 2.0])
    p.grad.assign_(np.array([5.0, 6.0]))  # same object, new value: no retrace
    np.testing.assert_array_equal(cf(ta.tensor(x)).numpy(), x * [5.0, 6.0])
    assert cf.stats["misses"] == 1
    p.grad = ta.tensor(np.array([7.0, 8.0]))  # a new object: the guard fails, retrace
    np.testing.assert_array_equal(cf(ta.tensor(x)).numpy(), x * [7.0, 8.0])


# -- calls: structure, keywords, objects, grad mode -------------------------------------------
def test_output_structure_and_static_leaves_are_kept():
    def f(x):
        return [x * 2.0, (x + 1.0,)], {"k": x - 1.0, "n": 3, "s": "text"}, None

    cf = ta.compile(f, backend="interpret")
    x = np.array([1.0, 2.0])
    (pair, mapping, nothing) = compiled_twice(cf, ta.tensor(x))
    assert type(pair) is list and type(pair[1]) is tuple and len(pair[1]) == 1
    assert mapping["n"] == 3 and mapping["s"] == "text" and nothing is None
    np.testing.assert_array_equal(pair[0].numpy(), x * 2)
    np.testing.assert_array_equal(pair[1][0].numpy(), x + 1)
    np.testing.assert_array_equal(mapping["k"].numpy(), x - 1)


def test_argument_containers_keep_their_types():
    def f(pair, table):
        assert type(pair) is list and type(pair[1]) is tuple and type(table) is dict
        return pair[0] * table["w"] + pair[1][0]

    cf = ta.compile(f, backend="interpret")
    x, w, b = np.array([1.0, 2.0]), np.array([3.0, 4.0]), np.array([0.5, 0.5])
    out = compiled_twice(cf, [ta.tensor(x), (ta.tensor(b),)], {"w": ta.tensor(w)})
    np.testing.assert_array_equal(out.numpy(), x * w + b)


def test_keyword_arguments_are_matched_by_name():
    cf = ta.compile(lambda a, b: a - b * 2.0, backend="interpret")
    x, y = np.array([1.0, 2.0]), np.array([10.0, 20.0])
    np.testing.assert_array_equal(compiled_twice(cf, a=ta.tensor(x), b=ta.tensor(y)).numpy(), x - 2 * y)
    np.testing.assert_array_equal(cf(b=ta.tensor(x), a=ta.tensor(y)).numpy(), y - 2 * x)


def test_keyword_calls_guard_grad_mode():
    cf = ta.compile(lambda a: (a * a).sum(), backend="interpret")
    a = ta.tensor(np.array([1.0, 2.0]), requires_grad=True)
    with ta.no_grad():
        assert not compiled_twice(cf, a=a).requires_grad
    out = compiled_twice(cf, a=a)
    out.backward()
    np.testing.assert_array_equal(a.grad.numpy(), [2.0, 4.0])


def test_object_arguments_are_guarded_by_identity():
    cf = ta.compile(lambda x, act: act(x), backend="interpret")
    x = np.array([0.5, -1.0])
    np.testing.assert_allclose(compiled_twice(cf, ta.tensor(x), ta.tanh).numpy(), np.tanh(x))
    np.testing.assert_allclose(cf(ta.tensor(x), ta.sigmoid).numpy(), 1 / (1 + np.exp(-x)))


# -- switches and options ---------------------------------------------------------------------
@pytest.mark.parametrize("value,compiled", [("", True), ("0", True), ("1", False)])
def test_disable_variable(monkeypatch, value, compiled):
    monkeypatch.setenv("TRACEAD_DISABLE", value)
    cf = ta.compile(lambda x: x + 1.0, backend="interpret")
    for _ in range(2):
        np.testing.assert_array_equal(cf(ta.tensor(np.ones(2))).numpy(), [2.0, 2.0])
    assert cf.stats == ({"hits": 1, "misses": 1, "eager_calls": 0} if compiled
                        else {"hits": 0, "misses": 0, "eager_calls": 2})


def test_eager_backend_passes_keyword_arguments():
    cf = ta.compile(lambda a, b: a - b, backend="eager")
    out = cf(a=ta.tensor(np.array([3.0])), b=ta.tensor(np.array([1.0])))
    assert out.item() == 2.0 and cf.stats["eager_calls"] == 1


def test_decorator_form_keeps_backend_and_options():
    @ta.compile(backend="interpret", max_variants=1)
    def f(x):
        return x * 2.0

    assert f.backend_name == "interpret" and f.max_variants == 1
    f(ta.tensor(np.ones(2)))
    with pytest.warns(ta.RecompileWarning, match="max_variants=1"):
        np.testing.assert_array_equal(f(ta.tensor(np.ones(3))).numpy(), [2.0, 2.0, 2.0])
    assert f.gave_up and f.stats["eager_calls"] == 1  # the call past the limit ran eagerly


def test_backward_option_builds_the_joint_graph_up_front():
    a = ta.tensor(np.array([1.0, 2.0]), requires_grad=True)
    joint = ta.compile(lambda a: (a * 3.0).sum(), backend="interpret", backward="eager")
    lazy = ta.compile(lambda a: (a * 3.0).sum(), backend="interpret")
    compiled_twice(joint, a).backward()
    compiled_twice(lazy, a)
    assert joint.order[0].backward_exec is not None and lazy.order[0].backward_exec is None
    np.testing.assert_array_equal(a.grad.numpy(), [3.0, 3.0])


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradient_of_an_unused_input(backend):
    a = ta.tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = ta.tensor(np.array([5.0]), requires_grad=True)
    cf = ta.compile(lambda a, b: (a * 1.5).sum() + 0.0 * b.sum() * 0.0, backend=backend, backward="eager")
    compiled_twice(cf, a, b).backward()
    np.testing.assert_array_equal(a.grad.numpy(), [1.5, 1.5])
    assert b.grad is None or not b.grad.numpy().any()


def test_writes_land_in_the_right_place_next_to_value_guards():
    """Graph outputs are laid out outputs, guards, writes: a write must not read a guard."""
    w = ta.tensor(np.array([1.0, 2.0]))

    def f(x):
        scale = 2.0 if x.sum() > 0 else 3.0  # one value guard
        w.assign_(w + x * scale)
        return x * 10.0

    cf = ta.compile(f, backend="interpret")
    x = np.array([0.5, 0.25])
    cf(ta.tensor(x))
    out = cf(ta.tensor(x))
    assert cf.stats["hits"] == 1
    np.testing.assert_array_equal(out.numpy(), x * 10)
    np.testing.assert_array_equal(w.numpy(), np.array([1.0, 2.0]) + 2 * (x * 2.0))


def test_requires_grad_of_an_outside_tensor_is_guarded():
    p = ta.tensor(np.array([1.0, 2.0]), requires_grad=True)
    cf = ta.compile(lambda x: (x * p).sum(), backend="interpret")
    x = ta.tensor(np.array([3.0, 4.0]))
    assert compiled_twice(cf, x).requires_grad
    p.requires_grad_(False)
    out = cf(x)
    assert not out.requires_grad and out.item() == 11.0
    assert "requires_grad" in cf.recompile_reasons[-1]
