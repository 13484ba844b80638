"""Reverse-mode autodiff: the backward walk over the tape (`tape.py`).

The walk looks up each entry's `prim.vjp`, so eager backward, traced backward
(the same code running under a tracer) and graph-to-graph autodiff
(`trace/backward.py` calls `run_backward`) share one set of rules. Rules
return one gradient per input, of the broadcast shape they computed; the walk
sums each back to its input's shape here, once (as tinygrad's gradient walk
does), so no rule un-broadcasts by itself.

As in PyTorch, `t.backward()` frees the graph it walked: a second backward
through any of its nodes raises instead of silently accumulating again,
unless the first one passed `retain_graph=True`. (`grad_of`, the functional
form behind `ta.grad`, never frees: it is pure.)
"""
from __future__ import annotations

import numpy as np

from . import lax, state
from .shapes import broadcast_shapes, same_shape
from .errors import OpError, user_source
from .tape import TapeNode, topological_nodes
from .tensor import as_tensor


def _accumulate(cts: dict, keep: dict, tensor, ct) -> None:
    if ct.dtype != tensor.dtype:
        ct = lax.cast(ct, tensor.dtype)
    key = id(tensor)
    keep[key] = tensor
    cts[key] = ct if key not in cts else lax.add(cts[key], ct)


def _broadcasts_to(shape: tuple, target: tuple) -> bool:
    try:
        return broadcast_shapes(shape, target) == target
    except ValueError:
        return False


def _input_grads(node: TapeNode, inputs: tuple, grads) -> list:
    """The rule's gradients, checked and summed back to each input's shape."""
    grads = tuple(grads)
    name = getattr(node.prim, "name", node.prim)
    if len(grads) != len(inputs):
        raise OpError(f"internal: the vjp rule of {name} returned {len(grads)} gradient(s) for "
                      f"{len(inputs)} input(s); a rule returns exactly one (or None) per input")
    out = []
    for inp, g in zip(inputs, grads):
        if g is not None and not same_shape(g.shape, inp.shape):
            # Broadcasting maps inp.shape onto g.shape; anything else is a rule bug.
            if not _broadcasts_to(inp.shape, g.shape):
                raise OpError(f"internal: the vjp rule of {name} returned a gradient of shape "
                              f"{g.shape} for an input of shape {inp.shape}")
            g = lax.sum_to(g, inp.shape)
        out.append(g)
    return out


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
    order = topological_nodes(roots)
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
                node_cts = [c if c is not None else lax.zeros_like(o) for c, o in zip(node_cts, outs)]
            if tracer is not None:
                tracer.source_hint = node.source
            inputs = node.resolved_inputs()
            grads = _input_grads(node, inputs, node.call_vjp(node_cts, inputs))
            for inp, g in zip(inputs, grads):
                if g is not None and inp.requires_grad:
                    _accumulate(cts, keep, inp, g)
    return order


def _seed_for(out, grad):
    if grad is None:
        if out.size != 1:
            where = user_source(3)
            raise OpError(
                f"backward: output has shape {out.shape} ({out.size} elements); a seed "
                f"is only implied for single-element outputs, pass grad= of the same shape"
                + (f" at {where}" if where else ""))
        return lax.ones_like(out)
    seed = as_tensor(grad, dtype=out.dtype)
    if seed.shape != out.shape:
        raise OpError(f"backward: grad has shape {seed.shape} but the output has shape {out.shape}")
    return seed


def backward(out, grad=None, retain_graph: bool = False) -> None:
    """Reverse-mode autodiff from this tensor: accumulate d(self)/d(leaf) into each leaf's `.grad`.

    `grad` is the seed (default ones for a one-element tensor; required otherwise, as in PyTorch).
    Frees the graph, as PyTorch: backward through it again raises unless this call passes
    `retain_graph=True`. (Installed as `Tensor.backward`.)
    """
    if not out.requires_grad:
        raise OpError("backward: the tensor does not require grad (no input had "
                      "requires_grad=True, or it was computed under no_grad)")
    seed = _seed_for(out, grad)
    cts, keep = run_backward([out], [seed], create_graph=False, free_graph=not retain_graph)
    with state.no_grad():
        for key, ct in cts.items():
            leaf = keep[key]
            if leaf._tape is None and leaf.requires_grad:
                leaf.grad = ct if leaf.grad is None else lax.add(leaf.grad, ct)


def grad_of(out, wrt, seed=None, create_graph: bool = False) -> list:
    """d out / d wrt for each tensor in `wrt` (None where independent)."""
    seed = _seed_for(out, seed)
    if not out.requires_grad:
        return [None] * len(wrt)
    cts, _ = run_backward([out], [seed], create_graph, stop_at=wrt)
    return [cts.get(id(w)) for w in wrt]
