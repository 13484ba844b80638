"""Dead-code elimination: drop nodes whose values reach no output.

Guards and effects are graph outputs, so the values they need are kept.
Constants no node reads any more are dropped too.
"""
from __future__ import annotations

from ..ir.graph import Graph


def dce(graph: Graph) -> Graph:
    needed = {v.id for v in graph.outputs}
    kept = []
    for node in reversed(graph.nodes):
        if node.out.id in needed:
            kept.append(node)
            needed.update(v.id for v in node.inputs)
    constants = {k: v for k, v in graph.constants.items() if k in needed}
    return graph.replace(nodes=tuple(reversed(kept)), constants=constants)
