"""Reverse-mode autodiff over the tape.

A tape entry is data, not a closure: `(prim, inputs, params, outputs)`. The
backward pass looks up `prim.vjp`, so eager backward, traced backward (the
same code running under a tracer) and graph-to-graph autodiff share one set
of rules. The walk is iterative, so a 100,000-op chain needs no recursion.

As in PyTorch, `t.backward()` frees the graph it walked: a second backward
through any of its nodes raises instead of silently accumulating again,
unless the first one passed `retain_graph=True`. (`grad_of`, the functional
form behind `ta.grad`, never frees: it is pure.)
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from . import state
from .errors import OpError, user_source


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
        return cls(prim, inputs, params, (weakref.ref(out),))

    def resolved_inputs(self) -> tuple:
        """The inputs as they were when this entry was recorded.

        `t[i] = v` rebinds `t` to a new value and version; the value it had
        is kept by the index_update entry the write recorded (its input 0),
        so an older version is found by walking those entries back. Without
        such an entry (the write happened with no gradient anywhere) the old
        value is gone: refuse, as torch does, rather than use the new one.
        """
        if all(t._version == seen for t, seen in zip(self.inputs, self.versions)):
            return self.inputs
        return tuple(_at_version(t, seen, self.prim.name) for t, seen in
                     zip(self.inputs, self.versions))

    def call_vjp(self, cts: list, inputs: tuple):
        outs = [ref() for ref in self.outputs]
        if len(outs) == 1:
            return self.prim.vjp(cts[0], outs[0], *inputs, **self.params)
        return self.prim.vjp(cts, outs, *inputs, **self.params)


def _at_version(t, seen: int, user: str):
    while t._version != seen:
        node = t._tape
        if t._version < seen or node is None or node.prim.name != "index_update":
            raise OpError(
                f"one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: {user}'s input of shape {t.shape} is at version "
                f"{t._version}; expected version {seen} instead. Write to a copy "
                f"(`y = x * 1; y[i] = v`) or use the functional `x.at[i].set(v)`")
        t = node.inputs[0]  # the value before the write
    return t


def _topological_nodes(roots) -> list[TapeNode]:
    """Tape nodes reachable from `roots`, every node after its inputs' nodes."""
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


def _accumulate(cts: dict, keep: dict, tensor, ct) -> None:
    from .functional import add, cast

    if ct.dtype != tensor.dtype:
        ct = cast(ct, tensor.dtype)
    if ct.shape != tensor.shape:
        raise OpError(f"internal: gradient of shape {ct.shape} for a value of shape "
                      f"{tensor.shape}")
    key = id(tensor)
    keep[key] = tensor
    cts[key] = ct if key not in cts else add(cts[key], ct)


def run_backward(roots, seeds, create_graph: bool, stop_at=(), free_graph: bool = False
                 ) -> tuple[dict, dict]:
    """Propagate cotangents from `roots`; returns ({id: ct}, {id: tensor}).

    Tensors in `stop_at` keep their cotangent and are not differentiated
    further (they are the `wrt` of a nested `grad`, possibly non-leaves).
    With `free_graph` the walked nodes are marked freed (and their saved
    values dropped) afterwards.
    """
    stop = {id(t) for t in stop_at}
    cts: dict[int, object] = {}
    keep: dict[int, object] = {}
    tracer = state.current_tracer()
    hint = tracer.source_hint if tracer is not None else None
    try:
        nodes = _backward_loop(roots, seeds, create_graph, stop, cts, keep, tracer)
        if free_graph:
            for node in nodes:
                node.freed = True
                node.params = {}  # what a node saved for its vjp (a compiled call's saved values)
    finally:
        if tracer is not None:
            tracer.source_hint = hint
    return cts, keep


def _backward_loop(roots, seeds, create_graph, stop, cts, keep, tracer) -> list[TapeNode]:
    from .tensor import as_tensor

    order = _topological_nodes(roots)
    for node in order:
        if node.freed:
            raise OpError(
                f"backward: trying to backward through the graph a second time (through a "
                f"{getattr(node.prim, 'name', node.prim)} node); its values were freed by the "
                f"first .backward(). Pass .backward(retain_graph=True) to the first call if you "
                f"need to backward twice" + (f" (at {user_source(4)})" if user_source(4) else ""))
    with state.set_grad_enabled(create_graph), np.errstate(all="ignore"):
        for root, seed in zip(roots, seeds):
            _accumulate(cts, keep, root, as_tensor(seed))
        for node in reversed(order):
            outs = [ref() for ref in node.outputs]
            if any(o is not None and id(o) in stop for o in outs):
                continue
            node_cts = [cts.pop(id(o), None) if o is not None else None for o in outs]
            if all(c is None for c in node_cts):
                continue
            if len(outs) > 1:
                from .functional import zeros_like

                node_cts = [c if c is not None else zeros_like(o) for c, o in zip(node_cts, outs)]
            if tracer is not None:
                tracer.source_hint = node.source
            inputs = node.resolved_inputs()
            grads = node.call_vjp(node_cts, inputs)
            for inp, g in zip(inputs, grads):
                if g is not None and inp.requires_grad:
                    _accumulate(cts, keep, inp, g)
    return order


def _seed_for(out, grad):
    from .functional import ones_like
    from .tensor import as_tensor

    if grad is None:
        if out.size != 1:
            where = user_source(3)
            raise OpError(
                f"backward: output has shape {out.shape} ({out.size} elements); a seed "
                f"is only implied for single-element outputs, pass grad= of the same shape"
                + (f" at {where}" if where else ""))
        return ones_like(out)
    seed = as_tensor(grad, dtype=out.dtype)
    if seed.shape != out.shape:
        raise OpError(f"backward: grad has shape {seed.shape} but the output has shape {out.shape}")
    return seed


def backward(out, grad=None, retain_graph: bool = False) -> None:
    """`t.backward()`: accumulate d out / d leaf into every leaf's `.grad`; frees the
    graph unless `retain_graph` (a second backward through it then raises)."""
    if not out.requires_grad:
        raise OpError("backward: the tensor does not require grad (no input had "
                      "requires_grad=True, or it was computed under no_grad)")
    seed = _seed_for(out, grad)
    cts, keep = run_backward([out], [seed], create_graph=False, free_graph=not retain_graph)
    from .functional import add

    with state.no_grad():
        for key, ct in cts.items():
            leaf = keep[key]
            if leaf._tape is None and leaf.requires_grad:
                leaf.grad = ct if leaf.grad is None else add(leaf.grad, ct)


def grad_of(out, wrt, seed=None, create_graph: bool = False) -> list:
    """d out / d wrt for each tensor in `wrt` (None where independent)."""
    seed = _seed_for(out, seed)
    if not out.requires_grad:
        return [None] * len(wrt)
    cts, _ = run_backward([out], [seed], create_graph, stop_at=wrt)
    return [cts.get(id(w)) for w in wrt]
