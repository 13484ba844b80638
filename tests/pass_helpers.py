"""Shared by the pass and plan tests: hand-built graphs (Builder), small joint
forward+backward programs, and the contracts every schedule and memory plan must keep."""
import itertools

import numpy as np

import tracead as ta
from tracead import nn
from tracead.ir import Graph, Node, VarFactory, freeze_params, interpret, verify
from tracead.ops import PRIMS
from tracead.plan.fuse_kinds import is_pointwise
from tracead.plan.memory import written
from tracead.trace.backward import joint_graph

F64, F32 = np.dtype(np.float64), np.dtype(np.float32)


class Builder:
    """Hand-built graphs: inputs, constants and primitive nodes, typed by the shape rules."""

    def __init__(self) -> None:
        self.vars = VarFactory()
        self.inputs, self.nodes, self.constants = [], [], {}

    def input(self, shape, dtype=F64):
        v = self.vars.new(shape, dtype)
        self.inputs.append(v)
        return v

    def const(self, value, dtype=F64):
        value = np.asarray(value, dtype=dtype)
        v = self.vars.new(value.shape, value.dtype)
        self.constants[v.id] = value
        return v

    def __getattr__(self, name):
        prim = PRIMS[name]

        def op(*inputs, **params):
            aval = prim.shape_rule(*inputs, **params)
            out = self.vars.new(aval.shape, aval.dtype)
            self.nodes.append(Node(prim, tuple(inputs), freeze_params(params), out))
            return out
        return op

    def graph(self, *outputs) -> Graph:
        g = Graph(tuple(self.inputs), tuple(self.nodes), tuple(outputs), dict(self.constants))
        verify(g)
        return g




# -- small programs whose joint forward+backward graphs the tests compile -------------------
def w1(x):
    return (ta.tanh(x) * ta.sigmoid(x) + 0.5 * x * x * ta.exp(-x * x)).sum()


def softmax_ce(logits, labels):
    return nn.cross_entropy(logits, labels)


def layernorm(x, g, b):
    mu = x.mean(axis=-1, keepdims=True)
    c = x - mu
    var = (c * c).mean(axis=-1, keepdims=True)
    return ((c / ta.sqrt(var + 1e-5)) * g + b).sum()


def mlp_loss(w1_, b1, w2, b2, x, y):
    h = ta.relu(x @ w1_ + b1)
    return nn.cross_entropy(h @ w2 + b2, y)


def _programs():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(6, 5))
    return {
        "w1": (w1, [rng.normal(size=50)], (0,)),
        "softmax_ce": (softmax_ce, [x, rng.integers(0, 5, 6)], (0,)),
        "layernorm": (layernorm, [x, rng.normal(size=5), rng.normal(size=5)], (0, 1, 2)),
        "mlp": (mlp_loss, [rng.normal(size=(5, 7)) * 0.5, rng.normal(size=7), rng.normal(size=(7, 3)),
                           rng.normal(size=3), x, rng.integers(0, 3, 6)], (0, 1, 2, 3)),
    }


PROGRAMS = _programs()


def joint_of(fn, args, argnums):
    """The joint forward+backward graph of fn (unoptimised) and its input arrays."""
    cf = ta.compile(fn, backend="interpret")
    tensors = [ta.tensor(a, requires_grad=i in argnums) for i, a in enumerate(args)]
    cf(*tensors)
    v = cf.order[0]
    joint = joint_graph(v.capture.graph, v.wrt, v.diff_outputs)
    seeds = [np.ones(var.shape, var.dtype) * 0.75 for var in joint.inputs[len(args):]]
    return joint, list(args) + seeds


def close(ref, got):
    for a, b in zip(ref, got):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=0)



