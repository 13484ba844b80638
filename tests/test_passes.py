"""Optimisation passes: each pass alone on hand-built graphs (exact text), every simplify
rule bit for bit on NaN/inf/-0.0, the whole pipeline against no passes on joint
forward+backward graphs (fusion and memory plans: test_plan.py)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tracead as ta
from tracead.ir import interpret, verify
from tracead.passes import PASSES, PIPELINE, run_pipeline
from tracead.passes.cse import cse
from tracead.passes.dce import dce
from tracead.passes.fold import fold
from tracead.passes.simplify import simplify
from tracead.plan import plan_fusion, plan_memory
from tracead.trace.backward import joint_graph
from pass_helpers import (F32, PROGRAMS, Builder, check_memory_plan, check_schedule,
                          close, compiled_graph, joint_of, run_schedule)

SPECIAL = np.array([0.0, -0.0, 1.0, -1.5, np.inf, -np.inf, np.nan, 1e-310, 3.0, -2.0, 1e300, 7.25])


def text(graph) -> str:
    return str(graph)


def lines(*body, inputs="%0:f64[3]") -> str:
    return "\n".join([f"graph({inputs}) {{", *("  " + b for b in body), "}"])


def bits_equal(a, b) -> bool:
    """Same values bit for bit (so -0.0 differs from 0.0), except that NaN equals NaN."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind != "f":
        return np.array_equal(a, b)
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    return np.array_equal(nan_a, nan_b) and (
        np.where(nan_a, 0.0, a).tobytes() == np.where(nan_b, 0.0, b).tobytes())


def run_pass(fn, graph):
    out = fn(graph)
    verify(out)
    return out


# -- fold ---------------------------------------------------------------------------------
def test_fold_evaluates_constant_subgraphs_and_shape_arithmetic():
    b = Builder()
    x = b.input((3,))
    c = b.neg(b.const([1.0, 2.0, 3.0]))
    c = b.reshape(b.transpose(b.reshape(c, shape=(3, 1)), perm=(1, 0)), shape=(3,))
    g = run_pass(fold, b.graph(b.mul(x, c)))
    assert text(g) == lines("%1:f64[3] = const [-1.,-2.,-3.]", "%2:f64[3] = mul %0 %1", "return %2")


def test_fold_keeps_a_folded_value_of_one_repeated_element_as_a_scalar():
    b = Builder()
    x = b.input((3,))
    c = b.broadcast_to(b.reshape(b.neg(b.const(2.0)), shape=(1,)), shape=(3,))
    g = run_pass(fold, b.graph(b.mul(x, c), b.exp(c)))
    assert text(g) == lines("%1:f64[] = const -2.", "%2:f64[] = const 0.135335",
                            "%3:f64[3] = broadcast_to %1 shape=(3,)", "%4:f64[3] = mul %0 %3",
                            "%5:f64[3] = broadcast_to %2 shape=(3,)", "return %4, %5")
    assert text(run_pass(dce, run_pass(simplify, g))) == lines(
        "%1:f64[] = const -2.", "%2:f64[] = const 0.135335", "%3:f64[3] = mul %0 %1",
        "%4:f64[3] = broadcast_to %2 shape=(3,)", "return %3, %4")


def test_fold_keeps_large_uniform_values_as_a_broadcast_scalar():
    b = Builder()
    x = b.input((100, 100))
    one = b.broadcast_to(b.reshape(b.const(1.0), shape=(1, 1)), shape=(100, 100))
    e = b.exp(b.neg(one))  # still uniform: evaluated on the scalar
    g = run_pass(fold, b.graph(b.mul(x, e)))
    assert text(g) == lines("%1:f64[] = const 0.367879",
                            "%2:f64[100,100] = broadcast_to %1 shape=(100,100)",
                            "%3:f64[100,100] = mul %0 %2", "return %3", inputs="%0:f64[100,100]")
    assert all(v.size == 1 for v in g.constant_vars())
    args = [np.random.default_rng(0).normal(size=(100, 100))]
    assert bits_equal(interpret(g, args)[0], args[0] * np.exp(-1.0))


