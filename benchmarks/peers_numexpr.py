"""Peer: numexpr (W1) — the value and a hand-derived gradient expression.

numexpr evaluates each expression in one blocked, multi-threaded pass, so the
gradient costs one read of x and one write; the value is a second pass
(numexpr allows a reduction only as the outermost operation, and its `sum`
runs on one thread).
"""
from __future__ import annotations

import os

import numexpr as ne

from .workloads import Case, register

ne.set_num_threads(os.cpu_count() or 1)

_VALUE = "sum(tanh(x) * (one / (one + exp(-x))) + half * x * x * exp(-x * x))"
_GRAD = ("(one / (one + exp(-x))) * ((one - tanh(x) ** 2) + tanh(x) * (one - one / (one + exp(-x))))"
         " + x * (one - x * x) * exp(-x * x)")


@register("W1", "numexpr", note="numexpr: value and gradient are two expressions (two passes over x)")
def w1_numexpr(case: Case):
    x = case.data["x"]
    consts = {"one": x.dtype.type(1.0), "half": x.dtype.type(0.5)}
    value_expr = ne.NumExpr(_VALUE, signature=[("x", x.dtype.type), ("one", x.dtype.type),
                                               ("half", x.dtype.type)])
    grad_expr = ne.NumExpr(_GRAD, signature=[("x", x.dtype.type), ("one", x.dtype.type)])

    def fn():
        return value_expr(x, consts["one"], consts["half"]), grad_expr(x, consts["one"])
    return fn
