"""`ta.explain(fn, *args)`: what the compiler captured and what it did.

The report is a structured object; `str(report)` is one view of it. It runs
`fn` once through a fresh compiled wrapper with the same options (so any
effects of `fn`, e.g. an optimizer step, happen once, as with
torch._dynamo.explain) and describes the variant that call produced.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..ir.export import schedule_to_networkx, to_dot, to_networkx
from ..ir.graph import Graph
from ..runtime.compiled import CompiledFunction


@dataclass
class GraphReport:
    label: str
    graph: Graph
    passes: list  # PassRecord
    schedule: object = None  # passes.schedule.Schedule or None
    memory: object = None  # MemoryPlan or None
    kernels: list = field(default_factory=list)  # backend kernel records


@dataclass
class ExplainReport:
    name: str
    backend: str
    traced: Graph
    graphs: list[GraphReport]
    guards: list[str]
    seconds: dict
    recompile_reasons: list[str]
    ledger: object = None  # runtime.ledger.CompileLedger: seconds per stage, kernels compiled/loaded

    @property
    def stats(self) -> dict:
        kernels = sum(len(g.schedule.kernels) if g.schedule is not None else len(g.graph.nodes)
                      for g in self.graphs)
        naive = sum(g.memory.peak_bytes_naive for g in self.graphs if g.memory is not None)
        planned = sum(g.memory.peak_bytes_planned for g in self.graphs if g.memory is not None)
        return {
            "nodes_traced": len(self.traced.nodes),
            "nodes_optimized": sum(len(g.graph.nodes) for g in self.graphs),
            "kernels": kernels,
            "peak_bytes_naive": naive,
            "peak_bytes_planned": planned,
            "compile_seconds": sum(self.seconds.values()),
            "seconds": dict(self.seconds),
            "guards": list(self.guards),
        }

    def kernel_of(self) -> dict[int, int]:
        mapping: dict[int, int] = {}
        offset = 0
        for g in self.graphs:
            if g.schedule is not None:
                for vid, k in g.schedule.kernel_of().items():
                    mapping[vid] = k + offset
                offset += len(g.schedule.kernels)
        return mapping

    def to_networkx(self, which: int = 0):
        g = self.graphs[which]
        return to_networkx(g.graph, g.schedule.kernel_of() if g.schedule is not None else None)

    def to_dot(self, which: int = 0) -> str:
        g = self.graphs[which]
        return to_dot(g.graph, g.schedule.kernel_of() if g.schedule is not None else None,
                      name=f"{self.name} {g.label}")

    def to_png(self, path: str, which: int = 0, kernels: bool = False) -> str:
        """A picture of one graph: every node coloured by its kernel, or with
        `kernels=True` one box per kernel (the graph after fusion)."""
        from .pictures import draw_graph

        g = self.graphs[which]
        if kernels and g.schedule is not None:
            return draw_graph(schedule_to_networkx(g.schedule), path,
                              title=f"{self.name}: {g.label} kernels")
        return draw_graph(self.to_networkx(which), path, title=f"{self.name}: {g.label}")

    def summary(self) -> str:
        s = self.stats
        lines = [f"tracead.explain({self.name}) backend={self.backend}",
                 f"  nodes traced {s['nodes_traced']} -> optimised {s['nodes_optimized']} "
                 f"in {s['kernels']} kernels"]
        for g in self.graphs:
            chain = " -> ".join(f"{r.name} {r.nodes_after}" for r in g.passes)
            first = g.passes[0].nodes_before if g.passes else len(g.graph.nodes)
            lines.append(f"  {g.label}: {first} nodes" + (f" -> {chain}" if chain else ""))
        if s["peak_bytes_naive"]:
            lines.append(f"  memory: peak {_mb(s['peak_bytes_planned'])} planned vs "
                         f"{_mb(s['peak_bytes_naive'])} naive")
        secs = ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in self.seconds.items())
        lines.append(f"  compile: {secs}")
        lines.append(f"  guards: {len(self.guards)}")
        return "\n".join(lines)

    def __str__(self) -> str:
        out = [self.summary(), "", "== captured graph ==", str(self.traced)]
        for g in self.graphs:
            out += ["", f"== {g.label} graph after passes =="]
            for r in g.passes:
                out.append(f"  pass {r.name:<10} {r.nodes_before:>5} -> {r.nodes_after:>5} nodes "
                           f"({r.seconds * 1e3:.2f} ms)")
            out.append(str(g.graph))
            if g.schedule is not None:
                out += ["", f"-- {g.label} kernels --"]
                for k in g.schedule.kernels:
                    out.append(f"  {k.describe()}" + (f"   ({k.reason})" if k.reason else ""))
            if g.memory is not None:
                out += ["", f"-- {g.label} memory plan --", str(g.memory)]
            for k in g.kernels:
                out += ["", f"-- {g.label} kernel {k.index} ({k.kind}, cache {k.cache}) "
                            f"{getattr(k, 'path', '')} --", k.source]
        out += ["", "== guards =="] + [f"  {line}" for line in self.guards]
        if self.recompile_reasons:
            out += ["", "== compiles =="] + [f"  {r}" for r in self.recompile_reasons]
        if self.ledger is not None:
            out += ["", "== compile cost ==", str(self.ledger)]
        return "\n".join(out)


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB"


def _graph_report(label, graph, passes, executable) -> GraphReport:
    schedule = getattr(executable, "schedule", None)
    memory = getattr(executable, "memory_plan", None)
    if schedule is None:
        try:
            from ..passes import plan_fusion, plan_memory

            schedule = plan_fusion(graph)
            memory = plan_memory(schedule)
        except ImportError:
            pass
    return GraphReport(label, graph, passes, schedule, memory, list(getattr(executable, "kernels", [])))


def explain(fn, *args, **kwargs) -> ExplainReport:
    if isinstance(fn, CompiledFunction):
        compiled = CompiledFunction(fn.fn, fn.backend_name, **fn.options)
    else:
        compiled = CompiledFunction(fn)
    if compiled.backend_name == "eager":
        compiled = CompiledFunction(compiled.fn, "interpret", **compiled.options)
    compiled(*args, **kwargs)
    variant = compiled.order[-1]
    if variant.differentiable and variant.backward_graph is None:
        variant.build_joint()  # what a later .backward() on the outputs would run
    graphs = []
    if variant.backward_graph is not None:
        records = variant.pass_records.get("joint", [])
        graphs.append(_graph_report("forward", variant.forward_graph, records, variant.forward_exec))
        graphs.append(_graph_report("backward", variant.backward_graph, [], variant.backward_exec))
    else:
        graphs.append(_graph_report("forward", variant.forward_graph,
                                    variant.pass_records.get("forward", []), variant.forward_exec))
    return ExplainReport(getattr(fn, "__name__", "fn"), compiled.backend_name, variant.capture.graph,
                         graphs, compiled.guards(), dict(variant.seconds), compiled.recompile_reasons,
                         variant.ledger)
