"""Text views of an ExplainReport (tools/explain.py): the one-screen summary
and the long forms (graphs, kernel table, kernel sources)."""
from __future__ import annotations

from collections import Counter

from ..ir.printer import type_str
from ..units import seconds_text
from .fusion_report import REASONS
from .memory_view import human_bytes

MAX_KERNEL_ROWS = 12  # more kernels than this: the summary groups them by kind
MAX_GUARD_ROWS = 4
MAX_CONCRETE_ROWS = 4


def _captured(report) -> list[str]:
    c = report.captured
    g = c.graph
    args = ", ".join(type_str(v) for v in g.inputs[:c.n_args][:4]) + (", ..." if c.n_args > 4 else "")
    where = f" ({c.defined_at})" if c.defined_at else ""
    lines = [f"captured  {len(g.nodes)} nodes from one traced call of {report.name}{where}",
             f"  inputs   {_n(c.n_args, 'argument tensor')} ({args or 'none'}) + {_n(c.n_free, 'tensor')} read from "
             "outside (parameters, optimizer state)",
             f"  outputs  {_n(c.n_outputs, 'tensor')}; {c.n_effects} writes replayed per call (assign_, .grad =); "
             f"{_n(len(c.value_guards), 'value')} Python looked at (concretisation points)"]
    lines += _by_line(g)
    for text in c.value_guards[:MAX_CONCRETE_ROWS]:
        lines.append(f"    {text}")
    if len(c.value_guards) > MAX_CONCRETE_ROWS:
        lines.append(f"    ... {len(c.value_guards) - MAX_CONCRETE_ROWS} more (report.captured.value_guards)")
    return lines


def _by_line(graph, limit: int = 4) -> list[str]:
    """Where the captured nodes came from: the user lines with the most nodes."""
    counts = Counter(f"{loc.file.rsplit('/', 1)[-1]}:{loc.line}" for loc in
                     (n.source for n in graph.nodes) if loc is not None)
    if not counts:
        return []
    top = sorted(counts.items(), key=lambda kv: -kv[1])[:limit]
    more = len(counts) - len(top)
    return ["  from     " + ", ".join(f"{where} ({n} nodes)" for where, n in top)
            + (f", {more} more lines" if more else "")]


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _passes(report) -> list[str]:
    c = report.captured
    lines = [f"passes    {'pass':<10}{'nodes before -> after':>21}  what changed"]
    if c.joint_nodes is not None:
        lines.append(f"  {'autodiff':<10}{len(c.graph.nodes):>12} -> {c.joint_nodes:<5}  "
                     f"+{c.joint_nodes - len(c.graph.nodes)} backward nodes (gradients for {_n(c.wrt, 'input')})")
    for p in report.parts[0].passes:
        lines.append(f"  {p.name:<10}{p.nodes_before:>12} -> {p.nodes_after:<5}  {p.describe()}")
    if len(report.parts) > 1:
        fwd, bwd = (len(g.graph.nodes) for g in report.parts[:2])
        after = report.parts[0].passes[-1].nodes_after if report.parts[0].passes else c.joint_nodes
        lines.append(f"  {'split':<10}{after:>12} -> {fwd} forward + {bwd} backward; forward saves "
                     f"{_n(c.n_saved, 'value')} for backward")
    elif c.differentiable:
        lines.append("  (outputs require grad: a .backward() on them builds a joint forward+backward "
                     "graph; explain(..., backward=True) shows it)")
    return lines


def kernel_row(k) -> str:
    return (f"  {_SHORT_LABEL.get(k.graph, k.graph[:3])} k{k.index:<3}{k.kind:<12}{k.nodes:>5}{human_bytes(k.in_bytes):>10}"
            f"{human_bytes(k.out_bytes):>10}{k.threads:>4}  {k.cache:<6}{seconds_text(k.jit_seconds):>7}  {k.ends}")


_SHORT_LABEL = {"forward": "fwd", "backward": "bwd"}
_KERNEL_HEADER = (f"  {'kernel':<8}{'kind':<12}{'nodes':>5}{'in':>10}{'out':>10}{'thr':>4}  "
                  f"{'cache':<6}{'jit':>7}  ends because")


def kernel_table(part) -> str:
    """Every kernel of one graph, one row each."""
    lines = [f"kernels ({part.label}): {len(part.kernels)}", _KERNEL_HEADER]
    lines += [kernel_row(k) for k in part.kernels]
    return "\n".join(lines)


