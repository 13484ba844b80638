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
Groups too large for LLVM to compile quickly are then cut (split.py).

Planning is linear in the graph (re-checking the whole merged group at each
merge would make it quadratic):
  * groups are a union-find over nodes, edge sets are merged smaller into larger;
  * two pointwise groups merge by an O(1) amortised check
    (`fuse_kinds.merge_pointwise`); other kinds run `classify`, on groups of at
    most split.MAX_KERNEL_COST compile weight;
  * the cycle check searches only between the two groups in a topological
    order of the groups (`pos`), kept valid across merges as in Pearce and
    Kelly's dynamic topological sort: the groups the search found, which the
    merged group must now precede, move after it with everything that follows.
"""
from __future__ import annotations

import gc
import math
from contextlib import contextmanager

from ..ir.graph import Graph
from .fuse_kinds import classify, is_pointwise, merge_pointwise
from .order import kernel_order
from .schedule import Kernel, Schedule, single_node_schedule
from .split import MAX_KERNEL_COST, MAX_KERNEL_NODES, compile_weight, split_large

MAX_ROUNDS = 4
CYCLE = "fusing would form a cycle (a path leaves the group and comes back)"
TOO_LARGE = (f"the kernel would pass the compile budget ({MAX_KERNEL_COST}, split.py), past "
             f"which LLVM's time grows fast")


class _Groups:
    def __init__(self, graph: Graph) -> None:
        self.nodes = nodes = graph.nodes
        index = {n.out.id: i for i, n in enumerate(nodes)}
        self.producers = [[index[v.id] for v in n.inputs if v.id in index] for n in nodes]
        self.users: list[list[int]] = [[] for _ in nodes]
        for j, prods in enumerate(self.producers):
            for i in set(prods):
                self.users[i].append(j)
        self.graph_outputs = {v.id for v in graph.outputs}
        self.parent = list(range(len(nodes)))  # union-find: a node's group is find(node)
        self.members = {i: [i] for i in range(len(nodes))}
        self.succ = {i: set(self.users[i]) for i in self.members}
        self.pred = {i: set(self.producers[i]) for i in self.members}
        self.last = {i: i for i in self.members}  # highest node index of each group
        self.weight = {i: compile_weight(n) for i, n in enumerate(nodes)}  # split.compile_weight sums
        self.pos = list(range(len(nodes)))  # per group id: a topological order of the groups
        self.at: list[int | None] = list(range(len(nodes)))  # pos -> group there (None: free slot)
        # per group: its space while all its nodes are pointwise (merge_pointwise), else None
        self.space = {i: tuple(n.out.shape) if is_pointwise(n) else None for i, n in enumerate(nodes)}
        self.notes: dict[int, str] = {}  # group -> why it is a piece of a split group (split.py)
        self.split_of: dict[int, int] = {}  # such a piece -> the group it was cut from

    def find(self, i: int) -> int:
        parent = self.parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    # -- queries ------------------------------------------------------------------------
    def outs(self, members) -> set[int]:
        inside = set(members)
        return {self.nodes[i].out.id for i in members
                if self.nodes[i].out.id in self.graph_outputs
                or any(u not in inside for u in self.users[i])}

    def classify(self, members):
        members = sorted(members)
        return classify([self.nodes[i] for i in members], self.outs(members))

    def _between(self, u: int, v: int) -> set[int] | None:
        """Groups reachable from u (pos[u] < pos[v]) through a third group and ordered
        before v, or None when v is reachable that way (merging would form a cycle).
        Anything on a path from u to v lies between them in the order, so the search
        stays there."""
        pos, succ, limit = self.pos, self.succ, self.pos[v]
        if limit - pos[u] < len(succ[u]):  # a big group's many readers: scan the slots between
            out = succ[u]
            stack = [g for g in self.at[pos[u] + 1:limit] if g is not None and g in out]
        else:
            stack = [g for g in succ[u] if g != v and pos[g] < limit]
        seen = set(stack)
        while stack:
            for s in succ[stack.pop()]:
                if s == v:
                    return None
                if s not in seen and pos[s] < limit:
                    seen.add(s)
                    stack.append(s)
        return seen

    def _needed_outside(self, i: int, a: int, b: int) -> bool:
        return (self.nodes[i].out.id in self.graph_outputs
                or any(self.find(u) not in (a, b) for u in self.users[i]))

    def _union_kind(self, a: int, b: int):
        """(None, space or None) if a and b may form one kernel, else (reason, None)."""
        sa, sb = self.space[a], self.space[b]
        if sa is not None and sb is not None:
            result = merge_pointwise(sa, sb, lambda: self._pairs(a), lambda: self._pairs(b),
                                     lambda i: self._needed_outside(i, a, b))
            return (result, None) if isinstance(result, str) else (None, result)
        if (len(self.members[a]) + len(self.members[b]) > MAX_KERNEL_NODES
                or self.weight[a] + self.weight[b] > MAX_KERNEL_COST):
            return TOO_LARGE, None
        result = self.classify(self.members[a] + self.members[b])
        return (result if isinstance(result, str) else None), None

    def _pairs(self, g: int):
        return [(i, self.nodes[i]) for i in self.members[g]]

    def _check(self, a: int, b: int):
        """(reason or None, groups between them, space of the union if pointwise)."""
        u, v = (a, b) if self.pos[a] < self.pos[b] else (b, a)
        between = self._between(u, v)
        if between is None:
            return CYCLE, None, None
        problem, space = self._union_kind(a, b)
        return problem, between, space

    def blocker(self, a: int, b: int) -> str | None:
        """Why groups a and b can't merge, or None if they can."""
        return self._check(a, b)[0]

    # -- merging ------------------------------------------------------------------------
    def try_merge(self, a: int, b: int) -> bool:
        if a == b:
            return False
        problem, between, space = self._check(a, b)
        if problem is not None:
            return False
        self._merge(a, b, between, space)
        return True

    def _reorder(self, v: int, between: set[int]) -> None:
        """Move `between` (groups after u that the merged group, at v's place, now
        precedes) after v, with v's predecessors among them kept before v."""
        pos = self.pos
        low = min(pos[g] for g in between)
        before, stack = {v}, [v]  # v and the groups reaching it placed after `low`
        while stack:
            for p in self.pred[stack.pop()]:
                if p not in before and pos[p] > low:
                    before.add(p)
                    stack.append(p)
        slots = sorted(pos[g] for g in before | between)
        ordered = sorted(before, key=pos.__getitem__) + sorted(between, key=pos.__getitem__)
        for g, p in zip(ordered, slots):
            pos[g] = p
            self.at[p] = g

    def _merge(self, a: int, b: int, between: set[int], space) -> None:
        u, v = (a, b) if self.pos[a] < self.pos[b] else (b, a)
        if between:
            self._reorder(v, between)
        keep, gone = (a, b) if self._weight(a) >= self._weight(b) else (b, a)
        self.at[self.pos[u]] = None
        self.pos[keep] = self.pos[v]
        self.at[self.pos[v]] = keep
        self.parent[gone] = keep
        small, big = sorted((self.members.pop(gone), self.members[keep]), key=len)
        big += small
        self.members[keep] = big
        self.last[keep] = max(self.last[keep], self.last.pop(gone))
        self.weight[keep] += self.weight.pop(gone)
        del self.space[gone]
        self.space[keep] = space
        for edges, back in ((self.succ, self.pred), (self.pred, self.succ)):
            old = edges.pop(gone)
            for g in old:
                if g != keep:
                    back[g].discard(gone)
                    back[g].add(keep)
            small, big = sorted((old, edges[keep]), key=len)
            big |= small
            big.discard(keep)
            big.discard(gone)
            edges[keep] = big

    def _weight(self, g: int) -> int:
        """Work to relabel group g when it is merged away: keep the heavier group's id."""
        return len(self.succ[g]) + len(self.pred[g]) + len(self.members[g])

    def vertical(self) -> bool:
        merged = False
        find = self.find
        for j, prods in enumerate(self.producers):
            for i in sorted(set(prods), key=lambda i: -self.last[find(i)]):
                merged |= self.try_merge(find(i), find(j))
        return merged

    def horizontal(self, graph: Graph) -> bool:
        readers: dict[int, list[int]] = {}
        for j, node in enumerate(self.nodes):
            for v in node.inputs:
                if v.id not in graph.constants and math.prod(v.shape) > 1:
                    readers.setdefault(v.id, []).append(j)
        merged = False
        for js in readers.values():
            for j in js[1:]:
                merged |= self.try_merge(self.find(js[0]), self.find(j))
        return merged

    # -- output ---------------------------------------------------------------------------
    def reason(self, g: int, kind: str, position: dict[int, int]) -> str:
        node = self.nodes[self.members[g][0]]
        if kind == "opaque":
            return f"alone: {node.prim.name} is a {node.prim.kind} op, run as its own kernel"
        note = self.notes.get(g)
        consumers = sorted(self.succ[g], key=lambda s: position[s])
        msgs = [f"its values are used by {len(consumers)} later kernels"] if len(consumers) > 1 else []
        for s in consumers[:3]:
            why = self.blocker(g, s) or "not merged (greedy order)"
            if note is not None and self.split_of.get(s, -1) == self.split_of[g]:
                why = "the next piece of the split"
            msgs.append(f"{why} (kernel {position[s]})")
        if not consumers:
            msgs.append("its results are graph outputs")
        ends = "ends: " + "; ".join(msgs[:3])
        return ends if note is None else f"{note}; {ends}"


def _kernel(groups: _Groups, g: int, k: int, position: dict[int, int]) -> Kernel:
    members = sorted(groups.members[g])
    space = groups.space[g]  # a pointwise group's kind is known (merge_pointwise)
    kind, shape = ("elementwise", space) if space is not None else groups.classify(members)
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
    with gc_paused():
        return _plan(graph)


@contextmanager
def gc_paused():
    """No cyclic garbage collection while planning: the planner allocates many small
    objects and no cycles, and every collection would walk the whole (large) graph."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _plan(graph: Graph) -> Schedule:
    groups = _Groups(graph)
    for _ in range(MAX_ROUNDS):
        changed = groups.vertical()
        changed |= groups.horizontal(graph)
        if not changed:
            break
    split_large(groups)
    order = kernel_order(groups)
    position = {g: k for k, g in enumerate(order)}
    groups.at = [None] * len(groups.nodes)
    for g, k in position.items():  # `reason` asks blocker(), which needs a valid order
        groups.pos[g] = k
        groups.at[k] = g
    return Schedule(graph, tuple(_kernel(groups, g, k, position) for k, g in enumerate(order)))
