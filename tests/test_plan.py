"""Fusion and memory planning: kernel boundaries and their reasons, epilogues,
recomputation, and memory plans that reuse dead buffers without sharing live ones."""
import itertools

import numpy as np
import pytest

import tracead as ta
from tracead import nn
from tracead.ir import interpret
from tracead.passes import run_pipeline
from tracead.passes.simplify import simplify
from tracead.plan import plan_fusion, plan_memory, single_node_schedule
from pass_helpers import (PROGRAMS, Builder, check_memory_plan, check_schedule, compiled_graph,
                          joint_of, layernorm, run_schedule, softmax_ce, w1)



# -- fusion -----------------------------------------------------------------------------------
def test_w1_value_and_grad_fuses_into_at_most_two_kernels():
    x = np.random.default_rng(0).normal(size=1000).astype(np.float32)
    g = compiled_graph(ta.value_and_grad(w1), x)
    schedule = plan_fusion(g)
    check_schedule(schedule)
    assert len(schedule.kernels) <= 2
    assert [k.kind for k in schedule.kernels] == ["reduce"]
    for ref, got in zip(interpret(g, [x]), run_schedule(schedule, [x])):
        np.testing.assert_array_equal(got, ref)


def test_w1_at_benchmark_size_folds_the_seed_away():
    x = np.zeros(4_000_000, np.float32)
    g = compiled_graph(ta.value_and_grad(w1), x)
    assert all(v.size == 1 for v in g.constant_vars())
    assert len(plan_fusion(g).kernels) == 1


def test_softmax_cross_entropy_forward_backward_is_a_few_rowwise_kernels():
    rng = np.random.default_rng(0)
    x, labels = rng.normal(size=(64, 10)), rng.integers(0, 10, 64)
    g = compiled_graph(ta.value_and_grad(softmax_ce), x, labels)
    schedule = plan_fusion(g)
    check_schedule(schedule)
    kinds = [k.kind for k in schedule.kernels]
    assert kinds.count("rowwise") >= 1 and len(kinds) <= 6
    rowwise = [k for k in schedule.kernels if k.kind == "rowwise"]
    assert sum(len(k.nodes) for k in rowwise) >= 8  # max, exp, sums, log, and the backward
    for ref, got in zip(interpret(g, [x, labels]), run_schedule(schedule, [x, labels])):
        np.testing.assert_array_equal(got, ref)


def test_layernorm_forward_backward_is_one_rowwise_kernel_plus_column_sums():
    rng = np.random.default_rng(0)
    args = [rng.normal(size=(32, 16)), rng.normal(size=16), rng.normal(size=16)]
    g = compiled_graph(ta.value_and_grad(layernorm, argnums=(0, 1, 2)), *args)
    schedule = plan_fusion(g)
    check_schedule(schedule)
    assert [k.kind for k in schedule.kernels].count("rowwise") == 1
    assert len(schedule.kernels) <= 4
    assert any("not row-wise" in k.reason for k in schedule.kernels)


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_fused_and_unfused_schedules_run_like_the_graph(name):
    fn, args, argnums = PROGRAMS[name]
    joint, inputs = joint_of(fn, args, argnums)
    graph, _ = run_pipeline(joint)
    ref = interpret(graph, inputs)
    for schedule in (plan_fusion(graph), plan_fusion(graph, enabled=False), single_node_schedule(graph)):
        check_schedule(schedule)
        for a, b in zip(ref, run_schedule(schedule, inputs)):
            np.testing.assert_array_equal(b, a)


def test_matmul_takes_its_elementwise_epilogue():
    b = Builder()
    x, w, bias = b.input((8, 4)), b.input((4, 3)), b.input((3,))
    y = b.relu(b.add(b.matmul(x, w), bias))
    schedule = plan_fusion(b.graph(y))
    check_schedule(schedule)
    assert [k.describe() for k in schedule.kernels] == ["kernel 0 [matmul] matmul add relu"]


def test_fusion_never_forms_a_cycle():
    # exp(x) + transpose(exp(x)): the add can't join exp's kernel, the transpose sits between.
    b = Builder()
    e = b.exp(b.input((3, 3)))
    y = b.add(e, b.transpose(e, perm=(1, 0)))
    schedule = plan_fusion(b.graph(y))
    check_schedule(schedule)
    assert [k.describe() for k in schedule.kernels] == [
        "kernel 0 [elementwise] exp", "kernel 1 [opaque] transpose", "kernel 2 [elementwise] add"]
    assert "cycle" in schedule.kernels[0].reason


def test_reduction_results_feed_later_kernels_and_reasons_say_why():
    b = Builder()
    x = b.input((4, 5))
    s = b.sum(b.exp(x), axes=(0,), keepdims=True)  # over the batch: not row-wise
    y = b.div(b.exp(x), s)
    schedule = plan_fusion(b.graph(y))
    check_schedule(schedule)
    assert [k.kind for k in schedule.kernels] == ["reduce", "elementwise"]
    assert "not row-wise" in schedule.kernels[0].reason
    assert "graph output" in schedule.kernels[1].reason


