"""The reference interpreter: runs any graph op by op with each prim's `apply`.

Ground truth for every pass and for the Numba backend (fx `Interpreter`,
`eval_jaxpr`). Values a later node no longer needs are dropped as we go, so
the interpreter's memory follows liveness too.
"""
from __future__ import annotations

import numpy as np


def last_uses(graph) -> dict[int, list[int]]:
    """node index -> ids of values whose last use is that node."""
    last: dict[int, int] = {}
    for i, node in enumerate(graph.nodes):
        for v in node.inputs:
            last[v.id] = i
    keep = {v.id for v in graph.outputs}
    freed: dict[int, list[int]] = {}
    for vid, i in last.items():
        if vid not in keep:
            freed.setdefault(i, []).append(vid)
    return freed


def interpret(graph, args, freed: dict | None = None) -> list[np.ndarray]:
    if len(args) != len(graph.inputs):
        raise ValueError(f"graph takes {len(graph.inputs)} inputs, got {len(args)}")
    env: dict[int, np.ndarray] = dict(graph.constants)
    for var, value in zip(graph.inputs, args):
        env[var.id] = value
    freed = last_uses(graph) if freed is None else freed
    for i, node in enumerate(graph.nodes):
        env[node.out.id] = node.prim.apply([env[v.id] for v in node.inputs], node.kwargs, node.out)
        for vid in freed.get(i, ()):
            if vid not in graph.constants:
                env.pop(vid, None)
    return [env[v.id] for v in graph.outputs]
