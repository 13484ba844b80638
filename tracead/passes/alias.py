"""Outputs share memory only where the traced eager run's did (pipeline stage: after the passes).

Exact rewrites can turn a computed output into an existing array: simplify
makes `x * 1.0` the input `x`, cse makes `(x * 2, x * 2)` one value returned
twice. Eager mode returns fresh arrays there, so the compiled result would
change when the caller later writes into its argument (or into the other
output), and a state write `p.assign_(x * 1.0)` would tie `p` to the
caller's array. `keep_eager_aliasing(original, optimised)` compares, output
by output, what each may share memory with before and after the passes, and
where the optimised graph shares more, appends a copy: a `cast` to the
value's own dtype, which every backend computes into a new array (the impl
is `astype`, which copies; the Numba backend writes a fused loop's output).

What an output may share memory with is its *root*: the value itself, or,
through ops whose impl may return a view or its input (`Prim.shares_input`:
reshape, transpose, basic getitem, stop_gradient), the root of their input. A view that
eager returns too (`x.reshape(...)`, `x.T`, `x` itself) stays a view. Roots
that are constants are always copied: a caller editing a returned constant
would change every later call.
"""
from __future__ import annotations

from ..ir.graph import Graph, Node, VarFactory
from ..ops.elementwise import cast_p


def _may_view(node: Node) -> bool:
    return node.prim.may_share_input(node.kwargs)


def roots(graph: Graph) -> list[int]:
    """Per output, the id of the value whose memory it may share."""
    producer = {n.out.id: n for n in graph.nodes}

    def root(vid: int) -> int:
        node = producer.get(vid)
        while node is not None and _may_view(node):
            vid = node.inputs[0].id
            node = producer.get(vid)
        return vid

    return [root(v.id) for v in graph.outputs]


def keep_eager_aliasing(original: Graph, optimised: Graph) -> Graph:
    """`optimised` with a copy of each output that shares memory with an input, a
    constant or another output where the same output of `original` did not."""
    if len(original.outputs) != len(optimised.outputs):
        return optimised  # a pass changed the output list: nothing to compare against
    inputs = {v.id: i for i, v in enumerate(optimised.inputs)}
    before_inputs = {v.id: i for i, v in enumerate(original.inputs)}
    before = roots(original)

    def outside(rid: int, which: dict) -> object:  # inputs compare by position
        return ("input", which[rid]) if rid in which else rid

    seen: dict[object, int] = {}  # root -> first output position using it
    copy: list[int] = []
    for k, rid in enumerate(roots(optimised)):
        now = outside(rid, inputs)
        was = outside(before[k], before_inputs)
        if rid in optimised.constants:
            copy.append(k)
            continue
        if isinstance(now, tuple) and now != was:
            copy.append(k)
            continue
        first = seen.setdefault(now, k)
        if first != k and before[first] != before[k]:
            copy.append(k)
    if not copy:
        return optimised
    factory = VarFactory.after(optimised)
    nodes, outputs = list(optimised.nodes), list(optimised.outputs)
    for k in copy:
        var = outputs[k]
        out = factory.new(var.shape, var.dtype)
        nodes.append(Node(cast_p, (var,), (("dtype", var.dtype.name),), out))
        outputs[k] = out
    return optimised.replace(nodes=tuple(nodes), outputs=tuple(outputs))
