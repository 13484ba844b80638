"""Constant folding: nodes whose inputs are all known at compile time become constants.

A value is known when it is a graph constant or the result of a folded node.
Folding runs the primitive's own `impl` (as the interpreter would), casts to
the node's declared dtype, so folded and unfolded graphs give the same bits.

Size cap: a folded result with more than `MAX_ELEMENTS` elements is not baked
into the graph, with one exception: a *uniform* value (every element is the
same scalar, e.g. the backward seed broadcast to a large shape, or
`zeros_like`) is tracked as that scalar and, where a kept node needs it,
re-emitted as `broadcast_to(<0-d const>, shape)`, so a 4M-element array of
ones costs one scalar in the graph. Elementwise ops on uniform values are
evaluated on the scalars; reshape/transpose/broadcast_to of a uniform value
stay uniform. Everything else that would be too large is left unfolded.
"""
from __future__ import annotations

import numpy as np

from ..ir.graph import Graph, Node, Var, VarFactory
from ..ops.prim import PRIMS

MAX_ELEMENTS = 4096
# Don't spend more than this many input elements evaluating one node.
MAX_WORK = 1 << 24
_SHAPE_ONLY = ("reshape", "transpose", "broadcast_to")


def _evaluate(node: Node, args: list[np.ndarray]) -> np.ndarray | None:
    """prim.impl on concrete arrays, as the interpreter does; None if it fails."""
    try:
        with np.errstate(all="ignore"):
            result = np.asarray(node.prim.impl(*args, **node.kwargs))
    except Exception:  # the runtime will raise the same error with the user's context
        return None
    if result.dtype != node.out.dtype:
        result = result.astype(node.out.dtype)
    return result


def fold(graph: Graph) -> Graph:
    small: dict[int, np.ndarray] = dict(graph.constants)  # concrete values
    uniform: dict[int, np.ndarray] = {}  # var id -> 0-d value of a large uniform value
    for vid, value in graph.constants.items():
        if value.size == 1:
            uniform[vid] = value.reshape(())
    kept_constants: dict[int, np.ndarray] = {}
    factory = VarFactory.after(graph)
    sources = {n.out.id: n.source for n in graph.nodes}
    emitted: set[int] = set()
    nodes: list[Node] = []

    def known(v: Var) -> bool:
        return v.id in small or v.id in uniform

    def materialise(v: Var) -> np.ndarray:
        if v.id in small:
            return small[v.id]
        return np.broadcast_to(uniform[v.id], v.shape)  # a read-only view: no copy

    def emit(v: Var) -> None:
        """Make a known value available to a kept node (or as an output)."""
        if v.id in emitted or not known(v):
            return
        emitted.add(v.id)
        if v.id in small:
            kept_constants[v.id] = small[v.id]
            return
        scalar = factory.new((), v.dtype)
        kept_constants[scalar.id] = np.array(uniform[v.id], dtype=v.dtype)
        nodes.append(Node(PRIMS["broadcast_to"], (scalar,), (("shape", v.shape),), v,
                          sources.get(v.id)))

    for node in graph.nodes:
        out = node.out
        if node.inputs and all(known(v) for v in node.inputs):
            is_uniform = all(v.id in uniform for v in node.inputs) and (
                node.prim.kind == "elementwise" or node.prim.name in _SHAPE_ONLY)
            if is_uniform and out.size > MAX_ELEMENTS:
                scalars = [uniform[v.id] for v in node.inputs]
                if node.prim.name in _SHAPE_ONLY:
                    value = np.array(scalars[0], dtype=out.dtype)
                else:
                    value = _evaluate(node, scalars)
                if value is not None:
                    uniform[out.id] = value.reshape(())
                    continue
            elif out.size <= MAX_ELEMENTS and sum(v.size for v in node.inputs) <= MAX_WORK:
                value = _evaluate(node, [materialise(v) for v in node.inputs])
                if value is not None and value.shape == out.shape:
                    small[out.id] = value
                    if value.size == 1:
                        uniform[out.id] = value.reshape(())
                    continue
        for v in node.inputs:
            emit(v)
        nodes.append(node)
    for v in graph.outputs:
        emit(v)
    return graph.replace(nodes=tuple(nodes), constants=kept_constants)
