"""The autograd tape: one entry per recorded primitive application.

A tape entry is data, not a closure: `(prim, inputs, params, outputs)`. It
hangs off its output tensor (`t._tape`); `dispatch.bind` records it and
`autograd` walks it. Kept apart from the walk so that recording an op needs
neither the walk nor any op function.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass

from .errors import OpError


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
    versions: tuple = ()  # each input's `_version` when recorded (filled in below)

    def __post_init__(self) -> None:
        if not self.versions:
            self.versions = tuple(getattr(t, "_version", 0) for t in self.inputs)

    @classmethod
    def single(cls, prim, inputs, params, out) -> "TapeNode":
        # Every eager op with a gradient makes one: filled in directly, without
        # the generated __init__ and __post_init__.
        node = object.__new__(cls)
        node.prim, node.inputs, node.params = prim, inputs, params
        node.outputs, node.source, node.freed = (weakref.ref(out),), None, False
        node.versions = tuple([t._version for t in inputs])
        return node

    def resolved_inputs(self) -> tuple:
        """The inputs as they were when this entry was recorded.

        `t[i] = v` rebinds `t` to a new value and version; the value it had
        is kept by the index_update entry the write recorded (its input 0),
        so an older version is found by walking those entries back. Without
        such an entry (the write happened with no gradient anywhere) the old
        value is gone: refuse, as torch does, rather than use the new one.
        """
        for t, seen in zip(self.inputs, self.versions):
            if t._version != seen:
                break
        else:
            return self.inputs
        return tuple(_at_version(t, seen, self.prim.name) for t, seen in
                     zip(self.inputs, self.versions))

    def call_vjp(self, cts: list, inputs: tuple):
        if len(self.outputs) == 1:
            return self.prim.vjp(cts[0], self.outputs[0](), *inputs, **self.params)
        return self.prim.vjp(cts, [ref() for ref in self.outputs], *inputs, **self.params)


def _at_version(t, seen: int, user: str):
    while t._version != seen:
        node = t._tape
        if t._version < seen or node is None or not node.prim.indexed_write:
            raise OpError(
                f"one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: {user}'s input of shape {t.shape} is at version "
                f"{t._version}; expected version {seen} instead. Write to a copy "
                f"(`y = x * 1; y[i] = v`) or use the functional `x.at[i].set(v)`")
        t = node.inputs[0]  # the value before the write
    return t


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
        for inp in node.resolved_inputs():
            if inp._tape is not None and id(inp._tape) not in visited:
                stack.append((inp._tape, False))
    return order
