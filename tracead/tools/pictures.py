"""Readable graph pictures: layers along the data flow, coloured, with a legend.

Two pictures of one compiled graph:
  kernel level (default)  one box per kernel, coloured by kernel kind, its ops
                          and the user lines it came from; edges carry the
                          value's type and why the two kernels are not one
                          (the fusion reason code);
  node level              every node, grouped in a coloured frame per kernel,
                          labelled with its op, type and user line.
Graphviz `dot` lays them out when it is installed (the Debian package
`graphviz` and the `graphviz` Python package, the `viz` extra); otherwise
`layered_svg` puts networkx's topological generations in rows, which needs
nothing but networkx. Nothing here is imported by `import tracead`.
"""
from __future__ import annotations

import html
import shutil

from ..ir.printer import type_str

KIND_COLOURS = {"elementwise": "#8dd3c7", "reduce": "#fdb462", "rowwise": "#b3de69",
                "matmul": "#80b1d3", "opaque": "#d9d9d9"}
KERNEL_PALETTE = ("#8dd3c7", "#ffffb3", "#bebada", "#fb8072", "#80b1d3", "#fdb462", "#b3de69",
                  "#fccde5", "#bc80bd", "#ccebc5", "#ffed6f", "#d9d9d9")
IO_COLOUR = "#f5f5f5"


def _q(text: str) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', r"\"").replace("\n", r"\n") + '"'


def _lines(kernel_info, limit: int = 2) -> str:
    locs = [f"{loc.file.rsplit('/', 1)[-1]}:{loc.line}" for loc in kernel_info.user_lines]
    text = ", ".join(locs[:limit]) + (" …" if len(locs) > limit else "")
    return text


def _ops(text: str, width: int = 30) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def io_roles(report, which: int) -> tuple[list[str], list[str]]:
    """What each input and output of graph `which` is, in words (for labels)."""
    c, part = report.captured, report.parts[which]
    n_in, n_out = len(part.graph.inputs), len(part.graph.outputs)
    if part.label == "backward":
        n_seeds = n_in - c.n_saved
        return ([f"saved {i}" for i in range(c.n_saved)] + [f"d output {i}" for i in range(n_seeds)],
                [f"gradient {i}" for i in range(n_out)])
    ins = [f"argument {i}" for i in range(c.n_args)] + [f"read from outside {i}" for i in range(n_in - c.n_args)]
    saved = c.n_saved if len(report.parts) > 1 else 0
    n_guards = len(c.value_guards)
    outs = []
    for i in range(n_out):
        if i < c.n_outputs:
            outs.append(f"output {i}")
        elif i < c.n_outputs + n_guards:
            outs.append("value Python looked at")
        elif i >= n_out - saved:
            outs.append("saved for backward")
        else:
            outs.append("write replayed (effect)")
    return ins, outs


def _inputs_outputs(report, which: int):
    """(id, label) of graph inputs, (id, label, var) of outputs, and the producer of every value."""
    part = report.parts[which]
    in_roles, out_roles = io_roles(report, which)
    producer: dict[int, str] = {}
    inputs = []
    for i, v in enumerate(part.graph.inputs):
        producer[v.id] = f"in{i}"
        inputs.append((f"in{i}", f"{in_roles[i]}\n{type_str(v)}"))
    outputs = [(f"out{i}", out_roles[i], v) for i, v in enumerate(part.graph.outputs)]
    return inputs, outputs, producer


def kernel_dot(report, which: int = 0) -> str:
    part = report.parts[which]
    inputs, outputs, producer = _inputs_outputs(report, which)
    lines = [f"digraph {_q(f'{report.name} {part.label} kernels')} {{", "  rankdir=TB; newrank=true;",
             '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=8, color="#777777"];']
    for nid, label in inputs:
        lines.append(f"  {nid} [label={_q(label)}, shape=ellipse, fillcolor={_q(IO_COLOUR)}];")
    info = {k.index: k for k in part.kernels}
    for k in part.schedule.kernels:
        ki = info.get(k.index)
        where = _lines(ki) if ki else ""
        label = f"k{k.index} {k.kind}\n{_ops(' '.join(n.prim.name for n in k.nodes))}" + (
            f"\n{where}" if where else "")
        lines.append(f"  k{k.index} [label={_q(label)}, fillcolor={_q(KIND_COLOURS[k.kind])}, "
                     f"tooltip={_q(ki.ends if ki else '')}];")
        for v in k.outputs:
            producer[v.id] = f"k{k.index}"
    codes = {(e.src, e.dst): e.code for e in part.fusion.edges} if part.fusion else {}
    seen = set()
    for k in part.schedule.kernels:
        for v in k.inputs:
            src = producer.get(v.id)
            if src is None or (src, k.index) in seen:
                continue
            seen.add((src, k.index))
            code = codes.get((int(src[1:]), k.index), "") if src.startswith("k") else ""
            lines.append(f"  {src} -> k{k.index} [label={_q(type_str(v) + (chr(10) + code if code else ''))}];")
    for nid, role, v in outputs:
        lines.append(f"  {nid} [label={_q(role)}, shape=ellipse, fillcolor={_q(IO_COLOUR)}];")
        if v.id in producer:
            lines.append(f"  {producer[v.id]} -> {nid};")
    lines.append(_legend(KIND_COLOURS.items(), "kernel kinds (edge labels: value type, why not fused)"))
    lines.append("}")
    return "\n".join(lines)


