"""The graph IR: a flat SSA list of nodes in topological order (jaxpr, fx).

`Graph(inputs, nodes, outputs, constants)`; `Node(prim, inputs, params, out,
source)`; `Var(id, shape, dtype)`. Params are a sorted tuple of (name, value)
pairs whose values are tuples, numbers or strings, so nodes hash and compare
by value (CSE and cache keys stay trivial). The IR is plain data: passes build
new graphs instead of mutating this one.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from ..errors import SourceLoc
from ..prim import Aval, Prim, Shaped
from .printer import format_graph


@dataclass(frozen=True, slots=True)
class Var(Shaped):
    id: int
    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def aval(self) -> Aval:
        return Aval(self.shape, self.dtype)


@dataclass(frozen=True, slots=True)
class Node:
    prim: Prim
    inputs: tuple[Var, ...]
    params: tuple[tuple[str, object], ...]
    out: Var
    source: SourceLoc | None = field(default=None, compare=False)

    @property
    def kwargs(self) -> dict:
        return dict(self.params)


def freeze_params(params: dict) -> tuple[tuple[str, object], ...]:
    return tuple(sorted(params.items()))


@dataclass(frozen=True, slots=True)
class Graph:
    inputs: tuple[Var, ...]
    nodes: tuple[Node, ...]
    outputs: tuple[Var, ...]
    # Constant values by Var id. Constants are not inputs: passes may fold them.
    constants: dict = field(default_factory=dict, compare=False)

    def constant_vars(self) -> list[Var]:
        seen: dict[int, Var] = {}
        for n in self.nodes:
            for v in n.inputs:
                if v.id in self.constants:
                    seen[v.id] = v
        for v in self.outputs:
            if v.id in self.constants:
                seen[v.id] = v
        return list(seen.values())

    def replace(self, **changes) -> "Graph":
        fields = {"inputs": self.inputs, "nodes": self.nodes, "outputs": self.outputs,
                  "constants": self.constants}
        fields.update(changes)
        return Graph(**fields)

    def fingerprint(self) -> str:
        """A content hash of the graph (structure, shapes, params, constants)."""
        h = hashlib.sha256(format_graph(self, sources=False).encode())
        for v in self.constant_vars():
            h.update(np.ascontiguousarray(self.constants[v.id]).tobytes())
        return h.hexdigest()

    def __str__(self) -> str:
        return format_graph(self)


class VarFactory:
    """Hands out fresh Var ids within one graph-building session."""

    def __init__(self, start: int = 0) -> None:
        self.next_id = start

    def new(self, shape, dtype) -> Var:
        var = Var(self.next_id, tuple(shape), np.dtype(dtype))
        self.next_id += 1
        return var

    @classmethod
    def after(cls, graph: Graph) -> "VarFactory":
        ids = [v.id for v in graph.inputs] + [n.out.id for n in graph.nodes] + list(graph.constants)
        return cls(max(ids, default=-1) + 1)
