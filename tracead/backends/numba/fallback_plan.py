"""FALLBACK fusion planner, used only while `tracead.plan.fuse` is missing.

The real planner (`plan/fuse.py: plan_fusion`) owns fusion decisions. Until
it exists the Numba backend still needs a Schedule, so this one does the
least that is useful: maximal runs of consecutive fusible elementwise nodes
with one output shape become "elementwise" kernels; every other node is an
"opaque" kernel run with its primitive's NumPy impl.
"""
from __future__ import annotations

from ...plan.schedule import Kernel, Schedule


def plan_fallback(graph) -> Schedule:
    runs: list[list] = []
    for node in graph.nodes:
        fusible = node.prim.kind == "elementwise" and node.prim.template is not None
        if fusible and runs and runs[-1][0].prim.kind == "elementwise" and \
                runs[-1][0].prim.template is not None and runs[-1][0].out.shape == node.out.shape:
            runs[-1].append(node)
        else:
            runs.append([node])
    last_use: dict[int, int] = {}
    for i, run in enumerate(runs):
        for node in run:
            for v in node.inputs:
                last_use[v.id] = i
    graph_outputs = {v.id for v in graph.outputs}
    kernels = []
    for i, run in enumerate(runs):
        produced = {n.out.id for n in run}
        inputs: dict[int, object] = {}
        for node in run:
            for v in node.inputs:
                if v.id not in produced:
                    inputs.setdefault(v.id, v)
        outputs = tuple(n.out for n in run if n.out.id in graph_outputs or last_use.get(n.out.id, -1) > i)
        fused = run[0].prim.kind == "elementwise" and run[0].prim.template is not None
        kind = "elementwise" if fused else "opaque"
        reason = "fallback planner: elementwise run" if fused else "fallback planner: not fusible"
        kernels.append(Kernel(i, kind, tuple(run), tuple(inputs.values()), outputs, run[-1].out.shape, reason))
    return Schedule(graph, tuple(kernels))
