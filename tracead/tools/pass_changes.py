"""What each optimisation pass changed, in words (for `explain`).

A pass record keeps the graph after the pass; the graph before is the
previous record's (or the pipeline's input). Comparing the two as multisets
of primitive names says what the pass did without the pass having to
report it: `cse: 3 duplicate tanh merged`, `fold: 6 nodes folded into
constants (broadcast_to x4, mul x2)`.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ..ir.graph import Graph

# How each built-in pass's removals and additions read in a sentence.
_REMOVED_VERB = {"fold": "folded into constants", "cse": "duplicates merged",
                 "dce": "unused nodes removed", "simplify": "rewritten away"}


@dataclass(frozen=True, slots=True)
class PassChange:
    """One pass run: node counts before and after, and what changed, in words."""

    name: str
    nodes_before: int
    nodes_after: int
    seconds: float
    removed: tuple[tuple[str, int], ...]  # (prim name, count) that disappeared
    added: tuple[tuple[str, int], ...]  # (prim name, count) that appeared

    def describe(self) -> str:
        """One line: `cse: 3 duplicate tanh merged`, `no change`, ..."""
        if not self.removed and not self.added:
            return "no change"
        parts = []
        if self.removed:
            total = sum(n for _, n in self.removed)
            verb = _REMOVED_VERB.get(self.name, "removed")
            if self.name == "cse" and len(self.removed) == 1:
                name, n = self.removed[0]
                parts.append(f"{n} duplicate {name} merged")
            else:
                parts.append(f"{total} {verb} ({_counts(self.removed)})")
        if self.added:
            parts.append(f"{sum(n for _, n in self.added)} added ({_counts(self.added)})")
        return "; ".join(parts)


def _counts(items, limit: int = 4) -> str:
    shown = [f"{name} x{n}" if n > 1 else name for name, n in items[:limit]]
    if len(items) > limit:
        shown.append(f"+{len(items) - limit} more kinds")
    return ", ".join(shown)


def _prims(graph: Graph) -> Counter:
    return Counter(n.prim.name for n in graph.nodes)


def pass_changes(graph_in: Graph | None, records) -> list[PassChange]:
    """PassChange per record; `graph_in` is the graph the pipeline started from
    (None: the first pass shows counts only)."""
    out, before = [], graph_in
    for r in records:
        if before is None:
            removed = added = ()
        else:
            old, new = _prims(before), _prims(r.graph)
            removed = tuple(sorted((old - new).items(), key=lambda kv: (-kv[1], kv[0])))
            added = tuple(sorted((new - old).items(), key=lambda kv: (-kv[1], kv[0])))
        out.append(PassChange(r.name, r.nodes_before, r.nodes_after, r.seconds, removed, added))
        before = r.graph
    return out
