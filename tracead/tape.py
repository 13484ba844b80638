"""The autograd tape: one entry per recorded primitive application.

A tape entry is data, not a closure: `(prim, inputs, params, outputs)`. It
hangs off its output tensor (`t._tape`); `dispatch.bind` records it and
`autograd` walks it. Kept apart from the walk so that recording an op needs
neither the walk nor any op function.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass


@dataclass(slots=True, eq=False)
class TapeNode:
    """One recorded primitive application."""

    prim: object
    inputs: tuple
    params: dict
    # Weak references: the outputs own their node, and a node is only walked
    # from an output that is still alive, so its outputs are alive then too.
    outputs: tuple
    source: object = None  # user source line, recorded only while tracing
    freed: bool = False  # walked by a backward() without retain_graph

    @classmethod
    def single(cls, prim, inputs, params, out) -> "TapeNode":
        return cls(prim, inputs, params, (weakref.ref(out),))

    def call_vjp(self, cts: list):
        outs = [ref() for ref in self.outputs]
        if len(outs) == 1:
            return self.prim.vjp(cts[0], outs[0], *self.inputs, **self.params)
        return self.prim.vjp(cts, outs, *self.inputs, **self.params)


def topological_nodes(roots) -> list[TapeNode]:
    """Tape nodes reachable from `roots`, every node after its inputs' nodes.

    Iterative, so a 100,000-op chain needs no recursion.
    """
    order: list[TapeNode] = []
    visited: set[int] = set()
    stack = [(r._tape, False) for r in roots if r._tape is not None]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for inp in node.inputs:
            if inp._tape is not None and id(inp._tape) not in visited:
                stack.append((inp._tape, False))
    return order