def test_fold_reduces_a_large_uniform_value_and_leaves_large_non_uniform_results():
    b = Builder()
    x = b.input((3,))
    big = b.broadcast_to(b.const(1.0), shape=(5000, 3))
    s = b.sum(big, axes=(0,), keepdims=False)  # small result: folded from the broadcast
    ramp = b.const(np.arange(5000.0).reshape(5000, 1))
    r = b.mul(big, ramp)  # 15000 distinct values: left alone
    g = run_pass(fold, b.graph(b.mul(x, s), r))
    assert "const 5000." in text(g) and "<15000 values>" not in text(g)
    assert [n.prim.name for n in g.nodes] == ["broadcast_to", "mul", "broadcast_to", "mul"]


def test_fold_leaves_graphs_without_constant_nodes_alone():
    b = Builder()
    x = b.input((3,))
    g = b.graph(b.exp(b.mul(x, b.const(2.0))))
    assert text(run_pass(fold, g)) == text(g)


# -- cse ----------------------------------------------------------------------------------
def test_cse_merges_equal_nodes_and_equal_constants():
    b = Builder()
    x = b.input((3,))
    y = b.add(b.mul(x, b.const(1.5)), b.mul(x, b.const(1.5)))
    z = b.add(b.exp(x), b.mul(b.const(1.5), x))  # commutative: mul 1.5 x == mul x 1.5
    g = run_pass(cse, b.graph(y, z))
    assert text(g) == lines("%1:f64[] = const 1.5", "%2:f64[3] = mul %0 %1", "%3:f64[3] = add %2 %2",
                            "%4:f64[3] = exp %0", "%5:f64[3] = add %4 %2", "return %3, %5")


def test_cse_keeps_signed_zeros_params_and_non_commutative_ops_apart():
    b = Builder()
    x = b.input((3,))
    outs = [b.add(x, b.const(0.0)), b.add(x, b.const(-0.0)),
            b.pow_scalar(x, exponent=2), b.pow_scalar(x, exponent=2.0),
            b.maximum(x, b.const(0.0)), b.maximum(b.const(0.0), x)]
    g = run_pass(cse, b.graph(*outs))
    assert len(g.nodes) == 6 and len(g.constants) == 2


def test_cse_removes_the_duplicate_tanh_square_of_tanh_backward():
    def f(x):
        t = ta.tanh(x)
        return (t * t).sum()

    cf = ta.compile(f, backend="interpret")
    x = ta.tensor(np.linspace(-1, 1, 6), requires_grad=True)
    cf(x)
    v = cf.order[0]
    joint = joint_graph(v.capture.graph, v.wrt, v.diff_outputs)
    squares = [n for n in joint.nodes if n.prim.name == "mul" and n.inputs[0].id == n.inputs[1].id]
    assert len(squares) == 2  # t*t forward, out*out in tanh's vjp
    after = run_pass(cse, joint)
    squares = [n for n in after.nodes if n.prim.name == "mul" and n.inputs[0].id == n.inputs[1].id]
    assert len(squares) == 1 and sum(n.prim.name == "tanh" for n in after.nodes) == 1
    seed = np.ones(())
    ref = interpret(joint, [x.numpy(), seed])
    assert all(bits_equal(a, b) for a, b in zip(ref, interpret(after, [x.numpy(), seed])))


def test_cse_merges_the_repeated_transposes_of_a_matmul_backward():
    cf = ta.compile(lambda x, w: (ta.tanh(x @ w) * 2.0).sum(), backend="interpret")
    w = ta.tensor(np.ones((4, 2)), requires_grad=True)
    cf(np.ones((3, 4)), w)
    v = cf.order[0]
    joint = joint_graph(v.capture.graph, v.wrt, v.diff_outputs)
    g, _ = run_pipeline(joint, verify=True)
    assert sum(n.prim.name == "tanh" for n in g.nodes) == 1
    keys = [(n.prim.name, tuple(i.id for i in n.inputs), n.params) for n in g.nodes]
    assert len(keys) == len(set(keys))


