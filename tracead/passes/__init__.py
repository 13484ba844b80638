"""The optimisation pipeline: named pure `Graph -> Graph` passes, in order.

`ta.compile(fn, passes=[...])` picks a different list (names or functions);
`disable=["cse"]` drops passes by name. Each run is recorded (name, node
counts before/after, time) so `explain` can show what every pass did.
With `TRACEAD_DEBUG>=1` (or `verify=True`) the IR's invariants are checked
after every pass, so a broken rewrite is named where it happens.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from .. import config
from ..ir.graph import Graph
from ..ir.verify import GraphError, verify as verify_graph
from .alias import keep_eager_aliasing
from .cse import cse
from .dce import dce
from .fold import fold
from .simplify import simplify

__all__ = ["PASSES", "PIPELINE", "PassRecord", "resolve", "run_pipeline"]

PASSES = {"fold": fold, "simplify": simplify, "cse": cse, "dce": dce}
# fold first (it turns seeds and broadcast constants into values simplify can read),
# simplify before cse (rewrites expose duplicates: x**2 -> x*x meets tanh's out*out),
# dce last to drop what the others left unused. Fusion, ordering and memory
# planning read the result without rewriting it: they live in `plan/`.
PIPELINE: tuple[str, ...] = ("fold", "simplify", "cse", "dce")


@dataclass(frozen=True, slots=True)
class PassRecord:
    name: str
    nodes_before: int
    nodes_after: int
    seconds: float
    graph: Graph


def resolve(passes=None, disable=()) -> list[tuple[str, object]]:
    chosen = PIPELINE if passes is None else passes
    out = []
    for p in chosen:
        name, fn = (p, PASSES[p]) if isinstance(p, str) else (getattr(p, "__name__", repr(p)), p)
        if name not in disable:
            out.append((name, fn))
    return out


def run_pipeline(graph: Graph, passes=None, disable=(), verify: bool = False) -> tuple[Graph, list[PassRecord]]:
    """The passes, then copies of outputs the rewrites made share memory that eager's
    did not (alias.py; not a pass one may disable: it keeps results correct)."""
    records, original = [], graph
    verify = verify or config.debug_level() >= 1
    for name, fn in resolve(passes, disable):
        start = time.perf_counter()
        new = fn(graph)
        elapsed = time.perf_counter() - start
        if verify:
            _verify_after(name, new)
        records.append(PassRecord(name, len(graph.nodes), len(new.nodes), elapsed, new))
        if config.debug_level() >= 2:
            config.debug_log(2, f"-- after {name}: {len(graph.nodes)} -> {len(new.nodes)} nodes\n{new}")
        graph = new
    start = time.perf_counter()
    new = keep_eager_aliasing(original, graph)
    if new is not graph:
        if verify:
            _verify_after("unalias", new)
        records.append(PassRecord("unalias", len(graph.nodes), len(new.nodes),
                                  time.perf_counter() - start, new))
        config.debug_log(2, f"-- after unalias: outputs copied\n{new}")
    return new, records


def _verify_after(name: str, graph: Graph) -> None:
    try:
        verify_graph(graph)
    except GraphError as e:
        raise GraphError(f"the graph is invalid after pass {name!r}: {e}") from e
