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
        # A Python product, not np.prod: symbolic sizes (symint.py) stay symbolic.
        n = 1
        for d in self.shape:
            n = n * d
        return n

    @property
    def nbytes(self) -> int:
        return self.size * np.dtype(self.dtype).itemsize


@dataclass(frozen=True, slots=True)
class Aval(Shaped):
    """An abstract value: what the tracer knows about a tensor."""

    shape: tuple[int, ...]
    dtype: np.dtype


@dataclass(frozen=True, slots=True, eq=False)
class Prim:
    """One primitive operation. See the module docstring.

    A row is one object: it compares and hashes by identity (`node.prim is
    reshape_p`, tables keyed by the row), and copies and pickles to itself.
    """

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

    # -- What passes, planners, cost models and backends know about the op. They ask
    # these fields, never the op's name. Each default is the safe answer for a new
    # row: expensive, not commutative, not pointwise, never aliasing its input.
    # Work per element in a loop, in SIMD adds: 0 free (the loop does nothing:
    # broadcast_to, stop_gradient), 1 about one instruction (add, compare, floor),
    # 8 a division, square root or mathlib/libm call. The fusion planner recomputes
    # only ops of cost <= 1 per element of a larger loop; the parallel threshold and
    # rowwise row buffers weigh kernels by it.
    cost: int = 8
    # LLVM compile time of the op's loop statement, in ordinary statements: 8 where
    # the statement expands into a long inlined routine (mathlib's exp/log/tanh,
    # pow, sqrt), else 1. The planner cuts kernels at a budget of it.
    compile_weight: int = 1
    # flops(out, *inputs, **params) -> floating-point operations of one node (avals
    # in), for profile; None counts 0 (only matmul is counted today).
    flops: Callable[..., int] | None = None
    # Binary and f(a, b) == f(b, a) bit for bit (CSE compares inputs as a set).
    commutative: bool = False
    # A loop over the output's index space evaluates it element by element from
    # its inputs' (broadcast) elements, with `template`. Every elementwise op is;
    # so is broadcast_to (the loop reads its input at the broadcast index).
    pointwise: bool = False
    # Every result is >= +0.0 or NaN (never -0.0 or negative): `x + 0.0` is x.
    never_negative: bool = False
    # Memory. `view`: `impl` returns a view of input 0, never a buffer of its own
    # (reshape, transpose): planners give it none and keep its base alive.
    # `shares_input`: `impl`'s result may share memory with input 0 (a view or
    # input 0 itself): True, or a predicate over the params (getitem: basic
    # indexing only). Wider than `view`: stop_gradient returns its input, but a
    # compiled loop copies it. (broadcast_to copies: its view would be read-only.)
    # `strided`: that shared result may be non-contiguous (transpose, getitem).
    view: bool = False
    shares_input: bool | Callable[..., bool] = False
    strided: bool = False
    # The output is input 0 with some elements overwritten (index_update): an eager
    # in-place write records it, and the tape walks back through it to the value
    # before the write.
    indexed_write: bool = False

    def __repr__(self) -> str:
        return f"Prim({self.name})"

    def apply(self, args, params: dict, out=None, into: np.ndarray | None = None) -> np.ndarray:
        """`impl` on concrete arrays: the one way every stage runs a primitive.

        Eager dispatch, the reference interpreter, constant folding, the
        Numba backend's opaque steps and timed runs all call this, so they
        agree bit for bit. `out` (an Aval or an ir Var) is what the shape rule
        declared: the result is cast to its dtype (NumPy computes exp of int8
        in float16, the rule says float64). Without `out`, the shape rule is
        asked (constants computed outside any graph). Shapes are checked by
        the callers that index the result without bounds checks (a traced
        shape may be symbolic).

        `into`: a buffer of `out`'s shape and dtype that `impl` writes the result
        into, NumPy's `out=` (matmul's planned buffer in a compiled step): no
        result array, no copy. Only for impls that take `out=`.
        """
        if into is not None:
            self.impl(*args, **params, out=into)
            return into
        if out is None:
            out = self.shape_rule(*(Aval(a.shape, a.dtype) for a in args), **params)
        result = np.asarray(self.impl(*args, **params))
        if result.dtype != out.dtype:
            result = result.astype(out.dtype)
        return result

    def __reduce_ex__(self, protocol):  # copy / pickle a registered row as the row itself
        if PRIMS.get(self.name) is self:
            return (_registered, (self.name,))
        return super().__reduce_ex__(protocol)

    @property
    def cheap(self) -> bool:
        """Cheap enough to recompute per element of a larger loop (cost <= 1)."""
        return self.cost <= 1

    def may_share_input(self, params: dict) -> bool:
        """Can `impl`'s result share memory with input 0, for these params?"""
        share = self.shares_input
        return share(**params) if callable(share) else bool(share)

    def count_flops(self, out, *inputs, **params) -> int:
        return 0 if self.flops is None else int(self.flops(out, *inputs, **params))


PRIMS: dict[str, Prim] = {}


def _registered(name: str) -> Prim:
    return PRIMS[name]


def register(prim: Prim) -> Prim:
    if prim.kind not in KINDS:
        raise ValueError(f"unknown kind {prim.kind!r} for {prim.name}")
    if prim.name in PRIMS:
        raise ValueError(f"primitive {prim.name} declared twice")
    if prim.differentiable and prim.vjp is None:
        raise ValueError(f"differentiable primitive {prim.name} has no vjp rule")
    problem = inconsistency(prim)
    if problem:
        raise ValueError(f"primitive {prim.name}: {problem}")
    PRIMS[prim.name] = prim
    return prim


def inconsistency(prim: Prim) -> str | None:
    """Why the row's facts contradict each other, or None."""
    if prim.commutative and prim.arity != 2:
        return "a commutative op must be binary"
    if (prim.kind == "elementwise") != (prim.pointwise and prim.kind != "movement"):
        return "elementwise ops, and only they among non-movement ops, are pointwise"
    if prim.pointwise and prim.template is None and prim.kind == "elementwise":
        return "a pointwise op needs a template for fused loops"
    if prim.view and (prim.shares_input is not True or prim.pointwise):
        return "a view shares its input always and is not computed by a loop"
    if prim.strided and prim.shares_input is False:
        return "only a result that shares its input's memory can be a strided view"
    if prim.indexed_write and prim.kind != "index":
        return "an indexed write is an index op"
    if prim.cost < 0 or prim.compile_weight < 1:
        return "cost must be >= 0 and compile_weight >= 1"
    return None