# -- dce ----------------------------------------------------------------------------------
def test_dce_drops_unused_nodes_and_constants():
    b = Builder()
    x = b.input((3,))
    b.exp(b.mul(x, b.const(3.0)))
    g = run_pass(dce, b.graph(b.neg(x)))
    assert text(g) == lines("%1:f64[3] = neg %0", "return %1")


# -- simplify: every rule, bit for bit on NaN, inf and -0.0 ---------------------------------
def m(b):
    return b.input((4, 3))


def col(b):
    return b.input((12, 1))


SIMPLIFY_CASES = {
    # name: (build(builder, x, y) -> output, prims expected after simplify + dce); x, y: f64[12]
    "stop_gradient": (lambda b, x, y: b.stop_gradient(x), []),
    "cast to same dtype": (lambda b, x, y: b.cast(x, dtype="float64"), []),
    "x * 1": (lambda b, x, y: b.mul(x, b.const(1.0)), []),
    "1 * x": (lambda b, x, y: b.mul(b.const(1.0), x), []),
    "x * broadcast ones": (lambda b, x, y: b.mul(x, b.broadcast_to(b.const(1.0), shape=(12,))), []),
    "x * const ones": (lambda b, x, y: b.mul(x, b.const(np.ones(12))), []),
    "x / 1": (lambda b, x, y: b.div(x, b.const(1.0)), []),
    "x * ones broadcasts x": (lambda b, x, y: b.mul(b.input((3,)), b.const(np.ones((4, 3)))), ["broadcast_to"]),
    "x + -0.0": (lambda b, x, y: b.add(x, b.const(-0.0)), []),
    "-0.0 + x": (lambda b, x, y: b.add(b.const(-0.0), x), []),
    "x - 0.0": (lambda b, x, y: b.sub(x, b.const(0.0)), []),
    "x + 0.0 kept (x may be -0.0)": (lambda b, x, y: b.add(x, b.const(0.0)), ["add"]),
    "x - -0.0 kept (x may be -0.0)": (lambda b, x, y: b.sub(x, b.const(-0.0)), ["sub"]),
    "exp(x) + 0.0": (lambda b, x, y: b.add(b.exp(x), b.const(0.0)), ["exp"]),
    "abs(x) - -0.0": (lambda b, x, y: b.sub(b.abs(x), b.const(-0.0)), ["abs"]),
    "x*x + 0.0": (lambda b, x, y: b.add(b.mul(x, x), b.const(0.0)), ["mul"]),
    "int x + 0": (lambda b, x, y: b.add(b.input((12,), np.int64), b.const(0, np.int64)), []),
    "--x": (lambda b, x, y: b.neg(b.neg(x)), []),
    "x ** 1": (lambda b, x, y: b.pow_scalar(x, exponent=1), []),
    "x ** 2": (lambda b, x, y: b.pow_scalar(x, exponent=2), ["mul"]),
    "x ** 2.0": (lambda b, x, y: b.pow_scalar(x, exponent=2.0), ["mul"]),
    "where(c, x, x)": (lambda b, x, y: b.where(b.gt(x, b.const(0.0)), x, x), []),
    "x * -1": (lambda b, x, y: b.mul(x, b.const(-1.0)), ["neg"]),
    "x / -1": (lambda b, x, y: b.div(x, b.const(-1.0)), ["neg"]),
    "-0.0 - x": (lambda b, x, y: b.sub(b.const(-0.0), x), ["neg"]),
    "0.0 - x kept": (lambda b, x, y: b.sub(b.const(0.0), x), ["sub"]),
    "int 0 - x": (lambda b, x, y: b.sub(b.const(0, np.int64), b.input((12,), np.int64)), ["neg"]),
    "x + -y": (lambda b, x, y: b.add(x, b.neg(y)), ["sub"]),
    "-x + y": (lambda b, x, y: b.add(b.neg(x), y), ["sub"]),
    "x - -y": (lambda b, x, y: b.sub(x, b.neg(y)), ["add"]),
    "-x * -y": (lambda b, x, y: b.mul(b.neg(x), b.neg(y)), ["mul"]),
    "reshape to same shape": (lambda b, x, y: b.reshape(x, shape=(12,)), []),
    "reshape of reshape": (lambda b, x, y: b.reshape(b.reshape(x, shape=(3, 4)), shape=(2, 6)), ["reshape"]),
    "reshape back": (lambda b, x, y: b.reshape(b.reshape(x, shape=(3, 4)), shape=(12,)), []),
    "reshape of keepdims sum": (lambda b, x, y: b.reshape(b.sum(m(b), axes=(1,), keepdims=True), shape=(4,)),
                                ["sum"]),
    "transpose twice": (lambda b, x, y: b.transpose(b.transpose(m(b), perm=(1, 0)), perm=(1, 0)), []),
    "transposes compose": (lambda b, x, y: b.transpose(b.transpose(b.reshape(x, shape=(2, 3, 2)),
                                                             perm=(1, 0, 2)), perm=(0, 2, 1)),
                           ["reshape", "transpose"]),
    "identity transpose": (lambda b, x, y: b.transpose(m(b), perm=(0, 1)), []),
    "broadcast_to same shape": (lambda b, x, y: b.broadcast_to(x, shape=(12,)), []),
    "broadcast of broadcast": (lambda b, x, y: b.broadcast_to(b.broadcast_to(b.input((3,)), shape=(4, 3)),
                                                        shape=(2, 4, 3)), ["broadcast_to"]),
    "broadcast of leading-1 reshape": (lambda b, x, y: b.broadcast_to(b.reshape(b.input(()), shape=(1, 1)),
                                                                shape=(4, 3)), ["broadcast_to"]),
    "op absorbs broadcast": (lambda b, x, y: b.mul(b.broadcast_to(b.input((3,)), shape=(4, 3)), m(b)), ["mul"]),
    "sum over size-1 axis": (lambda b, x, y: b.sum(col(b), axes=(1,), keepdims=False), ["reshape", "add"]),
    "sum over size-1 axis keepdims": (lambda b, x, y: b.sum(col(b), axes=(1,), keepdims=True), ["add"]),
    "max over size-1 axis": (lambda b, x, y: b.max(col(b), axes=(1,), keepdims=False), ["reshape"]),
    "sum of exp over size-1 axis": (lambda b, x, y: b.sum(b.exp(col(b)), axes=(1,), keepdims=False),
                                    ["exp", "reshape"]),
    # not identities: left alone
    "x * 0 kept": (lambda b, x, y: b.mul(x, b.const(0.0)), ["mul"]),
    "x - x kept": (lambda b, x, y: b.sub(x, x), ["sub"]),
    "int x * 1.0 kept (promotes)": (lambda b, x, y: b.mul(b.input((12,), np.int32), b.const(1.0)), ["mul"]),
    "f32 x * f64 1 kept (promotes)": (lambda b, x, y: b.mul(b.input((12,), F32), b.const(1.0)), ["mul"]),
    "x ** 0.5 -> sqrt (NumPy computes it as sqrt)": (lambda b, x, y: b.pow_scalar(x, exponent=0.5), ["sqrt"]),
}