# -- schedule and memory-plan contracts ---------------------------------------------------
def check_schedule(schedule) -> None:
    """The Kernel/Schedule contract (schedule.py), and running it kernel by kernel gives
    the graph's results."""
    graph = schedule.graph
    ids = [n.out.id for k in schedule.kernels for n in k.nodes]
    assert sorted(ids) == sorted(n.out.id for n in graph.nodes)  # a partition of the nodes
    available = {v.id for v in graph.inputs} | set(graph.constants)
    for i, k in enumerate(schedule.kernels):
        assert k.index == i and k.reason
        assert all(v.id in available for v in k.inputs), f"kernel {i} reads a later value"
        inside = set()
        for n in k.nodes:  # topological inside the kernel, reads only inputs and itself
            assert all(v.id in inside or v.id in {u.id for u in k.inputs} for v in n.inputs)
            inside.add(n.out.id)
        assert {v.id for v in k.outputs} <= inside
        available |= {v.id for v in k.outputs}
        _check_kind(k)
    assert all(v.id in available for v in graph.outputs)


def _check_kind(k) -> None:
    names = [n.prim.name for n in k.nodes]
    if k.kind == "opaque":
        assert len(k.nodes) == 1
    elif k.kind == "elementwise":
        assert all(is_pointwise(n) for n in k.nodes)
        assert all(np.broadcast_shapes(n.out.shape, k.shape) == k.shape for n in k.nodes)
        assert all(v.shape == k.shape for v in k.outputs)
    elif k.kind == "reduce":
        assert k.nodes[-1].prim.kind == "reduce" and k.nodes[-1].inputs[0].shape == k.shape
        assert all(is_pointwise(n) for n in k.nodes[:-1])
        assert all(v.shape == k.shape for v in k.outputs if v is not k.nodes[-1].out)
    elif k.kind == "rowwise":
        row = k.shape[:-1] + (1,)
        for n in k.nodes:
            assert n.out.shape in (k.shape, row)
            if n.prim.kind == "reduce":
                assert n.kwargs["axes"] == (len(k.shape) - 1,) and n.kwargs["keepdims"]
            else:
                assert is_pointwise(n)
    else:
        assert k.kind == "matmul" and names[0] == "matmul" and "matmul" not in names[1:]
        assert all(n.prim.kind == "elementwise" and n.out.shape == k.shape for n in k.nodes[1:])


def run_schedule(schedule, args):
    """Execute kernel by kernel, each seeing only its declared inputs."""
    graph = schedule.graph
    env = dict(graph.constants)
    env.update((v.id, a) for v, a in zip(graph.inputs, args))
    for k in schedule.kernels:
        local = {v.id: env[v.id] for v in k.inputs}
        sub = Graph(tuple(k.inputs), k.nodes, k.outputs, {})
        for v, value in zip(k.outputs, interpret(sub, [local[v.id] for v in k.inputs])):
            env[v.id] = value
    return [env[v.id] for v in graph.outputs]


def compiled_graph(fn, *args, which="forward_graph", **options):
    cf = ta.compile(fn, backend="interpret", **options)
    cf(*args)
    return getattr(cf.order[0], which)



def check_memory_plan(plan) -> None:
    schedule = plan.schedule
    graph_outputs = {v.id for v in schedule.graph.outputs}
    values = {v.id: v for k in schedule.kernels for v in written(k)}
    assert set(plan.assignment) | set(plan.views) == set(values)
    for product, host in plan.in_place.items():  # BLAS's result, then the epilogue's over it
        assert plan.assignment[product] == plan.assignment[host]
        assert plan.live[product] == (plan.live[host][0],) * 2
        assert values[product].nbytes == values[host].nbytes
    for buf in plan.buffers:
        spans = sorted(plan.live[vid] for vid in buf.vars if vid not in plan.in_place)
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert end < start, f"buffer {buf.index} holds two live values"
        for vid in buf.vars:
            assert values[vid].dtype == buf.dtype and values[vid].nbytes <= buf.nbytes
            assert plan.assignment[vid] == buf.index
        if any(vid in graph_outputs for vid in buf.vars):
            assert buf.output and len([v for v in buf.vars if v not in plan.in_place]) == 1
    for vid, base in plan.views.items():
        assert base not in plan.live or plan.live[base][1] >= plan.live[vid][1]