def _kernels(report) -> list[str]:
    kernels = [k for g in report.parts for k in g.kernels]
    nodes = sum(len(g.graph.nodes) for g in report.parts)
    graphs = " + ".join(f"{len(g.kernels)} {g.label}" for g in report.parts)
    lines = [f"kernels   {_n(len(kernels), 'kernel')} ({graphs}) run the {nodes} optimised nodes; "
             "in/out = bytes read/written, jit = Numba compile or cache load"]
    if len(kernels) <= MAX_KERNEL_ROWS:
        lines.append(_KERNEL_HEADER)
        lines += [kernel_row(k) for k in kernels]
        return lines
    lines.append(f"  {'kind':<12}{'kernels':>8}{'nodes':>7}{'in':>10}{'out':>10}{'threaded':>9}"
                 f"{'hit':>5}{'miss':>5}{'jit':>8}   (per kernel: report.kernels())")
    for kind in ("elementwise", "reduce", "rowwise", "matmul", "opaque"):
        ks = [k for k in kernels if k.kind == kind]
        if ks:
            lines.append(
                f"  {kind:<12}{len(ks):>8}{sum(k.nodes for k in ks):>7}"
                f"{human_bytes(sum(k.in_bytes for k in ks)):>10}{human_bytes(sum(k.out_bytes for k in ks)):>10}"
                f"{sum(k.threads > 1 for k in ks):>9}{sum(k.cache == 'hit' for k in ks):>5}"
                f"{sum(k.cache == 'miss' for k in ks):>5}{seconds_text(sum(k.jit_seconds for k in ks)):>8}")
    return lines


def _fusion(report) -> list[str]:
    counts: Counter = Counter()
    for g in report.parts:
        if g.fusion is not None:
            counts.update(g.fusion.counts())
    edges = sum(counts.values())
    if not edges:
        return ["fusion    no values pass between kernels (each graph is one kernel, or kernels are independent)"]
    lines = [f"fusion    {edges} values pass between kernels (each edge written once, read back); "
             "not fused because (per edge: report.fusion()):"]
    for code, n in counts.most_common():
        lines.append(f"  {n:>3} {code:<40} {REASONS[code]}")
    return lines


def _guards(report) -> list[str]:
    guards = report.guards
    outside = [g for g in guards if g.startswith("tensor read from outside")]
    other = [g for g in guards if g not in outside]
    lines = [f"guards    {len(guards)} checks decide whether a later call reuses these kernels "
             f"({report.variants} variant{'s' if report.variants != 1 else ''} compiled)"]
    for g in other[:MAX_GUARD_ROWS]:
        lines.append(f"  {g}")
    if len(other) > MAX_GUARD_ROWS:
        lines.append(f"  ... {len(other) - MAX_GUARD_ROWS} more (report.guards)")
    if outside:
        lines.append(f"  {_n(len(outside), 'tensor')} read from outside keep their shape, dtype and requires_grad")
    return lines


def _memory(report) -> list[str]:
    lines = ["memory    (kernel outputs only: inputs and parameters are not counted; "
             "per buffer: report.memory())"]
    lines += [f"  {g.memory.summary()}" for g in report.parts if g.memory is not None]
    return lines


def _compile(report) -> list[str]:
    s = report.seconds
    parts = " + ".join(f"{k} {seconds_text(v)}" for k, v in s.items())
    lines = [f"compile   {parts} = {seconds_text(sum(s.values()))}, paid once when this variant was built"]
    if report.backend != "numba":
        lines.append(f"  backend {report.backend}: the optimised graph runs op by op in NumPy "
                     "(the kernels above are the fusion plan the numba backend would use)")
    else:
        generated = [k for g in report.parts for k in g.kernels if k.cache in ("hit", "miss")]
        lines.append(f"  {len(generated)} generated kernels: {sum(k.cache == 'hit' for k in generated)} loaded "
                     f"from the disk cache, {sum(k.cache == 'miss' for k in generated)} compiled by Numba "
                     f"(load + jit {seconds_text(sum(k.jit_seconds for k in generated))} of the backend "
                     "time; the first jit in a process includes Numba's start-up)")
    # The compile-cost ledger (kept by the backend on the variant) goes here.
    return lines + ledger_lines(report.ledger)


def ledger_lines(ledger) -> list[str]:
    """The compile-cost ledger's section (kept by the backend on `variant.ledger`):
    an object with `lines()`, a {item: seconds} dict, or None (no section)."""
    if ledger is None:
        return []
    if hasattr(ledger, "lines"):
        return [f"  {line}" for line in ledger.lines()]
    if isinstance(ledger, dict):
        return [f"  {k:<24} {seconds_text(v)}" for k, v in ledger.items()]
    return [f"  {line}" for line in str(ledger).splitlines()]


def summary(report) -> str:
    lines = [f"tracead.explain({report.name}), backend {report.backend}"]
    for section in (_captured, _passes, _kernels, _fusion, _guards, _memory, _compile):
        lines += section(report)
    lines.append("more: report.graphs() kernels() fusion() memory() kernels_source(), "
                 "report.to_html(path), explain(..., verbose=1..3)")
    return "\n".join(lines)


def graphs_text(report) -> str:
    out = ["== captured graph ==", str(report.captured.graph)]
    for g in report.parts:
        out += ["", f"== {g.label} graph after passes ({len(g.graph.nodes)} nodes) ==", str(g.graph)]
    return "\n".join(out)


def user_line_text(loc) -> str:
    import linecache

    code = linecache.getline(loc.file, loc.line).strip()
    return f"{loc}: {code}" if code else str(loc)


def sources_text(report) -> str:
    out = []
    for g in report.parts:
        for k in g.kernels:
            out.append(f"-- {g.label} kernel {k.index} [{k.kind}] cache {k.cache_detail} {k.path or ''}")
            out += [f"# from {user_line_text(loc)}" for loc in k.user_lines]
            out.append(k.source or f"# {k.ops} (NumPy)")
    return "\n".join(out)
