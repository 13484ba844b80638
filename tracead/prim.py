"""The primitive table: the single source of truth for every op.

Each primitive is declared once, as a frozen `Prim`, with everything every
stage needs: eager mode and the reference interpreter call `impl`; the tracer
and the verifier call `shape_rule`; autodiff (eager tape and graph-to-graph)
calls `vjp`; the Numba code generator substitutes `template`.

A `vjp` rule receives `(ct, out, *inputs, **params)` as Tensors and returns
exactly one cotangent (or None for "no gradient") per input. It is written
only with the primitive layer (`tracead.lax`), so gradients are themselves
differentiable and traceable. A cotangent may have the broadcast shape of the
op's output: the backward walk sums it back to the input's shape once
(`lax.sum_to`), so rules never un-broadcast themselves.

This module is the bottom layer: declaring a primitive needs nothing above
it. The op rows in `tracead/ops/` register into `PRIMS` when imported.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

# What a primitive is, for the passes: elementwise ops fuse into loops,
# reductions end a loop nest, movement ops change indexing only, the rest
# (matmul, gather/scatter, concatenate) are kernel boundaries.
KINDS = ("elementwise", "reduce", "movement", "matmul", "index", "opaque")


class Shaped:
    """ndim / size / nbytes of anything with `shape` and `dtype` (Aval, ir.Var)."""

    __slots__ = ()

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(math.prod(self.shape))  # exact, and far cheaper than np.prod on a tuple

    @property
    def nbytes(self) -> int:
        return self.size * np.dtype(self.dtype).itemsize


@dataclass(frozen=True, slots=True)
class Aval(Shaped):
    """An abstract value: what the tracer knows about a tensor."""

    shape: tuple[int, ...]
    dtype: np.dtype


@dataclass(frozen=True, slots=True)
class Prim:
    """One primitive operation. See the module docstring."""

    name: str
    kind: str
    impl: Callable[..., np.ndarray]
    shape_rule: Callable[..., Aval]
    vjp: Callable | None = None
    # Numba scalar template, e.g. "math.exp({0})"; params appear by name,
    # e.g. "{0} ** {exponent}". None for ops with hand-written kernels.
    template: str | None = None
    # False for ops whose output has no useful derivative (comparisons):
    # they cut the tape instead of contributing zeros.
    differentiable: bool = True
    # -1 for variadic primitives (concatenate).
    arity: int = 1
    doc: str = field(default="", compare=False)

    def __repr__(self) -> str:
        return f"Prim({self.name})"

    def apply(self, args, params: dict, out=None) -> np.ndarray:
        """`impl` on concrete arrays: the one way every stage runs a primitive.

        Eager dispatch, the reference interpreter, constant folding, the
        Numba backend's opaque steps and timed runs all call this, so they
        agree bit for bit. `out` (an Aval or an ir Var) is what the shape rule
        declared: the result is cast to its dtype (NumPy computes exp of int8
        in float16, the rule says float64) and must have its shape, since
        later kernels index it without bounds checks. Without `out`, the
        shape rule is asked (constants computed outside any graph).
        """
        if out is None:
            out = self.shape_rule(*(Aval(a.shape, a.dtype) for a in args), **params)
        result = np.asarray(self.impl(*args, **params))
        if result.dtype != out.dtype:
            result = result.astype(out.dtype)
        if result.shape != out.shape:
            raise ValueError(f"internal: {self.name} returned shape {result.shape}, its shape "
                             f"rule says {out.shape}")
        return result


PRIMS: dict[str, Prim] = {}


def register(prim: Prim) -> Prim:
    if prim.kind not in KINDS:
        raise ValueError(f"unknown kind {prim.kind!r} for {prim.name}")
    if prim.name in PRIMS:
        raise ValueError(f"primitive {prim.name} declared twice")
    if prim.differentiable and prim.vjp is None:
        raise ValueError(f"differentiable primitive {prim.name} has no vjp rule")
    PRIMS[prim.name] = prim
    return prim
