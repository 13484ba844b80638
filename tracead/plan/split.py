"""Bounded kernels: cut fusion groups too large to compile quickly (planning stage, after fuse.py).

LLVM's time for one fused loop body grows with the body: a fixed cost per
kernel, then nearly linear in its statements, a little steeper for very long
bodies; transcendental calls dominate, since LLVM inlines a mathlib routine
for each (the measured curve: benchmarks/compile_curve.md, `python -m
benchmarks.compile_time --curve`). A group over MAX_KERNEL_COST compile
weight (`compile_weight`: HEAVY_WEIGHT per transcendental call, 1 per other
statement; the budget sits at the bottom of the measured per-statement cost)
is cut into pieces within it. Each piece then compiles in bounded time, and
the pieces of a repeated structure are identical up to renaming, so with
canonical cache keys (backends/numba/cache.py) they compile once: a long
chain's gradient is many kernels but a handful of compiles. Other kinds
(rowwise, matmul epilogues) are kept within the budget by the planner.

Where to cut: every cut materialises the values that cross it (written by
one piece, read by a later one) and re-reads inputs both sides use. The cut
points minimise those bytes (a value computed here and not yet needed
outside costs a write and a read, one already materialised or an input a
read), by dynamic programming over the group's nodes in topological order
with a sliding-window minimum: linear in the group. A value whose producer
and last reader are too far apart for any piece to hold both crosses a cut
whatever the choice, so it does not count (in a gradient, the forward values
the backward reads). A cut a value of a smaller shape than the group's space
would cross is not allowed (a kernel's outputs have its full shape); a group
that cannot be cut otherwise stays whole. A reduce group keeps its reduction
in its last piece. Equal costs give equal pieces, so a repeated block is cut
the same way every time.
"""
from __future__ import annotations

from collections import deque

from .fuse_kinds import nbytes_of

# The budget of one kernel, in compile weight (see the module docstring and
# benchmarks/compile_curve.md for the measured curve).
HEAVY_WEIGHT = 8  # the `Prim.compile_weight` of a statement that inlines a long routine
MAX_KERNEL_COST = 512
MAX_KERNEL_NODES = 512
PIECE_BYTES = 4096  # what one more kernel costs (a launch), in bytes moved: breaks ties
_NEVER = float("inf")


def split_large(groups) -> bool:
    """Cut every elementwise or reduce group of `groups` (a fuse._Groups) over
    MAX_KERNEL_COST or MAX_KERNEL_NODES; True if any was cut. Notes each piece's reason in groups.notes."""
    changed = False
    nodes = groups.nodes
    large = [g for g, m in groups.members.items()
             if len(m) > MAX_KERNEL_NODES or sum(compile_weight(nodes[i]) for i in m) > MAX_KERNEL_COST]
    for g in large:
        members = sorted(groups.members[g])
        space = groups.space[g]  # a pointwise group's kind is known without classify
        kind = ("elementwise", space) if space is not None else groups.classify(members)
        if isinstance(kind, str) or kind[0] not in ("elementwise", "reduce"):
            continue
        if kind[0] == "reduce":  # the reduction last (it is a sink of the group)
            members = ([i for i in members if nodes[i].prim.kind != "reduce"]
                       + [i for i in members if nodes[i].prim.kind == "reduce"])
        # Values of a smaller shape (a row statistic, a scaled scalar) may not cross a cut.
        # In a pointwise group they depend only on each other (a pointwise result has the
        # broadcast shape of its inputs), so they go first, as a kernel of their own.
        small = [i for i in members if space is not None and tuple(nodes[i].out.shape) != space]
        if small:
            members = [i for i in members if tuple(nodes[i].out.shape) == space]
            if isinstance(groups.classify(small), str):
                continue  # e.g. values of two different smaller shapes: keep the group whole
        cuts, crossing = _cuts(groups, members, tuple(kind[1]))
        if not cuts:
            continue
        bounds = [0] + cuts + [len(members)]
        pieces = [members[a:b] for a, b in zip(bounds, bounds[1:])]
        # Each piece is a legal kernel by construction: only full-space values cross a
        # cut, so every piece has the group's space and the group's checks carry over.
        # (A reduce group's prologue pieces are elementwise, its last piece a reduce.)
        if space is None and any(isinstance(groups.classify(p), str) for p in pieces):
            continue  # should not happen; keep the group whole if it does
        spaces = [space] * len(pieces)
        if small:
            pieces, spaces = [small] + pieces, [None] + spaces
            crossing = [sum(nbytes_of(nodes[i].out) for i in small)] + crossing
        _install(groups, g, pieces, crossing, len(members) + len(small), spaces)
        changed = True
    if changed:
        _rebuild_edges(groups)
    return changed


def over_budget(nodes) -> str | None:
    """Why these nodes may not be one kernel for size (the planner's sentence), or None."""
    if len(nodes) > MAX_KERNEL_NODES or sum(compile_weight(n) for n in nodes) > MAX_KERNEL_COST:
        return (f"the kernel would pass the compile budget ({MAX_KERNEL_COST}, split.py), past "
                f"which LLVM's time grows fast")
    return None


def compile_weight(node) -> int:
    """LLVM work of one statement (`Prim.compile_weight`): a transcendental call inlines
    a mathlib routine."""
    return node.prim.compile_weight