def node_dot(report, which: int = 0) -> str:
    part = report.parts[which]
    inputs, outputs, producer = _inputs_outputs(report, which)
    lines = [f"digraph {_q(f'{report.name} {part.label}')} {{", "  rankdir=TB; compound=true; fontname=\"Helvetica\";",
             '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=9];',
             '  edge [color="#777777"];']
    for nid, label in inputs:
        lines.append(f"  {nid} [label={_q(label)}, shape=ellipse, fillcolor={_q(IO_COLOUR)}];")
    for v in part.graph.constant_vars():
        producer[v.id] = f"c{v.id}"
        lines.append(f"  c{v.id} [label={_q('const ' + type_str(v))}, shape=plaintext, style=\"\"];")
    legend = []
    for k in part.schedule.kernels:
        colour = KERNEL_PALETTE[k.index % len(KERNEL_PALETTE)]
        legend.append((f"k{k.index} {k.kind}", colour))
        lines += [f"  subgraph cluster_k{k.index} {{",
                  f"    label={_q(f'kernel {k.index} ({k.kind})')}; style=\"rounded,filled\"; "
                  f"fillcolor={_q(colour + '55')}; color={_q(colour)};"]
        for n in k.nodes:
            where = f"\n{n.source.file.rsplit('/', 1)[-1]}:{n.source.line}" if n.source else ""
            label = f"{n.prim.name} {type_str(n.out)}{where}"
            lines.append(f"    v{n.out.id} [label={_q(label)}, fillcolor={_q(colour)}];")
            producer[n.out.id] = f"v{n.out.id}"
        lines.append("  }")
    for n in part.graph.nodes:
        for v in n.inputs:
            if v.id in producer:
                lines.append(f"  {producer[v.id]} -> v{n.out.id};")
    for nid, role, v in outputs:
        lines.append(f"  {nid} [label={_q(role)}, shape=ellipse, fillcolor={_q(IO_COLOUR)}];")
        if v.id in producer:
            lines.append(f"  {producer[v.id]} -> {nid};")
    lines.append(_legend(legend[:24], "kernels (frame colour)"))
    lines.append("}")
    return "\n".join(lines)


def _legend(items, title: str) -> str:
    rows = "".join(f'<TR><TD BGCOLOR="{c[:7]}">&nbsp;&nbsp;&nbsp;</TD><TD ALIGN="LEFT">'
                   f'{html.escape(str(name))}</TD></TR>' for name, c in items)
    return (f'  legend [shape=plaintext, style="", label=<<TABLE BORDER="0" CELLBORDER="1" '
            f'CELLSPACING="0"><TR><TD COLSPAN="2"><B>{html.escape(title)}</B></TD></TR>{rows}</TABLE>>];')


def graph_dot(report, which: int = 0, kernels: bool = False) -> str:
    """DOT text: `kernels=True` one box per kernel, else every node framed by its kernel."""
    return kernel_dot(report, which) if kernels else node_dot(report, which)


def have_dot() -> bool:
    """Is Graphviz usable (the `dot` program and the `graphviz` Python package)?"""
    if shutil.which("dot") is None:
        return False
    try:
        import graphviz  # noqa: F401
    except ImportError:
        return False
    return True


def _render(dot_text: str, fmt: str) -> bytes:
    import graphviz

    return graphviz.Source(dot_text).pipe(format=fmt)


def graph_svg(report, which: int = 0, kernels: bool = True) -> str:
    """SVG text of one graph (Graphviz when available, else `layered_svg`)."""
    if have_dot():
        svg = _render(graph_dot(report, which, kernels), "svg").decode()
        svg = svg[svg.index("<svg"):]  # drop the XML prolog and doctype: inlined in HTML
        # Graphviz names elements graph0, node1, ...: make them unique per picture,
        # so several pictures can share one HTML page.
        prefix = f"{report.parts[which].label}-{'kernels' if kernels else 'nodes'}-"
        return svg.replace(' id="', f' id="{prefix}')
    return layered_svg(report, which, kernels)


def graph_png(report, path: str, which: int = 0, kernels: bool = True) -> str:
    """Write a PNG with Graphviz, or with matplotlib over the layered layout."""
    if have_dot():
        with open(path, "wb") as f:
            f.write(_render(graph_dot(report, which, kernels), "png"))
        return path
    return _matplotlib_png(report, path, which, kernels)


