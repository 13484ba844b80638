"""Graph-to-graph autodiff, and the forward/backward partition of the result.

`joint_graph` replays a graph on abstract tensors (shapes and dtypes only)
under the ordinary tape, then runs the ordinary backward pass from seed
inputs, still under the tracer: the gradient nodes come from the same `vjp`
rules as eager mode and land in the same IR, so the passes optimise and fuse
forward and backward together. Differentiating a graph that already contains
gradient nodes is just another replay, so higher orders work.

`partition` splits a joint graph AOTAutograd-style: nodes that depend on the
seeds form the backward graph; everything else is forward, and the forward
values the backward reads are its extra "saved" outputs.
"""
from __future__ import annotations

from .. import lax, state
from ..autograd import run_backward
from ..dispatch import bind
from ..ir.graph import Graph
from ..tensor import Tensor, as_tensor
from .tracer import Tracer


def _abstract_input(tracer: Tracer, var, position: int, requires_grad: bool) -> Tensor:
    t = Tensor._from_op(None, var.aval)
    tracer.add_input(t, position)
    t.requires_grad = requires_grad
    return t


def replay(graph: Graph, inputs: list[Tensor]) -> list[Tensor]:
    """Run `graph` through `bind` (eager, traced or abstract, whatever is active)."""
    env = {var.id: t for var, t in zip(graph.inputs, inputs)}
    for vid, value in graph.constants.items():
        env[vid] = as_tensor(value)
    tracer = state.current_tracer()
    for node in graph.nodes:
        if tracer is not None:
            tracer.source_hint = node.source
        env[node.out.id] = bind(node.prim, *(env[v.id] for v in node.inputs), **node.kwargs)
    if tracer is not None:
        tracer.source_hint = None
    return [env[v.id] for v in graph.outputs]


def joint_graph(graph: Graph, wrt: list[int], diff_outputs: list[int]) -> Graph:
    """Inputs: graph inputs + one seed per diff output.

    Outputs: graph outputs + d(seeds . outputs)/d input for each `wrt`.
    """
    tracer = Tracer(concrete=False)
    wrt_set = set(wrt)
    with state.tracing(tracer), state.enable_grad():
        ins = [_abstract_input(tracer, v, i, i in wrt_set) for i, v in enumerate(graph.inputs)]
        outs = replay(graph, ins)
        seeds = [_abstract_input(tracer, graph.outputs[k], len(ins) + j, False)
                 for j, k in enumerate(diff_outputs)]
        roots = [(outs[k], s) for k, s in zip(diff_outputs, seeds) if outs[k].requires_grad]
        cts, _ = run_backward([r for r, _ in roots], [s for _, s in roots], create_graph=False)
        grads = []
        with state.no_grad():
            for i in wrt:
                g = cts.get(id(ins[i]))
                grads.append(g if g is not None else lax.zeros_like(ins[i]))
        out_vars = [tracer.var_of(t) for t in outs + grads]
    assert not tracer.free, "joint_graph: replay read a tensor from outside the graph"
    return tracer.graph(out_vars)


def partition(joint: Graph, n_primal: int, n_outputs: int) -> tuple[Graph, Graph, int]:
    """Split a joint graph into forward and backward graphs.

    `n_primal` leading inputs are the forward's; the rest are seeds.
    `n_outputs` leading outputs are the forward's; the rest are gradients.
    Returns (forward, backward, n_saved): forward outputs are its own outputs
    followed by the saved values; backward inputs are saved values + seeds.
    """
    seeds = {v.id for v in joint.inputs[n_primal:]}
    tangent = set(seeds)
    fwd_nodes, bwd_nodes = [], []
    for node in joint.nodes:
        if any(v.id in tangent for v in node.inputs):
            tangent.add(node.out.id)
            bwd_nodes.append(node)
        else:
            fwd_nodes.append(node)
    grad_outputs = joint.outputs[n_outputs:]
    saved, seen = [], set()

    def save(var) -> None:
        if var.id not in tangent and var.id not in joint.constants and var.id not in seen:
            seen.add(var.id)
            saved.append(var)

    for node in bwd_nodes:
        for v in node.inputs:
            save(v)
    for v in grad_outputs:
        save(v)
    # The forward keeps only what its outputs and the saved values need.
    needed = {v.id for v in joint.outputs[:n_outputs]} | {v.id for v in saved}
    kept = []
    for node in reversed(fwd_nodes):
        if node.out.id in needed:
            kept.append(node)
            needed.update(v.id for v in node.inputs)
    fwd_nodes = kept[::-1]
    forward = Graph(joint.inputs[:n_primal], tuple(fwd_nodes),
                    tuple(joint.outputs[:n_outputs]) + tuple(saved), joint.constants)
    backward = Graph(tuple(saved) + joint.inputs[n_primal:], tuple(bwd_nodes),
                     tuple(grad_outputs), joint.constants)
    return _drop_unused_constants(forward), _drop_unused_constants(backward), len(saved)


def _drop_unused_constants(graph: Graph) -> Graph:
    used = {v.id for v in graph.constant_vars()}
    return graph.replace(constants={k: v for k, v in graph.constants.items() if k in used})
