"""Simplify rules that replace a node by a cheaper equivalent form (see rules.py)."""
from __future__ import annotations

from ..ops.elementwise import add_p, div_p, mul_p, neg_p, pow_scalar_p, sqrt_p, sub_p
from .rules import is_fill, make, negative_zero, operand_pairs


def to_neg(node, ctx):
    """x * -1, x / -1 and (-0.0) - x (or integer 0 - x) -> -x: each only flips the sign bit
    ((-0.0) - (+0.0) = -0.0 = -(+0.0); (-0.0) - (-0.0) = +0.0 = -(-0.0)). Not +0.0 - x:
    that is +0.0 for x = +0.0."""
    prim = node.prim
    x = None
    if prim is mul_p:
        x = next((x for x, c in operand_pairs(node) if is_fill(ctx.fill(c), -1)), None)
    elif prim is div_p and is_fill(ctx.fill(node.inputs[1]), -1):
        x = node.inputs[0]
    elif prim is sub_p:
        value = ctx.fill(node.inputs[0])
        if is_fill(value, 0) and (node.out.dtype.kind in "iu" or negative_zero(value)):
            x = node.inputs[1]
    new = make(neg_p, (x,), node.out, node.source) if x is not None else None
    return [new] if new is not None else None


def fold_neg(node, ctx):
    """x + (-y) -> x - y, (-x) + y -> y - x, x - (-y) -> x + y, (-x) * (-y) -> x * y:
    IEEE defines subtraction as addition of the negation, and signs of products multiply."""
    prim, src = node.prim, node.source
    if prim is not add_p and prim is not sub_p and prim is not mul_p:
        return None
    a, b = node.inputs
    na, nb = ctx.producer(a, neg_p), ctx.producer(b, neg_p)
    candidates = []
    if prim is add_p and nb is not None:
        candidates.append((sub_p, (a, nb.inputs[0])))
    if prim is add_p and na is not None:
        candidates.append((sub_p, (b, na.inputs[0])))
    if prim is sub_p and nb is not None:
        candidates.append((add_p, (a, nb.inputs[0])))
    if prim is mul_p and na is not None and nb is not None:
        candidates.append((mul_p, (na.inputs[0], nb.inputs[0])))
    for new_prim, inputs in candidates:
        new = make(new_prim, inputs, node.out, src)
        if new is not None:
            return [new]
    return None


def pow_two(node, ctx):
    """x ** 2 -> x * x: NumPy computes power(x, 2) as a square, and both are one rounding."""
    if node.prim is pow_scalar_p and node.kwargs["exponent"] == 2:
        new = make(mul_p, (node.inputs[0], node.inputs[0]), node.out, node.source)
        return [new] if new is not None else None
    return None


def pow_half(node, ctx):
    """x ** 0.5 -> sqrt(x): NumPy's power computes exponent 0.5 as sqrt (so
    power(-0.0, 0.5) is -0.0 and power(-inf, 0.5) is nan, unlike C pow); the
    rewrite keeps compiled kernels equal to the primitive's impl bit for bit."""
    if node.prim is pow_scalar_p and node.kwargs["exponent"] == 0.5:
        new = make(sqrt_p, (node.inputs[0],), node.out, node.source)
        return [new] if new is not None else None
    return None


FORM_RULES = (to_neg, fold_neg, pow_two, pow_half)
