"""The tracer and the IR: captured graphs, printing, verification, exports, autodiff."""
import numpy as np
import pytest

import tracead as ta
from tracead.ir import Graph, GraphError, Node, VarFactory, freeze_params, interpret, verify
from tracead.ir.export import to_dot, to_networkx
from tracead.ops import PRIMS
from tracead.trace.backward import joint_graph, partition
from tracead.trace.capture import capture


def traced(fn, *args):
    return capture(fn, args, {}).graph


def test_capture_records_primitives_with_source_lines():
    def f(x):
        y = ta.exp(x) * 2.0
        return y.sum()

    g = traced(f, np.ones((2, 3), np.float32))
    text = str(g)
    assert [n.prim.name for n in g.nodes] == ["exp", "mul", "sum"]
    assert "%2:f32[2,3] = exp %0" in text and "%1:f32[] = const 2." in text
    assert "test_trace.py" in text and "in f" in text
    assert g.constants and all(v.dtype == np.float32 for v in g.constant_vars())
    verify(g)


def test_printer_names_are_stable_across_id_allocation():
    g = traced(lambda x: ta.tanh(x) + 1, np.ones(3))
    shifted = VarFactory(1000)
    mapping = {}

    def remap(v):
        if v.id not in mapping:
            mapping[v.id] = shifted.new(v.shape, v.dtype)
        return mapping[v.id]

    inputs = tuple(remap(v) for v in g.inputs)
    constants = {remap(v).id: g.constants[v.id] for v in g.constant_vars()}
    nodes = tuple(Node(n.prim, tuple(remap(v) for v in n.inputs), n.params, remap(n.out), n.source)
                  for n in g.nodes)
    g2 = Graph(inputs, nodes, tuple(remap(v) for v in g.outputs), constants)
    assert str(g2) == str(g)
    assert g2.fingerprint() == g.fingerprint()


def test_loops_and_python_structures_unroll():
    def f(xs):
        total = xs[0]
        for x in xs[1:]:
            total = total * x
        return {"prod": total}

    g = traced(f, [np.ones(2), np.ones(2), np.ones(2)])
    assert len(g.inputs) == 3 and [n.prim.name for n in g.nodes] == ["mul", "mul"]


def test_verify_catches_broken_graphs():
    f = VarFactory()
    x = f.new((3,), np.float64)
    y = f.new((4,), np.float64)
    bad_shape = Node(PRIMS["exp"], (x,), (), y)
    with pytest.raises(GraphError, match="rule gives"):
        verify(Graph((x,), (bad_shape,), (y,)))
    z = f.new((3,), np.float64)
    use_before_def = Node(PRIMS["exp"], (z,), (), f.new((3,), np.float64))
    with pytest.raises(GraphError, match="before it is defined"):
        verify(Graph((x,), (use_before_def,), (x,)))


def test_interpreter_matches_eager():
    def f(x, w):
        return ta.softmax(x @ w, axis=-1).max(axis=0)

    x, w = np.random.randn(4, 3), np.random.randn(3, 5)
    g = traced(f, x, w)
    np.testing.assert_allclose(interpret(g, [x, w])[0], f(x, w).numpy(), rtol=1e-12)


def test_joint_graph_and_partition_compute_gradients():
    def f(x):
        return (ta.tanh(x) ** 2).sum()

    x = np.random.randn(5)
    g = traced(f, x)
    joint = joint_graph(g, wrt=[0], diff_outputs=[0])
    verify(joint)
    value, grad = interpret(joint, [x, np.array(1.0)])
    np.testing.assert_allclose(grad, ta.grad(f)(x).numpy(), rtol=1e-12)
    fwd, bwd, n_saved = partition(joint, n_primal=1, n_outputs=1)
    verify(fwd)
    verify(bwd)
    outs = interpret(fwd, [x])
    assert len(outs) == 1 + n_saved
    (grad2,) = interpret(bwd, outs[1:] + [np.array(1.0)])
    np.testing.assert_allclose(grad2, grad, rtol=1e-12)
    assert all(n.prim.name != "tanh" for n in bwd.nodes)  # the backward reuses saved tanh


def test_joint_graph_of_a_joint_graph_gives_second_derivatives():
    x = np.array([0.3, -0.7])
    g = traced(lambda x: ta.tanh(x).sum(), x)
    joint = joint_graph(g, [0], [0])
    # d/dx of sum(grad) = sum of second derivatives, elementwise here.
    second = joint_graph(joint.replace(outputs=(joint.outputs[1],)), [0], [0])
    _, d2 = interpret(second, [x, np.array(1.0), np.ones(2)])
    t = np.tanh(x)
    np.testing.assert_allclose(d2, -2 * t * (1 - t * t), rtol=1e-12)


def test_exports_networkx_and_dot():
    g = traced(lambda x: ta.relu(x).sum(), np.ones(4))
    nxg = to_networkx(g)
    assert nxg.number_of_nodes() == len(g.nodes) + len(g.inputs) + len(g.outputs)
    dot = to_dot(g, {n.out.id: 0 for n in g.nodes})
    assert dot.startswith("digraph") and "kernel 0" in dot and "relu" in dot


def test_node_params_are_hashable_and_printed():
    f = VarFactory()
    x = f.new((2, 3), np.float32)
    out = f.new((3,), np.float32)
    node = Node(PRIMS["sum"], (x,), freeze_params({"keepdims": False, "axes": (0,)}), out)
    hash(node.params)
    g = Graph((x,), (node,), (out,))
    assert "= sum %0 axes=(0,) keepdims=False" in str(g)
