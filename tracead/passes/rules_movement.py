"""Simplify rules on shapes: movement chains, broadcasts and trivial reductions.

Same contract as `rules.py`. Movement ops only re-index elements, so composing
or dropping them changes no value as long as the element mapping is the same.
"""
from __future__ import annotations

import numpy as np

from ..ops import shapes
from ..ops.elementwise import add_p
from ..ops.movement import broadcast_to_p, reshape_p, transpose_p
from ..ops.reduce import max_p, sum_p
from .rules import make


def _strip_ones(shape) -> tuple:
    """The shape without leading 1s: NumPy broadcasting left-pads with 1s, so two shapes
    equal after stripping broadcast identically."""
    shape = tuple(shape)
    while shape and shape[0] == 1:
        shape = shape[1:]
    return shape


def _shared_copy(reshape, ctx) -> bool:
    """Does this reshape copy (its input may be a strided view) for more readers than one?
    Composing a later reshape with it would copy the same elements a second time (a
    transposed attention output is read as (B, T, E) by a product and as (B*T, E) by
    its weight's gradient)."""
    source = ctx.producer(reshape.inputs[0])
    return source is not None and source.prim.strided and ctx.uses.get(reshape.out.id, 0) > 1


def reshape_chain(node, ctx):
    """reshape(x, x.shape) -> x; reshape(reshape(x, s1), s2) -> reshape(x, s2) (row-major
    reshapes compose; not when the inner one is a copy others read too); reshape(sum(x, keepdims=True), <dims dropped>) -> sum(x, keepdims=False)
    when the reduction has no other use (same for max)."""
    if node.prim is not reshape_p:
        return None
    x, shape = node.inputs[0], node.kwargs["shape"]
    if x.shape == tuple(shape):
        return x
    inner = ctx.producer(x)
    if inner is None:
        return None
    if inner.prim is reshape_p and not _shared_copy(inner, ctx):
        new = make(reshape_p, inner.inputs, node.out, node.source, shape=tuple(shape))
        return [new] if new is not None else None
    if inner.prim.kind == "reduce" and inner.kwargs["keepdims"] and ctx.uses.get(x.id) == 1:
        axes = inner.kwargs["axes"]
        if shapes.reduced_shape(inner.inputs[0].shape, axes, False) == tuple(shape):
            new = make(inner.prim, inner.inputs, node.out, node.source, axes=axes,
                       keepdims=False)
            return [new] if new is not None else None
    return None


def transpose_chain(node, ctx):
    """transpose(transpose(x, p), q) -> transpose(x, p[q]); the identity permutation -> x."""
    if node.prim is not transpose_p:
        return None
    perm = tuple(node.kwargs["perm"])
    if perm == tuple(range(len(perm))):
        return node.inputs[0]
    inner = ctx.producer(node.inputs[0], transpose_p)
    if inner is None:
        return None
    composed = tuple(inner.kwargs["perm"][q] for q in perm)
    if composed == tuple(range(len(composed))):
        return inner.inputs[0]
    new = make(transpose_p, inner.inputs, node.out, node.source, perm=composed)
    return [new] if new is not None else None


def _unbroadcast(var, ctx):
    """The value `var` is a broadcast (or leading-1s reshape) of, or None."""
    node = ctx.producer(var)
    if node is None:
        return None
    if node.prim is broadcast_to_p:
        return node.inputs[0]
    if node.prim is reshape_p and _strip_ones(node.inputs[0].shape) == _strip_ones(var.shape):
        return node.inputs[0]
    return None


def broadcast_chain(node, ctx):
    """broadcast_to(x, x.shape) -> x; broadcast_to(broadcast_to(x, s1), s2) -> broadcast_to(x, s2),
    and likewise through a reshape that only adds or drops leading 1s: broadcasting is
    transitive and left-pads with 1s."""
    if node.prim is not broadcast_to_p:
        return None
    x = node.inputs[0]
    if x.shape == node.out.shape:
        return x
    source = _unbroadcast(x, ctx)
    if source is None:
        return None
    new = make(broadcast_to_p, (source,), node.out, node.source, shape=node.out.shape)
    return [new] if new is not None else None


def absorb_broadcast(node, ctx):
    """op(broadcast_to(a, s), b) -> op(a, b) for an elementwise op when the result keeps its
    shape: the op broadcasts `a` itself, element for element the same."""
    if node.prim.kind != "elementwise":
        return None
    inputs = list(node.inputs)
    changed = False
    for i, v in enumerate(inputs):
        source = _unbroadcast(v, ctx)
        if source is None:
            continue
        trial = inputs[:i] + [source] + inputs[i + 1:]
        if make(node.prim, trial, node.out, node.source, **node.kwargs) is not None:
            inputs, changed = trial, True
    if not changed:
        return None
    return [make(node.prim, inputs, node.out, node.source, **node.kwargs)]


def reduce_size_one(node, ctx):
    """A reduction over axes of size 1 only (or over no axes) sees one element per output.
    max -> reshape(x). sum -> reshape(x) + 0.0: NumPy's sum starts from +0.0, so a lone -0.0
    sums to +0.0 (the + 0.0 is dropped again when x can't be -0.0)."""
    if node.prim.kind != "reduce" or node.inputs[0].dtype != node.out.dtype:
        return None
    x = node.inputs[0]
    if any(x.shape[a] != 1 for a in node.kwargs["axes"]):
        return None
    if node.prim is max_p or x.dtype.kind != "f" or ctx.never_negative_zero(x):
        new = make(reshape_p, (x,), node.out, node.source, shape=node.out.shape)
        return [new] if new is not None else None
    if node.prim is not sum_p:
        return None
    zero = ctx.new_const(np.zeros((), x.dtype))
    if x.shape == node.out.shape:
        return [make(add_p, (x, zero), node.out, node.source)]
    flat = ctx.new_var(node.out.shape, x.dtype)
    return [make(reshape_p, (x,), flat, node.source, shape=node.out.shape),
            make(add_p, (flat, zero), node.out, node.source)]


MOVEMENT_RULES = (reshape_chain, transpose_chain, broadcast_chain, absorb_broadcast, reduce_size_one)