def _special_args(graph):
    rng = np.random.default_rng(0)
    args = []
    for i, v in enumerate(graph.inputs):
        values = np.roll(SPECIAL, i)
        if v.dtype.kind == "f":
            with np.errstate(over="ignore"):
                data = np.resize(values, v.size).astype(v.dtype)
        else:
            data = rng.integers(-5, 5, v.size).astype(v.dtype)
        args.append(data.reshape(v.shape))
    return args


@pytest.mark.parametrize("name", list(SIMPLIFY_CASES))
def test_simplify_rule_is_exact_on_special_values(name):
    build, expected = SIMPLIFY_CASES[name]
    b = Builder()
    g = b.graph(build(b, b.input((12,)), b.input((12,))))
    s = run_pass(dce, run_pass(simplify, g))
    assert [n.prim.name for n in s.nodes] == expected, str(s)
    args = _special_args(g)
    with np.errstate(all="ignore"):
        ref, got = interpret(g, args), interpret(s, args)
    assert bits_equal(ref[0], got[0]), (ref, got)


def test_simplify_prints_the_expected_graph():
    b = Builder()
    x, y = b.input((3,)), b.input((4, 3))
    z = b.mul(b.broadcast_to(b.reshape(x, shape=(1, 3)), shape=(4, 3)), b.stop_gradient(y))
    w = b.add(b.pow_scalar(z, exponent=2), b.neg(b.mul(y, b.const(1.0))))
    g = run_pass(dce, run_pass(simplify, b.graph(w)))
    assert text(g) == lines("%2:f64[4,3] = mul %0 %1", "%3:f64[4,3] = mul %2 %2",
                            "%4:f64[4,3] = sub %3 %1", "return %4", inputs="%0:f64[3], %1:f64[4,3]")


