"""The rewrite rules of `simplify`, one function each, with why each is exact.

A rule takes (node, ctx) and returns None (does not apply), a Var (the node's
value is that value: same shape and dtype, checked by the driver), or a list
of new nodes whose last one computes the value under `node.out`. Every rule
holds bit for bit for all inputs, NaN, +-inf and -0.0 included. Not here on
purpose: x*0 (NaN, inf), x-x (NaN, inf), x+0.0 when x may be -0.0, x**0.5 ->
sqrt (-0.0, -inf), reassociation.
"""
from __future__ import annotations

import numpy as np

from ..ir.graph import Node, Var, freeze_params
from ..ops.prim import PRIMS


def make(name: str, inputs, out: Var, source, **params) -> Node | None:
    """A new node computing `out`, or None if its type would differ from `out`'s."""
    prim = PRIMS[name]
    try:
        aval = prim.shape_rule(*inputs, **params)
    except Exception:
        return None
    if tuple(aval.shape) != out.shape or aval.dtype != out.dtype:
        return None
    return Node(prim, tuple(inputs), freeze_params(params), out, source)


def _same(a: Var, b: Var) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype


def _is(value, target: float, negative_zero: bool | None = None) -> bool:
    if value is None or value.dtype.kind == "b" and target not in (0, 1):
        return False
    if not value == target:
        return False
    if negative_zero is not None and value.dtype.kind == "f":
        return bool(np.signbit(value)) == negative_zero
    return True


def _operands(node: Node):
    """(x, other) pairs for a commutative binary node."""
    a, b = node.inputs
    return ((a, b), (b, a))


# -- identities: the node is one of its inputs ------------------------------------------
def stop_gradient(node, ctx):
    """stop_gradient(x) -> x: it only matters to autodiff, which is over when passes run."""
    return node.inputs[0] if node.prim.name == "stop_gradient" else None


def cast_same(node, ctx):
    """cast(x, dtype) -> x when x already has that dtype (astype is a copy)."""
    if node.prim.name == "cast" and node.inputs[0].dtype == node.out.dtype:
        return node.inputs[0]
    return None


def mul_one(node, ctx):
    """x * 1 -> x: multiplying by one is exact for every x (NaN stays NaN, -0.0 stays -0.0)."""
    if node.prim.name == "mul":
        for x, c in _operands(node):
            if _same(x, node.out) and _is(ctx.fill(c), 1):
                return x
    if node.prim.name == "div" and _same(node.inputs[0], node.out) and _is(ctx.fill(node.inputs[1]), 1):
        return node.inputs[0]  # x / 1 -> x, likewise
    return None


def _negative_zero(value) -> bool:
    """Is this zero constant -0.0? (Integer and bool zeros convert to +0.0.)"""
    return value.dtype.kind == "f" and bool(np.signbit(value))


def add_zero(node, ctx):
    """x + (-0.0) -> x always; x + 0 -> x only if x can't be -0.0 (-0.0 + 0.0 is +0.0).
    x - 0.0 -> x always; x - (-0.0) -> x only if x can't be -0.0. Integers have no -0."""
    name = node.prim.name
    if name == "add":
        pairs = _operands(node)
    elif name == "sub":
        pairs = ((node.inputs[0], node.inputs[1]),)
    else:
        return None
    for x, c in pairs:
        value = ctx.fill(c)
        if not _same(x, node.out) or not _is(value, 0):
            continue
        if _negative_zero(value) == (name == "add") or ctx.never_negative_zero(x):
            return x
    return None


def double_neg(node, ctx):
    """-(-x) -> x: negation only flips the sign bit."""
    if node.prim.name == "neg":
        inner = ctx.producer(node.inputs[0], "neg")
        if inner is not None:
            return inner.inputs[0]
    return None


def pow_one(node, ctx):
    """x ** 1 -> x (IEEE pow(x, 1) is x for every x)."""
    if node.prim.name == "pow_scalar" and node.kwargs["exponent"] == 1:
        return node.inputs[0]
    return None


def where_same(node, ctx):
    """where(c, x, x) -> x: both branches are the same value."""
    if node.prim.name == "where" and node.inputs[1].id == node.inputs[2].id:
        return node.inputs[1]
    return None


# -- cheaper forms ----------------------------------------------------------------------
def to_neg(node, ctx):
    """x * -1, x / -1 and (-0.0) - x (or integer 0 - x) -> -x: each only flips the sign bit
    ((-0.0) - (+0.0) = -0.0 = -(+0.0); (-0.0) - (-0.0) = +0.0 = -(-0.0)). Not +0.0 - x:
    that is +0.0 for x = +0.0."""
    name = node.prim.name
    x = None
    if name == "mul":
        x = next((x for x, c in _operands(node) if _is(ctx.fill(c), -1)), None)
    elif name == "div" and _is(ctx.fill(node.inputs[1]), -1):
        x = node.inputs[0]
    elif name == "sub":
        value = ctx.fill(node.inputs[0])
        if _is(value, 0) and (node.out.dtype.kind in "iu" or _negative_zero(value)):
            x = node.inputs[1]
    new = make("neg", (x,), node.out, node.source) if x is not None else None
    return [new] if new is not None else None


def fold_neg(node, ctx):
    """x + (-y) -> x - y, (-x) + y -> y - x, x - (-y) -> x + y, (-x) * (-y) -> x * y:
    IEEE defines subtraction as addition of the negation, and signs of products multiply."""
    name, src = node.prim.name, node.source
    if name not in ("add", "sub", "mul"):
        return None
    a, b = node.inputs
    na, nb = ctx.producer(a, "neg"), ctx.producer(b, "neg")
    candidates = []
    if name == "add" and nb is not None:
        candidates.append(("sub", (a, nb.inputs[0])))
    if name == "add" and na is not None:
        candidates.append(("sub", (b, na.inputs[0])))
    if name == "sub" and nb is not None:
        candidates.append(("add", (a, nb.inputs[0])))
    if name == "mul" and na is not None and nb is not None:
        candidates.append(("mul", (na.inputs[0], nb.inputs[0])))
    for new_name, inputs in candidates:
        new = make(new_name, inputs, node.out, src)
        if new is not None:
            return [new]
    return None


def pow_two(node, ctx):
    """x ** 2 -> x * x: NumPy computes power(x, 2) as a square, and both are one rounding."""
    if node.prim.name == "pow_scalar" and node.kwargs["exponent"] == 2:
        new = make("mul", (node.inputs[0], node.inputs[0]), node.out, node.source)
        return [new] if new is not None else None
    return None


from .rules_movement import MOVEMENT_RULES  # noqa: E402  (the rules on shapes)

RULES = (stop_gradient, cast_same, mul_one, add_zero, double_neg, pow_one, where_same,
         to_neg, fold_neg, pow_two) + MOVEMENT_RULES
