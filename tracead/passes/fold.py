"""Constant folding: nodes whose inputs are all known at compile time become constants.

A value is known when it is a graph constant or the result of a folded node.
Folding runs the primitive's own `apply` (as the interpreter does: `impl`, cast to
the node's declared dtype), so folded and unfolded graphs give the same bits.

A *uniform* folded value (every element the same, e.g. the backward seed
broadcast to a shape, or `zeros_like`) is tracked as that scalar and, where
elementwise nodes or the outputs need it (or it is large), emitted as
`broadcast_to(<0-d const>, shape)`: a 4M-element array of ones costs one
scalar in the graph, simplify lets elementwise users broadcast the scalar
themselves, and an output is a fresh array on every call. Elementwise ops on large
uniform values are evaluated on the scalars; reshape/transpose/broadcast_to of
a uniform value stay uniform. Size cap: any other folded result with more than
`MAX_ELEMENTS` elements is not baked into the graph; its node stays.
"""
from __future__ import annotations

import numpy as np

from ..errors import TraceadError
from ..ir.graph import Graph, Node, Var, VarFactory
from ..ops.prim import PRIMS
from ..prim import Aval

MAX_ELEMENTS = 4096
# Don't spend more than this many input elements evaluating one node.
MAX_WORK = 1 << 24
_SHAPE_ONLY = ("reshape", "transpose", "broadcast_to")


def _evaluate(node: Node, args: list[np.ndarray], out=None) -> np.ndarray | None:
    """prim.apply on concrete arrays, as the interpreter does; None if it fails.

    `out`: the expected result when it is not the node's own (an elementwise node
    evaluated on the 0-d values of uniform inputs)."""
    try:
        with np.errstate(all="ignore"):
            result = node.prim.apply(args, node.kwargs, node.out if out is None else out)
    except (TraceadError, ArithmeticError, LookupError, TypeError, ValueError):
        return None  # not folded: the runtime raises the same error with the user's context
    # a copy: impls may return views of a constant (reshape), and constants own their data
    return np.array(result, copy=True)


def _uniform(value: np.ndarray) -> np.ndarray | None:
    """The 0-d value if every element of `value` has the same bits, else None."""
    flat = np.ascontiguousarray(value).reshape(-1)
    if flat.size == 0:
        return None
    raw = flat.view(np.uint8).reshape(flat.size, -1)
    return flat[0].reshape(()).copy() if (raw == raw[0]).all() else None


def fold(graph: Graph) -> Graph:
    small: dict[int, np.ndarray] = dict(graph.constants)  # concrete values
    uniform: dict[int, np.ndarray] = {}  # var id -> 0-d value, for values of one repeated element
    for vid, value in graph.constants.items():
        if value.size == 1:
            uniform[vid] = value.reshape(())
    kept_constants: dict[int, np.ndarray] = {}
    factory = VarFactory.after(graph)
    sources = {n.out.id: n.source for n in graph.nodes}
    emitted: set[int] = set()
    nodes: list[Node] = []
    # Small uniform values read by a gather, a matmul, ... stay materialised constants
    # (a broadcast_to would be one more kernel); outputs get a fresh broadcast each call.
    pointwise_users = {v.id: True for v in graph.outputs}
    for n in graph.nodes:
        for v in n.inputs:
            pointwise_users[v.id] = pointwise_users.get(v.id, True) and (
                n.prim.kind == "elementwise" or n.prim.name == "broadcast_to")

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
        as_scalar = v.id in uniform and v.size > 1 and (v.size > MAX_ELEMENTS or pointwise_users[v.id])
        if v.id in graph.constants or not as_scalar:
            kept_constants[v.id] = small[v.id]
            return
        scalar = factory.new((), v.dtype)
        kept_constants[scalar.id] = np.array(uniform[v.id], dtype=v.dtype)
        nodes.append(Node(PRIMS["broadcast_to"], (scalar,), (("shape", v.shape),), v,
                          sources.get(v.id)))

    for node in graph.nodes:
        out = node.out
        if node.inputs and all(known(v) for v in node.inputs):
            if all(v.id in uniform for v in node.inputs) and out.size > MAX_ELEMENTS and (
                    node.prim.kind == "elementwise" or node.prim.name in _SHAPE_ONLY):
                scalars = [uniform[v.id] for v in node.inputs]
                if node.prim.name in _SHAPE_ONLY:
                    value = np.array(scalars[0], dtype=out.dtype)
                else:
                    value = _evaluate(node, scalars, Aval((), out.dtype))
                if value is not None:
                    uniform[out.id] = value.reshape(())
                    continue
            elif out.size <= MAX_ELEMENTS and sum(v.size for v in node.inputs) <= MAX_WORK:
                value = _evaluate(node, [materialise(v) for v in node.inputs])
                if value is not None and value.shape == out.shape:
                    small[out.id] = value
                    scalar = _uniform(value)
                    if scalar is not None:
                        uniform[out.id] = scalar
                    continue
        for v in node.inputs:
            emit(v)
        nodes.append(node)
    for v in graph.outputs:
        emit(v)
    return graph.replace(nodes=tuple(nodes), constants=kept_constants)