def test_simplify_keeps_sources():
    g = ta.compile(lambda x: ta.exp(x) ** 2, backend="interpret")
    g(np.ones(3))
    out = run_pass(simplify, g.order[0].capture.graph)
    assert all(n.source is not None and "test_passes.py" in str(n.source) for n in out.nodes)


# -- the pipeline against no passes, on joint forward+backward graphs -----------------------

@pytest.mark.parametrize("name", list(PROGRAMS))
def test_pipeline_matches_no_passes_on_joint_graphs(name):
    fn, args, argnums = PROGRAMS[name]
    joint, inputs = joint_of(fn, args, argnums)
    graph = joint
    for pass_name in PIPELINE:  # verify after every pass
        graph = run_pass(PASSES[pass_name], graph)
    assert len(graph.nodes) < len(joint.nodes)
    close(interpret(joint, inputs), interpret(graph, inputs))


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_compiled_value_and_grad_matches_with_passes_off(name):
    fn, args, argnums = PROGRAMS[name]
    results = []
    for passes in (None, []):
        cf = ta.compile(ta.value_and_grad(fn, argnums=argnums), backend="interpret", passes=passes)
        cf(*args)
        value, grads = cf(*args)  # the second call runs the compiled graph
        results.append([value.numpy()] + [g.numpy() for g in grads])
    close(results[1], results[0])


def test_compile_options_choose_passes():
    fn, args, _ = PROGRAMS["w1"]
    sizes = {}
    for key, options in {"all": {}, "none": {"passes": []}, "no simplify": {"disable": ["simplify"]},
                         "fold+dce": {"passes": ["fold", "dce"]}}.items():
        g = compiled_graph(ta.value_and_grad(fn), *args, **options)
        sizes[key] = len(g.nodes)
    assert sizes["all"] < sizes["no simplify"] < sizes["none"]
    assert sizes["fold+dce"] <= sizes["none"]


def test_passes_keep_source_locations():
    fn, args, argnums = PROGRAMS["layernorm"]
    joint, _ = joint_of(fn, args, argnums)
    graph, _ = run_pipeline(joint)
    assert all(n.source is not None and "pass_helpers.py" in str(n.source) for n in graph.nodes)


def test_pipeline_records_every_pass():
    fn, args, argnums = PROGRAMS["w1"]
    joint, _ = joint_of(fn, args, argnums)
    out, records = run_pipeline(joint, verify=True)
    assert [r.name for r in records] == list(PIPELINE)
    assert records[-1].nodes_after == len(out.nodes) < records[0].nodes_before


