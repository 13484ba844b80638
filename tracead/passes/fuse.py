"""Fusion planning: partition an optimised graph into Kernels (contract: schedule.py).

Greedy group merging over the node DAG, two sweeps repeated to a fixpoint:
  1. vertical: each node tries to join the groups of its producers (producer
     into consumer: elementwise chains, elementwise prologues into a reduction,
     row statistics and their consumers, matmul epilogues);
  2. horizontal: groups reading the same (non-scalar) value try to merge, so
     siblings share one pass over it (W1's gradient joins its loss reduction).
A merge happens only if the union is a legal kernel (`fuse_kinds.classify`)
and no path between the two groups runs through a third group: that path
would make the kernels depend on each other (a cycle). Every node lands in
exactly one kernel (no recomputation across kernels, see fuse_kinds), and the
kernels come out in dependency order. `reason` records why each kernel ends.
"""
from __future__ import annotations

from ..ir.graph import Graph
from .fuse_kinds import classify
from .order import kernel_order
from .schedule import Kernel, Schedule, single_node_schedule

MAX_ROUNDS = 4


class _Groups:
    def __init__(self, graph: Graph) -> None:
        self.nodes = graph.nodes
        index = {n.out.id: i for i, n in enumerate(self.nodes)}
        self.producers = [[index[v.id] for v in n.inputs if v.id in index] for n in self.nodes]
        self.users: list[list[int]] = [[] for _ in self.nodes]
        for j, prods in enumerate(self.producers):
            for i in set(prods):
                self.users[i].append(j)
        self.graph_outputs = {v.id for v in graph.outputs}
        self.group_of = list(range(len(self.nodes)))
        self.members = {i: [i] for i in range(len(self.nodes))}
        self.succ = {i: set(self.users[i]) for i in self.members}
        self.pred = {i: set(self.producers[i]) for i in self.members}
        self.last = {i: i for i in self.members}  # highest node index of each group

    # -- queries ------------------------------------------------------------------------
    def outs(self, members) -> set[int]:
        inside = set(members)
        return {self.nodes[i].out.id for i in members
                if self.nodes[i].out.id in self.graph_outputs
                or any(u not in inside for u in self.users[i])}

    def classify(self, members):
        members = sorted(members)
        return classify([self.nodes[i] for i in members], self.outs(members))

    def _reaches(self, src: int, dst: int) -> bool:
        """Is there a path src -> g -> ... -> dst through at least one other group g?

        No pruning by node index: merged groups are not contiguous ranges of
        nodes, so a group on such a path may start after dst's last node."""
        stack = [g for g in self.succ[src] if g != dst]
        seen = set(stack)
        while stack:
            g = stack.pop()
            if dst in self.succ[g]:
                return True
            for s in self.succ[g]:
                if s not in seen and s != dst:
                    seen.add(s)
                    stack.append(s)
        return False

    def blocker(self, a: int, b: int) -> str | None:
        """Why groups a and b can't merge, or None if they can."""
        if self._reaches(a, b) or self._reaches(b, a):
            return "fusing would form a cycle (a path leaves the group and comes back)"
        result = self.classify(self.members[a] + self.members[b])
        return result if isinstance(result, str) else None

    # -- merging ------------------------------------------------------------------------
    def try_merge(self, a: int, b: int) -> bool:
        if a == b or self.blocker(a, b) is not None:
            return False
        for i in self.members[b]:
            self.group_of[i] = a
        self.members[a] += self.members.pop(b)
        self.last[a] = max(self.last[a], self.last.pop(b))
        succ_b, pred_b = self.succ.pop(b), self.pred.pop(b)
        for s in succ_b:
            self.pred[s].discard(b)
            self.pred[s].add(a)
        for p in pred_b:
            self.succ[p].discard(b)
            self.succ[p].add(a)
        self.succ[a] = (self.succ[a] | succ_b) - {a, b}
        self.pred[a] = (self.pred[a] | pred_b) - {a, b}
        return True

    def vertical(self) -> bool:
        merged = False
        for j, prods in enumerate(self.producers):
            for i in sorted(set(prods), key=lambda i: -self.last[self.group_of[i]]):
                merged |= self.try_merge(self.group_of[i], self.group_of[j])
        return merged

    def horizontal(self, graph: Graph) -> bool:
        readers: dict[int, list[int]] = {}
        for j, node in enumerate(self.nodes):
            for v in node.inputs:
                if v.id not in graph.constants and v.size > 1:
                    readers.setdefault(v.id, []).append(j)
        merged = False
        for js in readers.values():
            for j in js[1:]:
                merged |= self.try_merge(self.group_of[js[0]], self.group_of[j])
        return merged

    # -- output ---------------------------------------------------------------------------
    def reason(self, g: int, kind: str, position: dict[int, int]) -> str:
        node = self.nodes[self.members[g][0]]
        if kind == "opaque":
            return f"alone: {node.prim.name} is a {node.prim.kind} op, run as its own kernel"
        consumers = sorted(self.succ[g], key=lambda s: position[s])
        msgs = [f"its values are used by {len(consumers)} later kernels"] if len(consumers) > 1 else []
        for s in consumers:
            why = self.blocker(g, s) or "not merged (greedy order)"
            msgs.append(f"{why} (kernel {position[s]})")
        if not consumers:
            msgs.append("its results are graph outputs")
        return "ends: " + "; ".join(msgs[:3])


def _kernel(groups: _Groups, g: int, k: int, position: dict[int, int]) -> Kernel:
    members = sorted(groups.members[g])
    kind, shape = groups.classify(members)
    nodes = [groups.nodes[i] for i in members]
    if kind == "reduce":  # the reduction is a sink of its group: it may go last
        nodes = [n for n in nodes if n.prim.kind != "reduce"] + [n for n in nodes if n.prim.kind == "reduce"]
    produced = {n.out.id for n in nodes}
    inputs, seen = [], set()
    for n in nodes:
        for v in n.inputs:
            if v.id not in produced and v.id not in seen:
                seen.add(v.id)
                inputs.append(v)
    outs = groups.outs(members)
    outputs = tuple(n.out for n in nodes if n.out.id in outs)
    return Kernel(k, kind, tuple(nodes), tuple(inputs), outputs, tuple(shape),
                  groups.reason(g, kind, position))


def plan_fusion(graph: Graph, enabled: bool = True) -> Schedule:
    """The kernel schedule of `graph`; `enabled=False` gives one kernel per node."""
    if not enabled:
        return single_node_schedule(graph)
    groups = _Groups(graph)
    for _ in range(MAX_ROUNDS):
        changed = groups.vertical()
        changed |= groups.horizontal(graph)
        if not changed:
            break
    order = kernel_order(groups)
    position = {g: k for k, g in enumerate(order)}
    return Schedule(graph, tuple(_kernel(groups, g, k, position) for k, g in enumerate(order)))
