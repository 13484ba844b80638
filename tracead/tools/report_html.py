"""`report.to_html(path)`: the whole explain report as one self-contained HTML file.

Sections: summary, per-pass table, graph pictures (inline SVG, kernel level
and node level), one block per kernel with its generated source beside the
user lines it came from, the fusion edges with reason codes (linked to the
kernels), the guards and the memory plan (text and picture). No scripts, no
external files: it opens anywhere and can be attached to a bug report.
"""
from __future__ import annotations

import html

from .explain_text import seconds_text, user_line_text
from .fusion_report import REASONS
from .memory_view import human_bytes

_STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
nav a { margin-right: 1em; }
pre { background: #f6f6f6; padding: .6em; overflow-x: auto; font-size: 12px; }
table { border-collapse: collapse; margin: .5em 0; font-size: 13px; }
td, th { border: 1px solid #ccc; padding: 2px 6px; text-align: left; vertical-align: top; }
.kernel { display: grid; grid-template-columns: 1fr 2fr; gap: 1em; border-top: 1px solid #ddd; }
.picture { overflow: auto; max-height: 80vh; border: 1px solid #eee; }
.picture svg { max-width: 100%; height: auto; }
h3 { margin-bottom: .2em; }
"""

_SECTIONS = (("summary", "Summary"), ("passes", "Passes"), ("graphs", "Graphs"),
             ("kernels", "Kernels"), ("fusion", "Fusion"), ("guards", "Guards"), ("memory", "Memory"))


def _e(text) -> str:
    return html.escape(str(text))


def kernel_anchor(label: str, index: int) -> str:
    return f"{label}-k{index}"


def _table(header, rows) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _passes(report) -> str:
    rows = []
    c = report.captured
    if c.joint_nodes is not None:
        rows.append(["autodiff", len(c.graph.nodes), c.joint_nodes,
                     _e(f"+{c.joint_nodes - len(c.graph.nodes)} backward nodes"), "-"])
    for p in report.parts[0].passes:
        rows.append([_e(p.name), p.nodes_before, p.nodes_after, _e(p.describe()), seconds_text(p.seconds)])
    return _table(["pass", "nodes before", "nodes after", "what changed", "time"], rows)


def _pictures(report) -> str:
    from .pictures import graph_svg

    out = []
    for i, part in enumerate(report.parts):
        out.append(f"<h3>{_e(part.label)}: one box per kernel</h3>"
                   f'<div class="picture">{graph_svg(report, i, kernels=True)}</div>')
        out.append(f"<details><summary>{_e(part.label)}: every node, framed by kernel</summary>"
                   f'<div class="picture">{graph_svg(report, i, kernels=False)}</div></details>')
    return "\n".join(out)


def _kernels(report) -> str:
    out = []
    for part in report.parts:
        for k in part.kernels:
            lines = "".join(f"<li><code>{_e(user_line_text(loc))}</code></li>" for loc in k.user_lines)
            source = k.source or f"# {k.ops}: a NumPy call, no generated code"
            out.append(
                f'<section class="kernel" id="{kernel_anchor(part.label, k.index)}"><div>'
                f"<h3>{_e(part.label)} kernel {k.index} ({_e(k.kind)})</h3>"
                f"<p>{k.nodes} node{'s' if k.nodes != 1 else ''}: <code>{_e(k.ops)}</code><br>reads {human_bytes(k.in_bytes)}, "
                f"writes {human_bytes(k.out_bytes)}, {k.threads} thread{'s' if k.threads != 1 else ''}<br>cache {_e(k.cache_detail)}, "
                f"jit {seconds_text(k.jit_seconds)}<br>ends because: <b>{_e(k.ends)}</b></p>"
                f"<p>from your code:</p><ul>{lines or '<li>(no user line recorded)</li>'}</ul></div>"
                f"<pre>{_e(source)}</pre></section>")
    return "\n".join(out)


def _fusion(report) -> str:
    out = []
    for part in report.parts:
        if part.fusion is None:
            continue
        rows = [[f'<a href="#{kernel_anchor(part.label, e.src)}">k{e.src}</a>',
                 f'<a href="#{kernel_anchor(part.label, e.dst)}">k{e.dst}</a>',
                 f"<code>{_e(e.code)}</code>", _e(e.detail), human_bytes(e.nbytes)]
                for e in part.fusion.edges]
        out.append(f"<h3>{_e(part.label)}</h3>" + _table(["from", "to", "code", "planner says", "bytes"], rows))
    codes = sorted({e.code for p in report.parts if p.fusion for e in p.fusion.edges})
    out.append("<h3>reason codes</h3>" + _table(["code", "meaning"],
                                                [[f"<code>{_e(c)}</code>", _e(REASONS[c])] for c in codes]))
    return "\n".join(out)


def _memory(report) -> str:
    out = []
    for part in report.parts:
        if part.memory is not None:
            out.append(f"<h3>{_e(part.label)}</h3><div class=\"picture\">{part.memory.to_svg()}</div>"
                       f"<pre>{_e(str(part.memory))}</pre>")
    return "\n".join(out)


def render_html(report) -> str:
    """The report as one HTML document (text)."""
    nav = " ".join(f'<a href="#{sid}">{_e(title)}</a>' for sid, title in _SECTIONS)
    guards = "".join(f"<li><code>{_e(g)}</code></li>" for g in report.guards)
    body = {
        "summary": f"<pre>{_e(report.summary())}</pre>",
        "passes": _passes(report) + f"<details><summary>every graph as text</summary>"
                                    f"<pre>{_e(report.graphs())}</pre></details>",
        "graphs": _pictures(report),
        "kernels": _kernels(report),
        "fusion": _fusion(report),
        "guards": f"<ul>{guards}</ul>",
        "memory": _memory(report),
    }
    sections = "\n".join(f'<section id="{sid}"><h2>{_e(title)}</h2>\n{body[sid]}\n</section>'
                         for sid, title in _SECTIONS)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>tracead explain: {_e(report.name)}</title><style>{_STYLE}</style></head>\n"
            f"<body><h1>tracead explain: {_e(report.name)}</h1><nav>{nav}</nav>\n{sections}\n</body></html>\n")


def write_html(report, path: str) -> str:
    with open(path, "w", encoding="utf-8") as f:
        f.write(render_html(report))
    return path