# -- property: random programs, passes on vs off ------------------------------------------------
UNARY = [ta.exp, ta.tanh, ta.sigmoid, ta.relu, ta.abs, lambda t: -t, lambda t: t * 1.0,
         lambda t: t + 0.0, lambda t: t - (-0.0), lambda t: t ** 2, lambda t: t ** 1,
         lambda t: ta.sqrt(ta.abs(t)), lambda t: t.reshape(t.shape).T.T,
         lambda t: ta.softmax(t, axis=-1), lambda t: t - t.max(axis=-1, keepdims=True),
         lambda t: t.sum(axis=-1, keepdims=True) * t, lambda t: t.mean(axis=0) + t,
         lambda t: (t @ t.T) @ t, lambda t: t[:, :1] * t, lambda t: ta.log_softmax(t, axis=-1),
         lambda t: t.max(axis=0, keepdims=True) - t, lambda t: ta.stop_gradient(t) * t]
BINARY = [lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b, ta.maximum,
          lambda a, b: a * -1.0 + b, lambda a, b: ta.where(a > b, a, b), lambda a, b: a + (-b)]


@st.composite
def programs(draw):
    steps = draw(st.lists(st.tuples(st.booleans(), st.integers(0, 100), st.integers(0, 100)),
                          min_size=1, max_size=8))
    special = draw(st.lists(st.sampled_from([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 30.0]),
                            max_size=3))

    def fn(x, y):
        pool = [x, y]
        for binary, i, j in steps:
            if binary:
                pool.append(BINARY[i % len(BINARY)](pool[j % len(pool)], pool[-1]))
            else:
                pool.append(UNARY[i % len(UNARY)](pool[j % len(pool)]))
        return (pool[-1] * pool[-2]).sum()

    y_shape = draw(st.sampled_from([(3, 4), (1, 4), (3, 1)]))
    rng = np.random.default_rng(len(steps))
    x, y = rng.normal(size=(3, 4)), rng.normal(size=y_shape)
    x.flat[:len(special)] = special
    return fn, x, y


@settings(max_examples=30, deadline=None)
@given(programs())
def test_random_programs_give_the_same_results_with_passes_on_and_off(program):
    fn, x, y = program
    results = []
    for passes in (None, []):
        cf = ta.compile(ta.value_and_grad(fn, argnums=(0, 1)), backend="interpret", passes=passes)
        with np.errstate(all="ignore"):
            cf(x, y)
            value, grads = cf(x, y)
        results.append([value.numpy()] + [g.numpy() for g in grads])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=0, equal_nan=True)
    cf_graph = ta.compile(ta.value_and_grad(fn, argnums=(0, 1)), backend="interpret")
    with np.errstate(all="ignore"):
        cf_graph(x, y)
        graph = cf_graph.order[0].forward_graph
        schedule = plan_fusion(graph)
        check_schedule(schedule)
        check_memory_plan(plan_memory(schedule))
        for a, b in zip(interpret(graph, [x, y]), run_schedule(schedule, [x, y])):
            np.testing.assert_array_equal(a, b)


def test_a_copying_reshape_read_twice_is_not_composed_into_a_second_copy():
    """reshape(transpose(x)) copies; a later reshape of it read beside it would copy the same
    elements again if composed with it (an attention output read as (B, T, E) and (B*T, E))."""
    for shared in (True, False):
        b = Builder()
        rows = b.reshape(b.transpose(b.input((2, 3, 4)), perm=(1, 0, 2)), shape=(3, 8))
        flat = b.reshape(rows, shape=(24,))
        g = run_pass(dce, run_pass(simplify, b.graph(flat, rows) if shared else b.graph(flat)))
        if shared:
            assert [n.prim.name for n in g.nodes] == ["transpose", "reshape", "reshape"]
            assert g.nodes[2].inputs[0] is g.nodes[1].out
        else:  # read once: composed
            assert [n.prim.name for n in g.nodes] == ["transpose", "reshape"]
