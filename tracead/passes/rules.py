"""The rewrite rules of `simplify`, one function each, with why each is exact.

This file: the helpers and the identities (the node's value is one of its
inputs). `rules_forms.py`: cheaper equivalent forms. `rules_movement.py`:
shapes, broadcasts and trivial reductions.

A rule takes (node, ctx) and returns None (does not apply), a Var (the node's
value is that value: same shape and dtype, checked by the driver), or a list
of new nodes whose last one computes the value under `node.out`. Every rule
holds bit for bit for all inputs, NaN, +-inf and -0.0 included. Not here on
purpose: x*0 (NaN, inf), x-x (NaN, inf), x+0.0 when x may be -0.0,
reassociation. (x**0.5 -> sqrt is here because NumPy's power is sqrt there.)
"""
from __future__ import annotations

import numpy as np

from ..errors import TraceadError
from ..ir.graph import Node, Var, freeze_params
from ..ops.elementwise import (add_p, cast_p, div_p, mul_p, neg_p, pow_scalar_p, stop_gradient_p,
                               sub_p, where_p)
from ..ops.movement import broadcast_to_p
from ..prim import Prim


def make(prim: Prim, inputs, out: Var, source, **params) -> Node | None:
    """A new node computing `out`, or None if its type would differ from `out`'s."""
    try:
        aval = prim.shape_rule(*inputs, **params)
    except (TraceadError, TypeError, ValueError):  # the inputs don't fit the primitive
        return None
    if tuple(aval.shape) != out.shape or aval.dtype != out.dtype:
        return None
    return Node(prim, tuple(inputs), freeze_params(params), out, source)


def _same(a: Var, b: Var) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype


def is_fill(value, target: float) -> bool:
    """Is this 0-d fill value equal to target (bools only stand for 0 and 1)?"""
    if value is None or (value.dtype.kind == "b" and target not in (0, 1)):
        return False
    return bool(value == target)


def operand_pairs(node: Node):
    """(x, other) pairs for a commutative binary node."""
    a, b = node.inputs
    return ((a, b), (b, a))


# -- identities: the node is one of its inputs ------------------------------------------
def stop_gradient(node, ctx):
    """stop_gradient(x) -> x: it only matters to autodiff, which is over when passes run."""
    return node.inputs[0] if node.prim is stop_gradient_p else None


def cast_same(node, ctx):
    """cast(x, dtype) -> x when x already has that dtype (astype is a copy)."""
    if node.prim is cast_p and node.inputs[0].dtype == node.out.dtype:
        return node.inputs[0]
    return None


def _identity(x: Var, node: Node):
    """`node`'s value is x: x itself, or x broadcast to node's shape (x * ones(s) has
    shape s); None when the dtype differs (x * 1.0 promotes an integer x)."""
    if _same(x, node.out):
        return x
    new = make(broadcast_to_p, (x,), node.out, node.source, shape=node.out.shape)
    return [new] if new is not None else None


def mul_one(node, ctx):
    """x * 1 -> x: multiplying by one is exact for every x (NaN stays NaN, -0.0 stays -0.0).
    x / 1 -> x likewise. If the ones broadcast x, the result is broadcast_to(x)."""
    if node.prim is mul_p:
        for x, c in operand_pairs(node):
            if is_fill(ctx.fill(c), 1):
                result = _identity(x, node)
                if result is not None:
                    return result
    if node.prim is div_p and is_fill(ctx.fill(node.inputs[1]), 1):
        return _identity(node.inputs[0], node)
    return None


def negative_zero(value) -> bool:
    """Is this zero constant -0.0? (Integer and bool zeros convert to +0.0.)"""
    return value.dtype.kind == "f" and bool(np.signbit(value))


def add_zero(node, ctx):
    """x + (-0.0) -> x always; x + 0 -> x only if x can't be -0.0 (-0.0 + 0.0 is +0.0).
    x - 0.0 -> x always; x - (-0.0) -> x only if x can't be -0.0. Integers have no -0."""
    if node.prim is add_p:
        pairs = operand_pairs(node)
    elif node.prim is sub_p:
        pairs = ((node.inputs[0], node.inputs[1]),)
    else:
        return None
    for x, c in pairs:
        value = ctx.fill(c)
        if not is_fill(value, 0) or x.dtype != node.out.dtype:
            continue
        if negative_zero(value) == (node.prim is add_p) or ctx.never_negative_zero(x):
            result = _identity(x, node)
            if result is not None:
                return result
    return None


def double_neg(node, ctx):
    """-(-x) -> x: negation only flips the sign bit."""
    if node.prim is neg_p:
        inner = ctx.producer(node.inputs[0], neg_p)
        if inner is not None:
            return inner.inputs[0]
    return None


def pow_one(node, ctx):
    """x ** 1 -> x (IEEE pow(x, 1) is x for every x)."""
    if node.prim is pow_scalar_p and node.kwargs["exponent"] == 1:
        return node.inputs[0]
    return None


def where_same(node, ctx):
    """where(c, x, x) -> x: both branches are the same value."""
    if node.prim is where_p and node.inputs[1].id == node.inputs[2].id:
        return node.inputs[1]
    return None


IDENTITY_RULES = (stop_gradient, cast_same, mul_one, add_zero, double_neg, pow_one, where_same)
