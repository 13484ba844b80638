"""Common-subexpression elimination.

Two nodes compute the same value when they apply the same primitive, with
the same params, to the same inputs (after earlier merges): the later one is
dropped and its users read the earlier one. Every primitive is pure, so this
is always safe. Constants are merged by value first (same dtype, shape and
bytes, so -0.0 and 0.0, or two NaN payloads, stay apart): three `const 1.`
become one, and the nodes that read them then merge too.

Commutative primitives (`Prim.commutative`: add, mul, eq, ne, bit for bit in
IEEE arithmetic) have their inputs compared as a set. (`maximum`/`minimum`
are not: NumPy's maximum(-0.0, 0.0) and maximum(0.0, -0.0) differ in sign.)
"""
from __future__ import annotations

import numpy as np

from ..ir.graph import Graph, Node, Var

# Constants larger than this are merged only when they are the same array.
MAX_HASHED_ELEMENTS = 1 << 16


def _const_key(value: np.ndarray):
    if value.size > MAX_HASHED_ELEMENTS:
        return ("id", id(value))
    return ("value", value.dtype.str, value.shape, np.ascontiguousarray(value).tobytes())


def node_key(node: Node, inputs: tuple[Var, ...]) -> tuple:
    ids = tuple(v.id for v in inputs)
    if node.prim.commutative:
        ids = tuple(sorted(ids))
    # repr keeps 1 apart from 1.0 and -0.0 from 0.0 in params, and NaN equal to NaN;
    # the output type is part of the key for the same reason.
    return (node.prim.name, ids, repr(node.params), node.out.shape, node.out.dtype.str)


def cse(graph: Graph) -> Graph:
    env: dict[int, Var] = {}  # var id -> the var that replaces it
    constants: dict[int, np.ndarray] = {}
    by_value: dict[tuple, Var] = {}
    for var in graph.constant_vars():
        first = by_value.setdefault(_const_key(graph.constants[var.id]), var)
        if first is var:
            constants[var.id] = graph.constants[var.id]
        else:
            env[var.id] = first
    seen: dict[tuple, Var] = {}
    nodes = []
    for node in graph.nodes:
        inputs = tuple(env.get(v.id, v) for v in node.inputs)
        key = node_key(node, inputs)
        if key in seen:
            env[node.out.id] = seen[key]
            continue
        seen[key] = node.out
        if inputs != node.inputs:
            node = Node(node.prim, inputs, node.params, node.out, node.source)
        nodes.append(node)
    outputs = tuple(env.get(v.id, v) for v in graph.outputs)
    return graph.replace(nodes=tuple(nodes), outputs=outputs, constants=constants)
