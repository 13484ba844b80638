"""Peer: numexpr (W1) — the value and a hand-derived gradient, as numexpr expressions.

numexpr has no common-subexpression elimination and allows a reduction only
as the outermost operation, so one expression per output would evaluate
tanh(x) and exp(-x) five times. Evaluating the three transcendentals once
into arrays, then the value and the gradient from them, was 2x faster here
(5 passes, 3 transcendentals per element instead of 2 passes and 9).

Accuracy: numexpr's `sum` accumulates sequentially in the expression's dtype;
on 4M float32 values that is 0.5% off. Multiplying by the float64 constant
`1.0` just under the `sum` makes only the accumulation double precision.
Without Intel VML (pip's numexpr has none) transcendentals are scalar libm
calls on numexpr's own threads.
"""
from __future__ import annotations

import os

import numexpr as ne

from .workloads import Case, register

ne.set_num_threads(int(os.environ.get("NUMEXPR_NUM_THREADS") or os.cpu_count() or 1))


@register("W1", "numexpr", note="tanh, sigmoid, exp(-x²) evaluated once into arrays, then value "
                                "and gradient expressions (float64 accumulation for the sum)")
def w1_numexpr(case: Case):
    x = case.data["x"]
    one, half = x.dtype.type(1.0), x.dtype.type(0.5)

    def fn():
        # ne.evaluate caches each compiled program by expression and argument types.
        env = {"x": x, "one": one, "half": half}
        env["t"] = ne.evaluate("tanh(x)", local_dict=env)
        env["s"] = ne.evaluate("one / (one + exp(-x))", local_dict=env)
        env["e"] = ne.evaluate("exp(-x * x)", local_dict=env)
        value = ne.evaluate("sum((t * s + half * x * x * e) * 1.0)", local_dict=env)
        grad = ne.evaluate("s * ((one - t * t) + t * (one - s)) + x * (one - x * x) * e", local_dict=env)
        return value, grad
    return fn
