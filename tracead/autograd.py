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


def _accumulate(cts: dict, keep: dict, tensor, ct, owned: set | None) -> None:
    """Add `ct` to `tensor`'s cotangent.

    `owned` (eager backward without create_graph) holds the ids of sums this
    walk made and has handed to no rule yet: adding into those in place is
    safe, and saves a fresh buffer per extra use of a value.
    """
    if ct._aval.dtype != tensor._aval.dtype:
        ct = lax.cast(ct, tensor._aval.dtype)
    key = id(tensor)
    keep[key] = tensor
    old = cts.get(key)
    if old is None:
        cts[key] = ct
    elif owned is not None and id(old) in owned:
        np.add(old._data, ct._data, out=old._data)
    else:
        total = cts[key] = lax.add(old, ct)
        if owned is not None:
            owned.add(id(total))


def _broadcasts_to(shape: tuple, target: tuple) -> bool:
    try:
        return broadcast_shapes(shape, target) == target
    except ValueError:
        return False


def _input_grads(node: TapeNode, inputs: tuple, grads) -> list:
    """The rule's gradients, checked and summed back to each input's shape."""
    grads = list(grads)
    if len(grads) != len(inputs):
        raise OpError(f"internal: the vjp rule of {_name(node)} returned {len(grads)} gradient(s) "
                      f"for {len(inputs)} input(s); a rule returns exactly one (or None) per input")
    for i, (inp, g) in enumerate(zip(inputs, grads)):
        if g is not None and not same_shape(g._aval.shape, inp._aval.shape):
            # Broadcasting maps inp.shape onto g.shape; anything else is a rule bug.
            if not _broadcasts_to(inp.shape, g.shape):
                raise OpError(f"internal: the vjp rule of {_name(node)} returned a gradient of "
                              f"shape {g.shape} for an input of shape {inp.shape}")
            grads[i] = lax.sum_to(g, inp.shape)
    return grads


def _name(node: TapeNode) -> str:
    return getattr(node.prim, "name", node.prim)


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
    owned = set() if tracer is None and not create_graph else None
    with state.set_grad_enabled(create_graph), np.errstate(all="ignore"):
        for root, seed in zip(roots, seeds):
            _accumulate(cts, keep, root, as_tensor(seed), None)
        for node in reversed(order):
            node_cts = _take_cotangents(node, cts, stop, owned)
            if node_cts is None:
                continue
            if tracer is not None:
                tracer.source_hint = node.source
            inputs = node.resolved_inputs()
            grads = _input_grads(node, inputs, node.call_vjp(node_cts, inputs))
            for inp, g in zip(inputs, grads):
                if g is not None and inp.requires_grad:
                    _accumulate(cts, keep, inp, g, owned)
    return order


def _take_cotangents(node: TapeNode, cts: dict, stop: set, owned: set | None) -> list | None:
    """The cotangents of `node`'s outputs, removed from `cts`; None if it has none to
    propagate (no cotangent arrived, or an output is a `stop_at` tensor)."""
    if len(node.outputs) == 1:  # the common case, kept cheap
        out = node.outputs[0]()
        if out is None or id(out) in stop:
            return None
        ct = cts.pop(id(out), None)
        if ct is None:
            return None
        if owned:
            owned.discard(id(ct))  # handed to a rule now: no longer ours to write into
        return [ct]
    outs = [ref() for ref in node.outputs]
    if any(o is not None and id(o) in stop for o in outs):
        return None
    node_cts = [cts.pop(id(o), None) if o is not None else None for o in outs]
    if owned:
        for c in node_cts:
            owned.discard(id(c))
    if all(c is None for c in node_cts):
        return None
    return [c if c is not None else lax.zeros_like(o) for c, o in zip(node_cts, outs)]


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
