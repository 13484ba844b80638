"""`ta.explain(fn, *args)`: what the compiler captured and what it did.

The report is a structured object; printing it is one view. `print(report)`
is one screen: what was captured, what each pass did, the kernels and why
each ends where it does, the guards, the memory needed and the compile
cost. The long forms are methods: `graphs()`, `kernels()`, `fusion()`,
`memory()`, `kernels_source()`; `explain(..., verbose=1..3)` prints them too,
and `to_html(path)` writes all of it into one file.

`explain` calls `fn` once and then puts back the tensors that call touched
(parameters an optimizer step updates, `.grad`s: explaining a training step
takes no step; other Python state it changes stays changed). For a function already compiled with
`ta.compile` that call goes through the function itself, so the report
describes the variant your calls run, with the compile cost it had; a plain
function is compiled for the occasion.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..ir.graph import Graph
from ..plan import plan_fusion, plan_memory
from ..runtime.compiled import CompiledFunction
from ..runtime.restore import preserved_state
from .fusion_report import FusionReport, fusion_report
from .memory_view import MemoryView, memory_view
from .pass_changes import PassChange, pass_changes


@dataclass(frozen=True, slots=True)
class KernelInfo:
    """One kernel as the tables show it."""

    graph: str  # "forward" or "backward"
    index: int
    kind: str
    nodes: int
    ops: str
    in_bytes: int
    out_bytes: int
    threads: int
    cache: str  # "hit", "miss", "numpy" (no generated code) or "-" (not compiled)
    cache_detail: str
    jit_seconds: float  # Numba compiling (or, on a disk-cache hit, loading) its code
    ends: str  # reason code from fusion_report, or "graph-output"
    user_lines: tuple  # SourceLoc of the nodes, first appearance order
    source: str  # generated source ("" when the kernel is a NumPy call)
    path: str | None


@dataclass
class GraphReport:
    """One compiled graph (forward, or backward) and what became of it."""

    label: str
    graph: Graph
    passes: list[PassChange]
    schedule: object = None  # plan.schedule.Schedule
    memory_plan: object = None  # plan.memory.MemoryPlan
    kernels: list[KernelInfo] = field(default_factory=list)
    fusion: FusionReport | None = None
    memory: MemoryView | None = None


@dataclass(frozen=True, slots=True)
class Captured:
    """What tracing recorded from one call of the user's function."""

    graph: Graph
    n_args: int  # argument tensors (graph inputs)
    n_free: int  # tensors read from outside the function (parameters, state)
    n_outputs: int  # tensor outputs
    n_effects: int  # writes the compiled call replays (assign_, .grad = ...)
    value_guards: list[str]  # concretisation points, with user lines
    joint_nodes: int | None  # nodes of the joint forward+backward graph, if built
    wrt: int  # inputs differentiated (joint builds)
    n_saved: int  # values the forward saves for the backward
    differentiable: bool  # a .backward() on the outputs would need a backward graph
    defined_at: str = ""  # file:line of the function's definition