def _picture_graph(report, which: int, kernels: bool):
    """networkx DiGraph with `label` and `colour` per node, for the fallbacks."""
    from ..ir.export import schedule_to_networkx, to_networkx

    part = report.parts[which]
    if kernels:
        g = schedule_to_networkx(part.schedule)
        info = {k.index: k for k in part.kernels}
        for n, data in g.nodes(data=True):
            k = data.get("kernel")
            data["colour"] = KIND_COLOURS.get(data.get("kind"), IO_COLOUR) if k is not None else IO_COLOUR
            if k is not None and k in info and _lines(info[k]):
                data["label"] += "\n" + _lines(info[k])
        legend = list(KIND_COLOURS.items())
    else:
        g = to_networkx(part.graph, part.schedule.kernel_of())
        for n, data in g.nodes(data=True):
            k = data.get("kernel")
            data["colour"] = KERNEL_PALETTE[k % len(KERNEL_PALETTE)] if k is not None else IO_COLOUR
            if data.get("source"):
                data["label"] += "\n" + data["source"].split(" in ")[0]
        legend = [(f"k{k.index} {k.kind}", KERNEL_PALETTE[k.index % len(KERNEL_PALETTE)])
                  for k in part.schedule.kernels][:24]
    return g, legend


def _layers(g) -> dict:
    import networkx as nx

    return {n: depth for depth, gen in enumerate(nx.topological_generations(g)) for n in gen}


def layered_svg(report, which: int = 0, kernels: bool = True) -> str:
    """The fallback picture: one row per topological generation, a legend below."""
    g, legend = _picture_graph(report, which, kernels)
    layer = _layers(g)
    rows: dict[int, list] = {}
    for n in g.nodes:
        rows.setdefault(layer[n], []).append(n)
    box_w, box_h, gap_x, gap_y = 170, 48, 20, 40
    width = max(len(r) for r in rows.values()) * (box_w + gap_x) + gap_x if rows else 200
    pos = {}
    for depth, members in rows.items():
        offset = (width - len(members) * (box_w + gap_x)) / 2
        for i, n in enumerate(members):
            pos[n] = (offset + i * (box_w + gap_x) + gap_x / 2, 20 + depth * (box_h + gap_y))
    legend_top = 20 + len(rows) * (box_h + gap_y)
    height = legend_top + 20 + 16 * len(legend)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
           'font-family="sans-serif" font-size="10">']
    for a, b in g.edges:
        (xa, ya), (xb, yb) = pos[a], pos[b]
        out.append(f'<line x1="{xa + box_w / 2:.0f}" y1="{ya + box_h:.0f}" x2="{xb + box_w / 2:.0f}" '
                   f'y2="{yb:.0f}" stroke="#888"/>')
    for n, data in g.nodes(data=True):
        x, y = pos[n]
        out.append(f'<rect x="{x:.0f}" y="{y:.0f}" width="{box_w}" height="{box_h}" rx="6" '
                   f'fill="{data["colour"][:7]}" stroke="#555"/>')
        for i, text in enumerate(str(data["label"]).split("\n")[:3]):
            out.append(f'<text x="{x + 6:.0f}" y="{y + 14 + 13 * i:.0f}">{html.escape(text[:30])}</text>')
    out.append(f'<text x="10" y="{legend_top + 8}" font-weight="bold">legend</text>')
    for i, (name, colour) in enumerate(legend):
        y = legend_top + 14 + 16 * i
        out.append(f'<rect x="10" y="{y}" width="12" height="12" fill="{colour[:7]}" stroke="#555"/>'
                   f'<text x="28" y="{y + 10}">{html.escape(name)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def _matplotlib_png(report, path: str, which: int, kernels: bool) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.patches import Patch
    except ImportError as exc:
        raise ImportError("PNG pictures need Graphviz (apt-get install graphviz; pip install "
                          "graphviz) or matplotlib: pip install 'tracead[viz]'") from exc
    import networkx as nx

    g, legend = _picture_graph(report, which, kernels)
    nx.set_node_attributes(g, _layers(g), "layer")
    pos = {n: (x, -y) for n, (x, y) in
           nx.multipartite_layout(g, subset_key="layer", align="horizontal").items()}
    size = max(6.0, min(30.0, 0.8 * (max(_layers(g).values(), default=0) + 1)))
    fig, ax = plt.subplots(figsize=(size, size * 0.9))
    nx.draw_networkx(g, pos, ax=ax, node_color=[d["colour"][:7] for _, d in g.nodes(data=True)],
                     node_shape="s", node_size=1400, font_size=6, edge_color="#999999",
                     labels={n: d["label"] for n, d in g.nodes(data=True)})
    ax.legend(handles=[Patch(color=c[:7], label=name) for name, c in legend], loc="upper left",
              fontsize=6, bbox_to_anchor=(1.0, 1.0))
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
