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
from ..ops.movement import broadcast_to_p
from ..prim import Aval

MAX_ELEMENTS = 4096
# Don't spend more than this many input elements evaluating one node.
MAX_WORK = 1 << 24


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


def _pointwise_users(graph: Graph) -> dict[int, bool]:
    """Var id -> True when only pointwise nodes (or the outputs) read it. Small uniform
    values read by a gather, a matmul, ... stay materialised constants (a broadcast_to
    would be one more kernel); outputs get a fresh broadcast each call."""
    users = {v.id: True for v in graph.outputs}
    for n in graph.nodes:
        for v in n.inputs:
            users[v.id] = users.get(v.id, True) and n.prim.pointwise
    return users


class _Folding:
    """One fold: the values known so far, and the graph being rebuilt from the kept nodes."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self.small: dict[int, np.ndarray] = dict(graph.constants)  # concrete values
        # var id -> 0-d value, for values of one repeated element
        self.uniform: dict[int, np.ndarray] = {
            vid: value.reshape(()) for vid, value in graph.constants.items() if value.size == 1}
        self.kept_constants: dict[int, np.ndarray] = {}
        self.factory = VarFactory.after(graph)
        self.sources = {n.out.id: n.source for n in graph.nodes}
        self.emitted: set[int] = set()
        self.nodes: list[Node] = []
        self.pointwise_users = _pointwise_users(graph)

    def known(self, v: Var) -> bool:
        return v.id in self.small or v.id in self.uniform

    def materialise(self, v: Var) -> np.ndarray:
        if v.id in self.small:
            return self.small[v.id]
        return np.broadcast_to(self.uniform[v.id], v.shape)  # a read-only view: no copy

    def emit(self, v: Var) -> None:
        """Make a known value available to a kept node (or as an output)."""
        if v.id in self.emitted or not self.known(v):
            return
        self.emitted.add(v.id)
        as_scalar = v.id in self.uniform and v.size > 1 and (
            v.size > MAX_ELEMENTS or self.pointwise_users[v.id])
        if v.id in self.graph.constants or not as_scalar:
            self.kept_constants[v.id] = self.small[v.id]
            return
        scalar = self.factory.new((), v.dtype)
        self.kept_constants[scalar.id] = np.array(self.uniform[v.id], dtype=v.dtype)
        self.nodes.append(Node(broadcast_to_p, (scalar,), (("shape", v.shape),), v,
                               self.sources.get(v.id)))

    def fold_uniform(self, node: Node) -> bool:
        """A large result of uniform inputs, evaluated on their scalars."""
        scalars = [self.uniform[v.id] for v in node.inputs]
        if node.prim.kind == "movement":  # re-indexes elements: the same scalar
            value = np.array(scalars[0], dtype=node.out.dtype)
        else:
            value = _evaluate(node, scalars, Aval((), node.out.dtype))
        if value is None:
            return False
        self.uniform[node.out.id] = value.reshape(())
        return True

    def fold_small(self, node: Node) -> bool:
        """A result small enough to bake into the graph as a constant."""
        value = _evaluate(node, [self.materialise(v) for v in node.inputs])
        if value is None or value.shape != node.out.shape:
            return False
        self.small[node.out.id] = value
        scalar = _uniform(value)
        if scalar is not None:
            self.uniform[node.out.id] = scalar
        return True

    def visit(self, node: Node) -> None:
        """Fold `node` if it can be, else keep it (after the known values it reads)."""
        out = node.out
        if node.inputs and all(self.known(v) for v in node.inputs):
            if all(v.id in self.uniform for v in node.inputs) and out.size > MAX_ELEMENTS and (
                    node.prim.kind in ("elementwise", "movement")):
                if self.fold_uniform(node):
                    return
            elif out.size <= MAX_ELEMENTS and sum(v.size for v in node.inputs) <= MAX_WORK:
                if self.fold_small(node):
                    return
        for v in node.inputs:
            self.emit(v)
        self.nodes.append(node)


def fold(graph: Graph) -> Graph:
    folding = _Folding(graph)
    for node in graph.nodes:
        folding.visit(node)
    for v in graph.outputs:
        folding.emit(v)
    return graph.replace(nodes=tuple(folding.nodes), constants=folding.kept_constants)
