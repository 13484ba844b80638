"""`verify(graph)`: the IR's invariants, checked after every pass in tests.

Every input of a node is defined before it (so the graph is acyclic and in
topological order), each Var is defined once, and each node's output type is
what its primitive's shape rule says.
"""
from __future__ import annotations

from ..errors import TraceadError


class GraphError(TraceadError):
    pass


def verify(graph) -> None:
    defined: dict[int, object] = {}
    for v in graph.inputs:
        if v.id in defined:
            raise GraphError(f"input %{v.id} listed twice")
        defined[v.id] = v
    for cid in graph.constants:
        defined[cid] = True
    for i, node in enumerate(graph.nodes):
        for v in node.inputs:
            if v.id not in defined:
                raise GraphError(f"node {i} ({node.prim.name}) uses %{v.id} before it is defined")
        if node.out.id in defined:
            raise GraphError(f"node {i} ({node.prim.name}) redefines %{node.out.id}")
        aval = node.prim.shape_rule(*node.inputs, **node.kwargs)
        if tuple(aval.shape) != node.out.shape or aval.dtype != node.out.dtype:
            raise GraphError(
                f"node {i} ({node.prim.name}) declares {node.out.dtype}{list(node.out.shape)} but "
                f"its rule gives {aval.dtype}{list(aval.shape)}")
        defined[node.out.id] = node.out
    for v in graph.outputs:
        if v.id not in defined:
            raise GraphError(f"output %{v.id} is not defined")
