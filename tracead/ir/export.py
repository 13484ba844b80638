"""Graph exports: a networkx DiGraph and DOT text (nodes coloured by kernel).

`kernel_of` maps a node's output id to a kernel index when a fusion plan is
known; nodes in one kernel share a colour, edges carry the value's type.
networkx is imported when an export is asked for, so `import tracead` stays
light (the readable pictures are in tools/pictures.py).
"""
from __future__ import annotations

from .printer import type_str

_PALETTE = ("#8dd3c7", "#ffffb3", "#bebada", "#fb8072", "#80b1d3", "#fdb462", "#b3de69",
            "#fccde5", "#d9d9d9", "#bc80bd", "#ccebc5", "#ffed6f")


def to_networkx(graph, kernel_of: dict[int, int] | None = None):
    """A networkx DiGraph: one node per input, constant, op node and output."""
    import networkx as nx

    kernel_of = kernel_of or {}
    g = nx.DiGraph()
    for i, v in enumerate(graph.inputs):
        g.add_node(v.id, label=f"input {i}\n{type_str(v)}", kind="input")
    for v in graph.constant_vars():
        g.add_node(v.id, label=f"const\n{type_str(v)}", kind="const")
    for node in graph.nodes:
        g.add_node(node.out.id, label=f"{node.prim.name}\n{type_str(node.out)}", kind=node.prim.kind,
                   prim=node.prim.name, source=str(node.source or ""),
                   kernel=kernel_of.get(node.out.id))
        for v in node.inputs:
            g.add_edge(v.id, node.out.id, label=type_str(v))
    for i, v in enumerate(graph.outputs):
        g.add_node(f"out{i}", label=f"output {i}", kind="output")
        g.add_edge(v.id, f"out{i}", label=type_str(v))
    return g


def to_dot(graph, kernel_of: dict[int, int] | None = None, name: str = "tracead") -> str:
    """Plain DOT text of `graph`, nodes filled with their kernel's colour."""
    g = to_networkx(graph, kernel_of)
    lines = [f'digraph "{name}" {{', "  rankdir=TB;", '  node [shape=box, style="rounded,filled", '
             'fontname="Helvetica", fillcolor="white"];']
    for nid, data in g.nodes(data=True):
        label = data["label"].replace('"', r"\"").replace("\n", r"\n")
        kernel = data.get("kernel")
        colour = _PALETTE[kernel % len(_PALETTE)] if kernel is not None else (
            "#eeeeee" if data["kind"] in ("input", "const", "output") else "white")
        extra = f", tooltip=\"{data.get('source', '')}\"" if data.get("source") else ""
        if kernel is not None:
            label += rf"\nkernel {kernel}"
        lines.append(f'  "{nid}" [label="{label}", fillcolor="{colour}"{extra}];')
    for a, b, data in g.edges(data=True):
        lines.append(f'  "{a}" -> "{b}" [label="{data["label"]}", fontsize=9];')
    lines.append("}")
    return "\n".join(lines)


def schedule_to_networkx(schedule):
    """One node per kernel (coloured by kernel, labelled with its ops), edges
    for the values kernels pass each other: the graph after fusion."""
    import networkx as nx

    g = nx.DiGraph()
    producer: dict[int, object] = {}
    for i, v in enumerate(schedule.graph.inputs):
        g.add_node(f"in{i}", label=f"input {i}\n{type_str(v)}", kind="input")
        producer[v.id] = f"in{i}"
    for k in schedule.kernels:
        ops = " ".join(n.prim.name for n in k.nodes)
        if len(ops) > 28:
            ops = ops[:26] + "…"
        g.add_node(f"k{k.index}", label=f"k{k.index} {k.kind}\n{ops}", kind=k.kind, kernel=k.index)
        for v in k.inputs:
            if v.id in producer:
                g.add_edge(producer[v.id], f"k{k.index}", label=type_str(v))
        for v in k.outputs:
            producer[v.id] = f"k{k.index}"
    for i, v in enumerate(schedule.graph.outputs):
        g.add_node(f"out{i}", label=f"output {i}", kind="output")
        if v.id in producer:
            g.add_edge(producer[v.id], f"out{i}", label=type_str(v))
    return g