@dataclass
class ExplainReport:
    """The structured result of `ta.explain`; `print(report)` shows its summary."""

    name: str
    backend: str
    captured: Captured
    parts: list[GraphReport]
    guards: list[str]
    seconds: dict
    recompile_reasons: list[str]
    ledger: object = None  # the compile-cost ledger of the variant, when the backend keeps one
    verbose: int = 0
    variants: int = 1

    @property
    def traced(self) -> Graph:
        return self.captured.graph

    @property
    def stats(self) -> dict:
        """Figures for scripts (every count says what it counts in its key)."""
        plans = [g.memory_plan for g in self.parts if g.memory_plan is not None]
        reasons: dict[str, int] = {}
        for g in self.parts:
            for code, n in (g.fusion.counts().items() if g.fusion else ()):
                reasons[code] = reasons.get(code, 0) + n
        by_label = {g.label: len(g.graph.nodes) for g in self.parts}
        return {
            "nodes_traced": len(self.captured.graph.nodes),
            "nodes_joint": self.captured.joint_nodes,
            "nodes_forward": by_label.get("forward", 0),
            "nodes_backward": by_label.get("backward", 0),
            "nodes_optimized": sum(by_label.values()),
            "kernels": sum(len(g.kernels) for g in self.parts),
            "fusion_reasons": reasons,
            "peak_bytes_naive": sum(p.peak_bytes_naive for p in plans),
            "peak_bytes_planned": sum(p.peak_bytes_planned for p in plans),
            "peak_bytes_live": sum(p.peak_bytes_live for p in plans),
            "compile_seconds": sum(self.seconds.values()),
            "seconds": dict(self.seconds),
            "guards": list(self.guards),
        }

    # -- text views ----------------------------------------------------------------------
    def summary(self) -> str:
        """One screen: captured, passes, kernels, fusion reasons, guards, memory, compile cost."""
        from .explain_text import summary

        return summary(self)

    def graphs(self) -> str:
        """The captured graph and each optimised graph, one line per node with its user line."""
        from .explain_text import graphs_text

        return graphs_text(self)

    def kernels(self) -> str:
        """One row per kernel: kind, nodes, bytes, threads, cache, jit time, why it ends."""
        from .explain_text import kernel_table

        return "\n".join(kernel_table(g) for g in self.parts)

    def fusion(self) -> str:
        """Every kernel-to-kernel edge with its reason code, and the codes' meanings."""
        return "\n\n".join(str(g.fusion) for g in self.parts if g.fusion is not None)

    def memory(self) -> str:
        """Buffer lifetimes over the kernel schedule (which values share a buffer, the peak)."""
        return "\n\n".join(str(g.memory) for g in self.parts if g.memory is not None)

    def memory_svg(self, which: int = 0) -> str:
        """The memory view of graph `which` as an SVG picture (buffers over kernel steps)."""
        return self.parts[which].memory.to_svg()

    def kernels_source(self) -> str:
        """The generated source of every kernel, headed by the user lines it came from."""
        from .explain_text import sources_text

        return sources_text(self)

    def text(self, verbose: int = 0) -> str:
        """The summary; verbose 1 adds kernels, fusion edges, memory and all guards; 2 the graphs;
        3 the kernel sources."""
        out = [self.summary()]
        if verbose >= 1:
            out += [self.kernels(), self.fusion(), self.memory(),
                    "\n".join(["guards (all):"] + [f"  {g}" for g in self.guards])]
        if verbose >= 2:
            out.append(self.graphs())
        if verbose >= 3:
            out.append(self.kernels_source())
        return "\n\n".join(part for part in out if part)

    def __str__(self) -> str:
        return self.text(self.verbose)

    # -- pictures and exports ------------------------------------------------------------
    def kernel_of(self) -> dict[int, int]:
        """node output id -> kernel index, numbered across the graphs in order."""
        mapping: dict[int, int] = {}
        offset = 0
        for g in self.parts:
            if g.schedule is not None:
                for vid, k in g.schedule.kernel_of().items():
                    mapping[vid] = k + offset
                offset += len(g.schedule.kernels)
        return mapping

    def _kernel_map(self, which: int):
        g = self.parts[which]
        return g.schedule.kernel_of() if g.schedule is not None else None

    def to_networkx(self, which: int = 0):
        """Graph `which` (0 forward, 1 backward) as a networkx DiGraph, nodes tagged by kernel."""
        from ..ir.export import to_networkx

        return to_networkx(self.parts[which].graph, self._kernel_map(which))

    def to_dot(self, which: int = 0, kernels: bool = False) -> str:
        """DOT text of graph `which`: every node coloured by kernel, or one box per kernel."""
        from .pictures import graph_dot

        return graph_dot(self, which, kernels)

    def to_svg(self, which: int = 0, kernels: bool = True) -> str:
        """An SVG picture (Graphviz `dot` when installed, else a layered layout of our own)."""
        from .pictures import graph_svg

        return graph_svg(self, which, kernels)

    def to_png(self, path: str, which: int = 0, kernels: bool = True) -> str:
        """A PNG picture of graph `which`: one box per kernel by default, `kernels=False`
        for every node coloured by its kernel. Needs Graphviz or matplotlib."""
        from .pictures import graph_png

        return graph_png(self, path, which, kernels)

    def to_html(self, path: str) -> str:
        """Write one self-contained HTML file with everything in this report; returns `path`."""
        from .report_html import write_html

        return write_html(self, path)


def _kernel_infos(label, schedule, records, fusion) -> list[KernelInfo]:
    by_index = {r.index: r for r in records}
    threads = 1
    if any(getattr(r, "parallel", False) for r in records):
        import numba

        # The backend's thread pool size (backends/numba/threads.py pool_size); not
        # numba.get_num_threads(), which would start Numba's threading layer.
        threads = max(int(numba.config.NUMBA_NUM_THREADS), 1)
    infos = []
    for k in schedule.kernels:
        r = by_index.get(k.index)
        cache_detail = getattr(r, "cache", "-") if r is not None else "not compiled (interpret backend)"
        cache = ("numpy" if cache_detail.startswith("none") else "hit" if cache_detail.startswith("hit")
                 else "miss" if cache_detail.startswith("miss") else "-")
        lines = list(dict.fromkeys(n.source for n in k.nodes if n.source is not None))
        infos.append(KernelInfo(
            label, k.index, k.kind, len(k.nodes), " ".join(n.prim.name for n in k.nodes),
            sum(v.nbytes for v in k.inputs), sum(v.nbytes for v in k.outputs),
            threads if getattr(r, "parallel", False) else 1, cache, cache_detail,
            getattr(r, "compile_seconds", 0.0), fusion.ends.get(k.index, "graph-output"),
            tuple(lines), getattr(r, "source", ""), getattr(r, "path", None)))
    return infos


