"""`Prim.apply`: the one way every stage runs a primitive on arrays.

Eager dispatch, the reference interpreter, constant folding, the Numba
backend's opaque steps and the timed runs of `profile` used to each call
`prim.impl` with their own checks (the interpret backend's timed run skipped
the dtype cast); now they all go through `Prim.apply`.
"""
from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

import tracead as ta
from tracead.prim import Aval, Prim

PACKAGE = Path(ta.__file__).parent


def _impl_calls(path: Path) -> list[int]:
    """Line numbers of `<anything>.impl(...)` calls in one file."""
    tree = ast.parse(path.read_text(), str(path))
    return [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "impl"]


def test_no_impl_call_outside_prim_and_op_rows():
    allowed = {PACKAGE / "prim.py"}
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path in allowed or (PACKAGE / "ops") in path.parents:
            continue
        offenders += [f"{path.relative_to(PACKAGE)}:{line}" for line in _impl_calls(path)]
    assert not offenders, f"call prim.apply, not prim.impl: {offenders}"


def test_the_scan_sees_an_impl_call(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f(node, xs):\n    return node.prim.impl(*xs)\n")
    assert _impl_calls(bad) == [2]


def test_apply_casts_to_the_declared_dtype():
    wrong_dtype = Prim("t_dtype", "elementwise", lambda x: x.astype(np.float32),
                       lambda x: Aval(x.shape, np.dtype(np.float64)), differentiable=False)
    out = wrong_dtype.apply([np.ones(3)], {}, Aval((3,), np.dtype(np.float64)))
    assert out.dtype == np.float64
    assert wrong_dtype.apply([np.ones(2)], {}).dtype == np.float64  # the shape rule, asked


@pytest.mark.parametrize("op", [ta.exp, ta.sigmoid, ta.tanh, ta.sqrt])
@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.bool_, np.int32])
def test_integer_inputs_compute_in_float64(op, dtype):
    # Regression: NumPy computes exp of int8 in float16 (sigmoid in float32); eager
    # cast that up to the declared float64 and kept float16's rounding
    # (exp(int8 5) = 148.375), while compiled kernels computed in float64.
    x = np.array([5, 3, 1, 0], dtype)
    want = np.asarray(op(x.astype(np.float64)).numpy())
    got = op(x)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got.numpy(), want)
    compiled = ta.compile(op, backend="interpret")
    for _ in range(2):
        np.testing.assert_array_equal(compiled(x).numpy(), want)
    assert compiled.stats["hits"] >= 1


def test_exp_of_int8_matches_numpy_in_float64():
    got = ta.exp(np.array([5], np.int8)).numpy()
    assert got[0] == np.exp(5.0)  # not float16's 148.375


def test_timed_run_casts_like_the_untimed_run():
    # Regression: the interpret backend's timed run (behind ta.profile) called
    # impl without the cast to the node's dtype, so it returned float16.
    x = np.array([5, 3, 1], np.int8)
    f = ta.compile(lambda v: ta.exp(v) * 2.0, backend="interpret", disable=["fold", "simplify"])
    for _ in range(2):
        f(x)
    assert f.stats["hits"] >= 1
    executable = f.order[-1].forward_exec
    plain = executable([x])
    timed, rows = executable.run_timed([x])
    assert rows and len(timed) == len(plain)
    for a, b in zip(timed, plain):
        assert a.dtype == b.dtype == np.float64
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(timed[0], np.exp(x.astype(np.float64)) * 2.0)


def test_timed_run_of_a_graph_whose_impl_returns_another_dtype():
    # Any node whose impl returns another dtype than its Var: the timed run must cast too.
    from tracead.backends.interpret import InterpretExecutable
    from tracead.ir.graph import Graph, Node, Var

    prim = Prim("t_half", "elementwise", lambda x: x.astype(np.float16),
                lambda x: Aval(x.shape, np.dtype(np.float64)), differentiable=False)
    x, y = Var(0, (2,), np.dtype(np.float64)), Var(1, (2,), np.dtype(np.float64))
    graph = Graph((x,), (Node(prim, (x,), (), y),), (y,), {})
    executable = InterpretExecutable(graph)
    (timed,), _ = executable.run_timed([np.array([0.1, 0.2])])
    (plain,) = executable([np.array([0.1, 0.2])])
    assert timed.dtype == plain.dtype == np.float64


def test_shape_rule_results_are_reused_only_for_equal_types():
    # Eager dispatch caches shape-rule results; 2.0 and np.float64(2.0) are equal
    # keys to a dict, but NumPy types float32 ** np.float64(2) as float64.
    x = ta.tensor(np.ones(3, np.float32))
    assert (x ** 2.0).dtype == np.float32
    assert (x ** np.float64(2.0)).dtype == np.float64
    assert (x ** 2.0).dtype == np.float32
    assert ta.sum(ta.tensor(np.ones((2, 3))), axis=(np.int64(1),)).shape == (2,)
    assert ta.sum(ta.tensor(np.ones((2, 3))), axis=(1,)).shape == (2,)