def test_cheap_broadcast_values_fuse_but_costly_ones_are_materialised():
    b = Builder()
    x, r = b.input((4, 5)), b.input((4, 1))
    cheap = b.mul(x, b.add(r, b.const(1.0)))
    costly = b.mul(x, b.exp(r))
    s = plan_fusion(b.graph(cheap, costly))
    check_schedule(s)
    assert [k.describe() for k in s.kernels] == ["kernel 0 [elementwise] exp",
                                                "kernel 1 [elementwise] add mul mul"]


def test_recomputation_follows_the_rows_cost():
    """One cost per op (`Prim.cost`): a divide on a row vector is not recomputed per element
    (the old fusion table called it cheap, the parallel threshold 8); floor and isnan are
    (they were missing from the old table)."""
    b = Builder()
    x, r = b.input((4, 5)), b.input((4, 1))
    divided = b.mul(x, b.div(r, b.const(3.0)))
    floored = b.mul(x, b.floor(r))
    masked = b.where(b.isnan(r), x, x)
    s = plan_fusion(b.graph(divided, floored, masked))
    check_schedule(s)
    assert [k.describe() for k in s.kernels] == ["kernel 0 [elementwise] div",
                                                "kernel 1 [elementwise] mul floor mul isnan where"]
    args = [np.arange(20.0).reshape(4, 5), np.array([[1.5], [-2.5], [np.nan], [7.0]])]
    for ref, got in zip(interpret(s.graph, args), run_schedule(s, args)):
        np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("op", ["relu", "exp2", "cosh", "softplus", "erfc", "acosh"])
def test_plus_zero_after_a_never_negative_op_is_dropped(op):
    """x + 0.0 is x when x can't be -0.0 (`Prim.never_negative`); ops the old list missed."""
    b = Builder()
    x = b.input((3,))
    y = getattr(b, op)(x)
    g = simplify(b.graph(b.add(y, b.const(0.0))))
    assert [n.prim.name for n in g.nodes] == [op]
    args = [np.array([-0.0, 0.0, 2.0])]
    ref = interpret(b.graph(b.add(y, b.const(0.0))), args)[0]
    np.testing.assert_array_equal(np.signbit(interpret(g, args)[0]), np.signbit(ref))


def test_fill_sees_through_every_movement_op():
    """x * transpose(ones) is x: a transposed uniform constant is uniform (simplify's fill)."""
    b = Builder()
    x = b.input((3, 2))
    ones = b.transpose(b.broadcast_to(b.const(1.0), shape=(2, 3)), perm=(1, 0))
    g = simplify(b.graph(b.mul(x, ones)))
    assert g.outputs[0].id == x.id


# -- memory planning ----------------------------------------------------------------------------
def mlp_step_graph(batch=1024, sizes=(784, 512, 256, 10)):
    rng = np.random.default_rng(0)
    params = []
    for a, b in itertools.pairwise(sizes):
        params += [(rng.normal(size=(a, b)) * 0.05).astype(np.float32), np.zeros(b, np.float32)]
    x = rng.normal(size=(batch, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], batch)

    def loss(w1_, b1, w2, b2, w3, b3, x, y):
        h = ta.relu(x @ w1_ + b1)
        h = ta.relu(h @ w2 + b2)
        return nn.cross_entropy(h @ w3 + b3, y)

    def step(x, y, *params):
        value, grads = ta.value_and_grad(loss, argnums=tuple(range(6)))(*params, x, y)
        return (value,) + tuple(p - 0.1 * g for p, g in zip(params, grads))

    return compiled_graph(step, x, y, *params)


def test_memory_plan_of_an_mlp_training_step_halves_the_naive_peak():
    graph = mlp_step_graph()
    schedule = plan_fusion(graph)
    check_schedule(schedule)
    plan = plan_memory(schedule)
    check_memory_plan(plan)
    assert plan.peak_bytes_live <= plan.peak_bytes_planned <= plan.peak_bytes_naive // 2
    assert "peak planned" in str(plan) and "buf0" in str(plan)
    kinds = [k.kind for k in schedule.kernels]
    assert kinds.count("matmul") == 8  # 3 forward, 5 backward (x needs no gradient)


def test_memory_plan_reuses_dead_buffers_on_an_unfused_chain():
    b = Builder()
    x = b.input((1000,))
    y = b.exp(b.neg(b.exp(b.neg(b.exp(x)))))
    plan = plan_memory(plan_fusion(b.graph(y), enabled=False))
    check_memory_plan(plan)
    assert plan.peak_bytes_naive == 5 * 8000
    assert plan.peak_bytes_planned == 3 * 8000  # two temporaries ping-pong, plus the output
    assert str(plan).splitlines()[4:] == [
        "  buf0   temp   f64        8,000 B  %1 k0-k1, %3 k2-k3",
        "  buf1   temp   f64        8,000 B  %2 k1-k2, %4 k3-k4",
        "  buf2   output f64        8,000 B  %5 k4-end"]


def test_memory_plan_never_shares_graph_inputs_outputs_or_constants():
    b = Builder()
    x = b.input((100,))
    a = b.exp(x)
    c = b.neg(a)
    d = b.exp(b.mul(c, b.const(np.arange(100.0))))
    plan = plan_memory(plan_fusion(b.graph(a, d), enabled=False))
    check_memory_plan(plan)
    assert x.id not in plan.assignment
    assert all(len(plan.buffers[plan.assignment[v.id]].vars) == 1 for v in (a, d))
