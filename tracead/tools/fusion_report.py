"""Why kernels end where they do: one stable reason code per kernel edge.

For every edge between two kernels (a value one kernel writes and another
reads) we ask the planner's own legality check (`plan.fuse_kinds.classify`
on the union of both kernels, plus the no-cycle rule of `plan/fuse.py`)
why the two are not one kernel, and map its sentence to a stable code. The
planner's sentences may be reworded; the codes and their one-line meanings
below are what scripts and tests rely on. A sentence no rule matches maps to
`other` (a test feeds every sentence the planner can produce through here).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ..plan.fuse_kinds import classify
from ..plan.split import over_budget
from ..units import bytes_text

# code -> one-line explanation (the legend printed under the fusion summary)
REASONS: dict[str, str] = {
    "opaque-op": "one side is a movement/index op (transpose, getitem, ...) run as its own NumPy call",
    "matmul-boundary": "a matmul is a BLAS call: it starts its kernel (no prologue) and a kernel holds one",
    "matmul-epilogue-not-elementwise": "after a matmul only elementwise ops of its shape may follow",
    "matmul-epilogue-shape": "the op after the matmul has another shape than the matmul's result",
    "matmul-epilogue-not-consumer": "the op does not read the matmul result (an epilogue must)",
    "reduction-consumer-different-shape": "a reduction's consumer iterates over another shape "
                                          "(only last-axis keepdims reductions fuse with their users)",
    "rowwise-shape-mismatch": "row-wise kernels need one row length and values of row or full shape",
    "shape-mismatch": "the two iteration spaces do not broadcast to one",
    "smaller-output-needed-outside": "a value of smaller shape than the loop is needed by a later kernel",
    "broadcast-recompute-too-costly": "an expensive op (exp, log, ...) on a smaller operand would be "
                                      "recomputed once per element of the larger loop",
    "multiple-consumers-recompute-too-costly": "fusing needs this value in two kernels; tracead never "
                                               "recomputes a value, so it is written once and read twice",
    "size-cap": "the merged kernel would exceed the planner's size limit",
    "greedy-order": "legal to fuse in isolation; the greedy planner merged these nodes elsewhere first",
    "other": "a reason the planner gave that has no code yet (see the sentence)",
}

# (substring of the planner's sentence, code): first match wins, order matters.
_RULES: tuple[tuple[str, str], ...] = (
    ("would form a cycle", "multiple-consumers-recompute-too-costly"),
    ("is not fusible", "opaque-op"),
    ("a kernel holds one matmul", "matmul-boundary"),
    ("takes no prologue", "matmul-boundary"),
    ("epilogue only", "matmul-epilogue-not-elementwise"),
    ("is not an elementwise epilogue", "matmul-epilogue-not-elementwise"),
    ("is not of the matmul's shape", "matmul-epilogue-shape"),
    ("does not consume the matmul", "matmul-epilogue-not-consumer"),
    ("is not row-wise", "reduction-consumer-different-shape"),
    ("rows differ", "rowwise-shape-mismatch"),
    ("is neither a row nor", "rowwise-shape-mismatch"),
    ("is needed by a later kernel at a smaller shape", "smaller-output-needed-outside"),
    ("would be recomputed per element", "broadcast-recompute-too-costly"),
    ("do not broadcast", "shape-mismatch"),
    ("does not broadcast", "shape-mismatch"),
    ("is not elementwise", "reduction-consumer-different-shape"),
    ("cap", "size-cap"),
    ("too many", "size-cap"),
    ("too large", "size-cap"),
    ("compile budget", "size-cap"),
)


def reason_code(sentence: str | None) -> str:
    """The stable code of one of the planner's sentences (None: nothing blocks)."""
    if sentence is None:
        return "greedy-order"
    for needle, code in _RULES:
        if needle in sentence:
            return code
    return "other"


@dataclass(frozen=True, slots=True)
class Edge:
    """Kernel `src` writes values kernel `dst` reads; why they are two kernels."""

    src: int
    dst: int
    nbytes: int  # bytes of the values passed along the edge (written once, read again)
    code: str
    detail: str  # the planner's sentence

    def describe(self) -> str:
        return f"k{self.src} -> k{self.dst} {self.code}: {self.detail}"


@dataclass(frozen=True, slots=True)
class FusionReport:
    """Every kernel-to-kernel edge of one schedule with its reason code."""

    label: str
    edges: tuple[Edge, ...]
    ends: dict  # kernel index -> code why it ends ("graph-output" / edge codes)

    def counts(self) -> Counter:
        return Counter(e.code for e in self.edges)

    def summary(self) -> str:
        """`matmul-boundary 6, opaque-op 4, ...` (most frequent first)."""
        return ", ".join(f"{code} {n}" for code, n in self.counts().most_common()) or "no kernel edges"

    def __str__(self) -> str:
        lines = [f"fusion edges ({self.label}): {len(self.edges)} kernel-to-kernel edges, "
                 "each a value written by one kernel and read by the next"]
        lines += [f"  {e.describe()}  [{bytes_text(e.nbytes)}]" for e in self.edges]
        lines.append("reason codes:")
        lines += [f"  {code:<40} {n:>3}  {REASONS[code]}" for code, n in self.counts().most_common()]
        return "\n".join(lines)


def _reaches_through_other(succ: dict[int, set[int]], src: int, dst: int) -> bool:
    stack = [k for k in succ[src] if k != dst]
    seen = set(stack)
    while stack:
        k = stack.pop()
        if dst in succ[k]:
            return True
        for s in succ[k]:
            if s not in seen and s != dst:
                seen.add(s)
                stack.append(s)
    return False


def fusion_report(schedule, label: str = "graph") -> FusionReport:
    """Reason codes for every edge of `schedule` (a plan.schedule.Schedule)."""
    graph = schedule.graph
    position = {n.out.id: i for i, n in enumerate(graph.nodes)}
    users: dict[int, set[int]] = {}
    for n in graph.nodes:
        for v in n.inputs:
            users.setdefault(v.id, set()).add(n.out.id)
    kernel_of = schedule.kernel_of()
    outputs = {v.id for v in graph.outputs}
    succ: dict[int, set[int]] = {k.index: set() for k in schedule.kernels}
    flows: dict[tuple[int, int], int] = {}
    for k in schedule.kernels:
        for v in k.inputs:
            src = kernel_of.get(v.id)
            if src is not None and src != k.index:
                succ[src].add(k.index)
                flows[(src, k.index)] = flows.get((src, k.index), 0) + v.nbytes
    by_index = {k.index: k for k in schedule.kernels}
    edges = []
    for (src, dst), nbytes in sorted(flows.items()):
        if _reaches_through_other(succ, src, dst):
            detail = "fusing would form a cycle (a path leaves the group and comes back)"
        else:
            nodes = sorted(by_index[src].nodes + by_index[dst].nodes, key=lambda n: position[n.out.id])
            inside = {n.out.id for n in nodes}
            needed = {n.out.id for n in nodes if n.out.id in outputs
                      or any(u not in inside for u in users.get(n.out.id, ()))}
            result = classify(nodes, needed)
            detail = result if isinstance(result, str) else over_budget(nodes)
        code = reason_code(detail)
        edges.append(Edge(src, dst, nbytes, code, detail or "the union is a legal kernel"))
    ends = {}
    for k in schedule.kernels:
        mine = [e.code for e in edges if e.src == k.index]
        ends[k.index] = Counter(mine).most_common(1)[0][0] if mine else "graph-output"
    return FusionReport(label, tuple(edges), ends)
