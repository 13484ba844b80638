"""Simplify rules that replace a node by a cheaper equivalent form (see rules.py)."""
from __future__ import annotations

from .rules import is_fill, make, negative_zero, operand_pairs


def to_neg(node, ctx):
    """x * -1, x / -1 and (-0.0) - x (or integer 0 - x) -> -x: each only flips the sign bit
    ((-0.0) - (+0.0) = -0.0 = -(+0.0); (-0.0) - (-0.0) = +0.0 = -(-0.0)). Not +0.0 - x:
    that is +0.0 for x = +0.0."""
    name = node.prim.name
    x = None
    if name == "mul":
        x = next((x for x, c in operand_pairs(node) if is_fill(ctx.fill(c), -1)), None)
    elif name == "div" and is_fill(ctx.fill(node.inputs[1]), -1):
        x = node.inputs[0]
    elif name == "sub":
        value = ctx.fill(node.inputs[0])
        if is_fill(value, 0) and (node.out.dtype.kind in "iu" or negative_zero(value)):
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


def pow_half(node, ctx):
    """x ** 0.5 -> sqrt(x): NumPy's power computes exponent 0.5 as sqrt (so
    power(-0.0, 0.5) is -0.0 and power(-inf, 0.5) is nan, unlike C pow); the
    rewrite keeps compiled kernels equal to the primitive's impl bit for bit."""
    if node.prim.name == "pow_scalar" and node.kwargs["exponent"] == 0.5:
        new = make("sqrt", (node.inputs[0],), node.out, node.source)
        return [new] if new is not None else None
    return None


FORM_RULES = (to_neg, fold_neg, pow_two, pow_half)