def _cuts(groups, seq: list[int], space: tuple) -> tuple[list[int], list[int]]:
    """Positions (1..len-1) to cut `seq` at, and the bytes crossing each chosen cut."""
    # prefix sums of compile weights: a piece [j, t) weighs weight[t] - weight[j]
    weight = [0] * (len(seq) + 1)
    for k, i in enumerate(seq):
        weight[k + 1] = weight[k] + compile_weight(groups.nodes[i])
    cut_cost = _cut_costs(groups, seq, space, weight)
    cuts = _cheapest_cuts(weight, cut_cost)
    return cuts, [int(cut_cost[t] - PIECE_BYTES) for t in cuts]


def _cut_costs(groups, seq: list[int], space: tuple, weight: list[int]) -> list[float]:
    """The cost of a cut before each position of `seq`: the bytes of the values crossing
    it (written and read again), plus PIECE_BYTES for the extra kernel."""
    nodes, users, outputs = groups.nodes, groups.users, groups.graph_outputs
    n = len(seq)
    at = {i: k for k, i in enumerate(seq)}
    change = [0.0] * (n + 1)  # cost of a cut before position t, as a difference array

    def span(first: int, last: int, cost: float) -> None:
        """A value made (or first read) at `first` and last read at `last` crosses the cuts
        first+1 .. last. When no piece could hold both ends it crosses one whatever the
        cuts: the same for every choice, so it does not count."""
        if last > first and (weight[last + 1] - weight[first] <= MAX_KERNEL_COST
                             and last - first < MAX_KERNEL_NODES or cost == _NEVER):
            change[first + 1] += cost
            change[last + 1] -= cost

    reads: dict[int, list] = {}  # value id -> [first reader, last reader, bytes]
    for k, i in enumerate(seq):
        node = nodes[i]
        for v in node.inputs:
            if v.id not in reads:
                reads[v.id] = [k, k, nbytes_of(v)]
            else:
                reads[v.id][1] = k
        inside = [at[u] for u in users[i] if u in at]
        if inside:
            outside = node.out.id in outputs or len(inside) < len(users[i])
            cost = (_NEVER if tuple(node.out.shape) != space
                    else nbytes_of(node.out) * (1 if outside else 2))
            span(k, max(inside), cost)
    produced = {nodes[i].out.id for i in seq}
    for vid, (first, last, nbytes) in reads.items():
        if vid not in produced:  # an input of the group: read again by each later piece
            span(first, last, nbytes)
    cut_cost, running = [0.0] * n, 0.0
    for t in range(n):
        running += change[t]
        cut_cost[t] = running + PIECE_BYTES
    return cut_cost


def _cheapest_cuts(weight: list[int], cut_cost: list[float]) -> list[int]:
    """The cuts of least total cost leaving every piece within the budgets ([] if none)."""
    n = len(cut_cost)
    # best[t]: least cost of pieces covering seq[:t] with a cut at t (best[0] = 0); the
    # candidates j for the piece [j, t) form a sliding window: a deque keeps its minimum.
    best, back = [0.0] + [_NEVER] * n, [0] * (n + 1)
    window: deque[int] = deque([0])
    for t in range(1, n + 1):
        while window and (weight[t] - weight[window[0]] > MAX_KERNEL_COST
                          or t - window[0] > MAX_KERNEL_NODES):
            window.popleft()
        if not window:
            return []  # one node alone is over the limit (cannot happen with these weights)
        j = window[0]
        best[t] = best[j] + (cut_cost[t] if t < n else 0.0)
        back[t] = j
        while window and best[window[-1]] >= best[t]:
            window.pop()
        window.append(t)
    if best[n] == _NEVER:
        return []
    cuts, t = [], back[n]
    while t > 0:
        cuts.append(t)
        t = back[t]
    cuts.reverse()
    return cuts


def _install(groups, g: int, pieces: list[list[int]], crossing: list[int], total: int, spaces) -> None:
    del groups.members[g], groups.last[g], groups.space[g], groups.weight[g]
    for k, piece in enumerate(pieces):
        pid = min(piece)
        for i in piece:
            groups.parent[i] = pid
        groups.members[pid] = piece
        groups.last[pid] = max(piece)
        groups.space[pid] = spaces[k]
        groups.weight[pid] = sum(compile_weight(groups.nodes[i]) for i in piece)
        moved = f"; the cut before it adds {crossing[k - 1]:,} B of memory traffic" if k else ""
        groups.split_of[pid] = g
        groups.notes[pid] = (f"split {k + 1}/{len(pieces)}: its group of {total} nodes passed the "
                             f"compile budget of {MAX_KERNEL_COST} (statements, a transcendental call "
                             f"counting {HEAVY_WEIGHT}), past which LLVM's time grows fast{moved}")


def _rebuild_edges(groups) -> None:
    groups.succ = {g: set() for g in groups.members}
    groups.pred = {g: set() for g in groups.members}
    for j, prods in enumerate(groups.producers):
        gj = groups.find(j)
        for i in prods:
            gi = groups.find(i)
            if gi != gj:
                groups.succ[gi].add(gj)
                groups.pred[gj].add(gi)
