"""Finding where a compiled graph first goes wrong, for check mode.

Two searches, both against the reference interpreter (`ir/interpret.py`):
  - `first_bad_kernel`: run an executable step by step (the Numba backend's
    kernel schedule, or the interpret backend's nodes) and compare every value
    a step produces with the interpreter's value for the same graph;
  - `first_bad_pass`: rerun the optimisation pipeline one pass at a time and
    compare each rewritten graph's values with the unoptimised graph's.
Both name the first value that differs, the node that computed it and the
user's source line.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir.graph import Graph, Node
from ..ir.printer import format_graph
from ..passes import resolve
from .compare import mismatch


@dataclass(frozen=True)
class Divergence:
    """The first value that differs: where (kernel or pass), which node, both values."""

    stage: str  # "forward kernel 3 [elementwise] exp mul" or "pass simplify"
    node: Node | None
    node_text: str
    got: np.ndarray
    expected: np.ndarray
    detail: str

    def describe(self, got_name: str, expected_name: str) -> str:
        lines = [f"first diverging {self.stage}"]
        if self.node is not None:
            where = f" at {self.node.source}" if self.node.source is not None else ""
            lines.append(f"  node: {self.node_text.strip()}{where}")
        lines.append(f"  {got_name} gives {_short(self.got)}")
        lines.append(f"  {expected_name} gives {_short(self.expected)}")
        lines.append(f"  difference: {self.detail}")
        return "\n".join(lines)


def _short(value) -> str:
    return np.array2string(np.asarray(value), precision=8, threshold=8, edgeitems=2).replace("\n", "")


def interpret_all(graph: Graph, args) -> dict[int, np.ndarray]:
    """Every value of `graph` (by Var id), computed node by node with each prim's impl."""
    env: dict[int, np.ndarray] = dict(graph.constants)
    env.update((var.id, np.asarray(a)) for var, a in zip(graph.inputs, args))
    with np.errstate(all="ignore"):
        for node in graph.nodes:
            env[node.out.id] = node.prim.apply([env[v.id] for v in node.inputs], node.kwargs, node.out)
    return env


def _node_texts(graph: Graph) -> dict[int, str]:
    """node output id -> its line in the graph's printout (names as in explain)."""
    lines = format_graph(graph, sources=False).splitlines()
    body = lines[1 + len(graph.constant_vars()):-2]
    return {node.out.id: text for node, text in zip(graph.nodes, body)}


def kernel_steps(executable, args, label: str = ""):
    """(stage description, nodes, {var id: value}) per step of the executable, in order."""
    schedule, steps = getattr(executable, "schedule", None), getattr(executable, "steps", None)
    if schedule is not None and steps is not None:  # the Numba backend: kernel by kernel
        env = executable._start(args)
        with np.errstate(all="ignore"):
            for kernel, step in zip(schedule.kernels, steps):
                step.run(env)
                values = {}
                for v in kernel.outputs:
                    value = env[executable.slot[v.id]]
                    if value is not None:
                        values[v.id] = np.array(value, copy=True)
                yield f"{label}kernel {kernel.describe()[len('kernel '):]}", kernel.nodes, values
        return
    graph = executable.graph  # the interpret backend (or any graph runner): node by node
    env = interpret_all(graph, args)
    for i, node in enumerate(graph.nodes):
        yield f"{label}node {i} ({node.prim.name})", (node,), {node.out.id: env[node.out.id]}


def first_bad_kernel(executable, args, label: str = "", backend=None) -> Divergence | None:
    """The first value an executable's step computes that the interpreter disagrees with.

    A fused kernel only hands out its outputs; with the `backend` that built it, its
    elementwise nodes are then compiled one per kernel, in order, to find the node
    inside it that diverges first."""
    graph = executable.graph
    reference = interpret_all(graph, args)
    texts = _node_texts(graph)
    for stage, nodes, values in kernel_steps(executable, args, label):
        for node in nodes:  # in the kernel's node order
            vid = node.out.id
            if vid in values:
                detail = mismatch(values[vid], reference[vid])
                if detail is not None:
                    inner = _first_bad_node(backend, graph, nodes, reference) if len(nodes) > 1 else None
                    node, got, detail = inner or (node, values[vid], detail)
                    note = "; compiled node by node, the first wrong node" if inner else ""
                    return Divergence(stage + note, node, texts.get(node.out.id, ""), got,
                                      reference[node.out.id], detail)
    return None


def _first_bad_node(backend, graph: Graph, nodes, reference):
    """(node, value, difference) of the first elementwise node of a fused kernel that
    computes a wrong value when compiled alone, or None."""
    compile_schedule = getattr(backend, "compile_schedule", None)
    if compile_schedule is None:
        return None
    from ..plan.schedule import Kernel, Schedule

    for node in nodes:
        if node.prim.kind != "elementwise":
            continue
        ins = tuple({v.id: v for v in node.inputs if v.id not in graph.constants}.values())
        consts = {v.id: graph.constants[v.id] for v in node.inputs if v.id in graph.constants}
        one = Graph(ins, (node,), (node.out,), consts)
        kernel = Kernel(0, "elementwise", (node,), tuple(node.inputs), (node.out,), node.out.shape, "check")
        try:
            executable = compile_schedule(Schedule(one, (kernel,)), "check")
            with np.errstate(all="ignore"):
                value = executable([reference[v.id] for v in ins])[0]
        except Exception:  # noqa: BLE001 - a node that cannot stand alone is skipped
            continue
        detail = mismatch(value, reference[node.out.id])
        if detail is not None:
            return node, value, detail
    return None


def first_bad_pass(graph: Graph, args, passes=None, disable=()) -> Divergence | None:
    """The first pass whose rewritten graph computes a value the graph before it did not.

    Values are matched by Var id (passes keep the ids of values they keep), so the
    node named is the first one of the rewritten graph whose value changed; when
    no shared value changed, the first graph output that did."""
    before = interpret_all(graph, args)
    for name, run in resolve(passes, disable):
        new = run(graph)
        after = interpret_all(new, args)
        texts = _node_texts(new)
        for node in new.nodes:
            vid = node.out.id
            if vid in before:
                detail = mismatch(after[vid], before[vid])
                if detail is not None:
                    return Divergence(f"pass {name!r}", node, texts[vid], after[vid], before[vid], detail)
        producers = {n.out.id: n for n in new.nodes}
        for k, (old_var, new_var) in enumerate(zip(graph.outputs, new.outputs)):
            detail = mismatch(after[new_var.id], before[old_var.id])
            if detail is not None:
                node = producers.get(new_var.id)
                return Divergence(f"pass {name!r} (graph output {k})", node,
                                  texts.get(new_var.id, ""), after[new_var.id], before[old_var.id], detail)
        graph, before = new, after
    return None