def _graph_report(label, graph, changes, executable, n_saved=0) -> GraphReport:
    schedule = getattr(executable, "schedule", None) or plan_fusion(graph)
    plan = getattr(executable, "memory_plan", None) or plan_memory(schedule)
    fusion = fusion_report(schedule, label)
    kernels = _kernel_infos(label, schedule, list(getattr(executable, "kernels", [])), fusion)
    return GraphReport(label, graph, changes, schedule, plan, kernels, fusion,
                       memory_view(plan, label, n_saved))


def _wrapper(fn, backward: bool) -> CompiledFunction:
    """The compiled function explain calls: `fn` itself when it can describe its own
    variants; a fresh wrapper for plain functions, eager ones, and joint builds."""
    if isinstance(fn, CompiledFunction):
        backend, options = fn.backend_name, dict(fn.options)
        if backend != "eager" and not fn.gave_up and not backward:
            return fn
        python_fn = fn.fn
    else:
        python_fn, backend, options = fn, "numba", {}
    if backend == "eager":
        backend = "interpret"
    if backward:
        options["backward"] = "eager"  # build the joint forward+backward graph up front
    return CompiledFunction(python_fn, backend, **options)


def explain(fn, *args, verbose: int = 0, backward: bool = False, **kwargs) -> ExplainReport:
    """Run `fn(*args, **kwargs)` once compiled and report what the compiler did.

    `fn` is a plain function or a `ta.compile`d one (then its own variant is
    described, with its options). `backward=True` describes the joint
    forward+backward build a `.backward()` on the outputs would run.
    `verbose` (0-3) sets how much `print(report)` shows. (`verbose` and
    `backward` are explain's own keywords: they are not passed to `fn`.)
    """
    compiled = _wrapper(fn, backward)
    calls_before = {id(v): v.calls for v in compiled.order}
    with preserved_state(compiled, args, kwargs):
        compiled(*args, **kwargs)
    variant = _variant_that_ran(compiled, calls_before)
    cap = variant.capture
    parts, joint_nodes = [], None
    if variant.backward_graph is not None:
        from ..trace.backward import joint_graph

        joint = joint_graph(cap.graph, variant.wrt, variant.diff_outputs)
        joint_nodes = len(joint.nodes)
        changes = pass_changes(joint, variant.pass_records.get("joint", []))
        parts.append(_graph_report("forward", variant.forward_graph, changes, variant.forward_exec,
                                   variant.n_saved))
        parts.append(_graph_report("backward", variant.backward_graph, [], variant.backward_exec))
    else:
        changes = pass_changes(cap.graph, variant.pass_records.get("forward", []))
        parts.append(_graph_report("forward", variant.forward_graph, changes, variant.forward_exec))
    captured = Captured(cap.graph, len(cap.arg_positions), len(cap.free), cap.n_tensor_outputs,
                        len(cap.effects), [g.describe() for g in cap.value_guards], joint_nodes,
                        len(variant.wrt), variant.n_saved, variant.differentiable,
                        _defined_at(compiled.fn))
    return ExplainReport(getattr(fn, "__name__", "fn"), compiled.backend_name, captured, parts,
                         compiled.guards(), dict(variant.seconds), list(compiled.recompile_reasons),
                         getattr(variant, "ledger", None), verbose, len(compiled.order))


def _defined_at(fn) -> str:
    code = getattr(fn, "__code__", None)
    return f"{os.path.basename(code.co_filename)}:{code.co_firstlineno}" if code else ""


def _variant_that_ran(compiled: CompiledFunction, calls_before: dict):
    for v in compiled.order:
        if v.calls > calls_before.get(id(v), 0) or id(v) not in calls_before:
            return v
    for variants in compiled.variants.values():  # a dynamic variant's instance for new sizes
        for v in variants:
            if v.calls > calls_before.get(id(v), 0) and v.dynamic is not None:
                return v
    if not compiled.order:
        raise RuntimeError(f"explain({compiled.__name__}): nothing was compiled (TRACEAD_DISABLE is "
                           "set, or the function gave up compiling and runs eagerly)")
    return compiled.order[-1]
