"""Vectorisable reduction steps for Numba-generated loops (backend stage: codegen helpers).

A reduction loop ``acc = acc + f(x[i])`` does not vectorise with floats: IEEE
addition is not associative, so LLVM must add in order, one element at a
time, and the whole loop body, ``f`` included, stays scalar. Generated
kernels write the step as a call instead::

    acc = add_reassoc(acc, v)   # acc + v; this add (only this one) may be reordered
    acc = fmaximum(acc, v)      # llvm.maximum: NaN wins; max(-0.0, +0.0) is +0.0

``add_reassoc`` is an ``fadd`` carrying LLVM's ``reassoc`` flag, so the loop
vectoriser keeps the running sum as SIMD partial sums (8 x f32 or 4 x f64 per
register, usually several registers) and adds them up after the loop. The
sum is then exact up to that order: the same rounding errors as a sequential
sum in the accumulator's dtype, spread over the partial sums. Every other
operation keeps strict IEEE semantics (no fast-math flags anywhere else).
``fmaximum`` is ``llvm.maximum``, whose reductions LLVM vectorises, whereas
Numba's ``np.maximum`` is branches around NaN checks. Integer steps are
plain ``+`` / ``np.maximum`` (integer reductions vectorise as they are).

From plain Python (``jit=False``) they are ``acc + x`` and ``np.maximum``.
Bump ``VERSION`` when the code here changes (it is part of kernel cache keys).
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload

__all__ = ["VERSION", "add_reassoc", "fmaximum"]
VERSION = "1"


@intrinsic
def _fadd_reassoc(typingctx, a, b):
    if isinstance(a, types.Float) and a == b:
        return a(a, b), lambda context, builder, sig, args: builder.fadd(*args, flags=("reassoc",))
    return None


@intrinsic
def _fmaximum(typingctx, a, b):
    if isinstance(a, types.Float) and a == b:
        def codegen(context, builder, sig, args):
            fty = args[0].type
            fn = builder.module.declare_intrinsic("llvm.maximum", [fty], ir.FunctionType(fty, [fty, fty]))
            return builder.call(fn, args)
        return a(a, b), codegen
    return None


def add_reassoc(acc, x):
    """acc + x as a reduction step (see the module doc)."""
    return acc + x


def fmaximum(acc, x):
    """np.maximum(acc, x) as a reduction step (see the module doc)."""
    return np.maximum(acc, x)


@overload(add_reassoc)
def _add_reassoc_typed(acc, x):
    if isinstance(acc, types.Float) and acc == x:
        return lambda acc, x: _fadd_reassoc(acc, x)
    return lambda acc, x: acc + x


@overload(fmaximum)
def _fmaximum_typed(acc, x):
    if isinstance(acc, types.Float) and acc == x:
        return lambda acc, x: _fmaximum(acc, x)
    return lambda acc, x: np.maximum(acc, x)
