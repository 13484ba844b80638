"""OpInfo cases of the op-breadth primitives (math, rounding, division, scans, sorting).

Appended to `opinfo.CASES`, so `test_ops.py` checks each one like the rest:
forward vs NumPy (f32/f64), VJP vs central differences, float32 vs float64
gradients and second derivatives, in every mode. Inputs outside a function's
domain are mapped in by an exact scale or shift written on both sides
(`asin(0.45 * x)`), so no new input domains are needed. Kinks and
discontinuities (rounding, floor division, sorting ties) are avoided by
the random real inputs: finite differences there see the flat pieces.
"""
from __future__ import annotations

import math

import numpy as np

import tracead as ta
from opinfo import BINARY, BINARY_SMALL, REDUCE, UNARY, Arg, OpCase, _args, _with

_erf = np.vectorize(math.erf, otypes=[np.float64])
_erfc = np.vectorize(math.erfc, otypes=[np.float64])


def _in_dtype(fn):
    """A float64 reference rounded back to the input's dtype (NumPy has no erf)."""
    return lambda x: fn(x).astype(x.dtype)


SMALL = (UNARY[0], UNARY[2])            # 0-d and (2, 3)
SCAN = (_args((2, 3)), _args((1,)), _args(()))


def _unary(name, fn, ref, samples=SMALL, **kw):
    return OpCase(name, fn, ref, samples, **kw)


def _cumprod_zero_ref(x):
    y = x.copy()
    y[..., 1] = 0
    return np.cumprod(y, axis=-1)


def _with_zero(fn):
    """fn applied to x with column 1 set to 0 (exact zeros: the gradient's hard case)."""
    mask = np.ones((2, 4))
    mask[:, 1] = 0
    return lambda x: fn(x * mask.astype(x.dtype))


MORE_CASES: list[OpCase] = [
    # -- trigonometric, hyperbolic ------------------------------------------------------
    _unary("sin", ta.sin, np.sin),
    _unary("cos", ta.cos, np.cos),
    _unary("tan", lambda x: ta.tan(0.7 * x), lambda x: np.tan(0.7 * x), prim="tan"),
    _unary("asin", lambda x: ta.asin(0.45 * x), lambda x: np.arcsin(0.45 * x), prim="asin"),
    _unary("acos", lambda x: ta.acos(0.45 * x), lambda x: np.arccos(0.45 * x), prim="acos"),
    _unary("atan", ta.atan, np.arctan),
    _unary("sinh", ta.sinh, np.sinh),
    _unary("cosh", ta.cosh, np.cosh),
    _unary("asinh", ta.asinh, np.arcsinh),
    _unary("acosh", lambda x: ta.acosh(x + 1.0), lambda x: np.arccosh(x + 1.0),
           _with(SMALL, "positive"), prim="acosh"),
    _unary("atanh", lambda x: ta.atanh(0.45 * x), lambda x: np.arctanh(0.45 * x), prim="atanh"),
    OpCase("atan2", ta.atan2, np.arctan2, tuple((a, Arg(b.shape, "away0")) for a, b in BINARY[:3])),
    # -- exponentials and logarithms --------------------------------------------------------
    _unary("log1p", ta.log1p, np.log1p, _with(SMALL, "positive")),
    _unary("expm1", ta.expm1, np.expm1),
    _unary("log2", ta.log2, np.log2, _with(SMALL, "positive")),
    _unary("log10", ta.log10, np.log10, _with(SMALL, "positive")),
    _unary("exp2", ta.exp2, np.exp2),
    _unary("erf", ta.erf, _in_dtype(_erf)),
    _unary("erfc", ta.erfc, _in_dtype(_erfc)),
    _unary("softplus", ta.softplus, lambda x: np.logaddexp(x, x.dtype.type(0)), UNARY),
    _unary("softplus_beta", lambda x: ta.softplus(x, beta=2.0),
           lambda x: np.logaddexp(2.0 * x, x.dtype.type(0)) / 2.0, UNARY[2:], prim="softplus"),
    # -- rounding (zero gradient) ----------------------------------------------------------
    *(_unary(name, fn, ref, UNARY, smooth=False)
      for name, fn, ref in (("floor", ta.floor, np.floor), ("ceil", ta.ceil, np.ceil),
                            ("trunc", ta.trunc, np.trunc), ("round", ta.round, np.round))),
    _unary("round_halves", ta.round, np.round, _with(UNARY[2:], "ints"), prim="round",
           differentiable=False),
    _unary("round_decimals", lambda x: ta.round(x, 2), lambda x: np.round(x, 2), UNARY[2:],
           prim="round", smooth=False),
    # -- division and sign ------------------------------------------------------------------
    OpCase("copysign", ta.copysign, np.copysign,
           tuple((Arg(a.shape, "away0"), Arg(b.shape, "away0")) for a, b in BINARY[:3]),
           smooth=False),
    OpCase("floor_divide", lambda a, b: a // b, np.floor_divide,
           tuple((a, Arg(b.shape, "away0")) for a, b in BINARY[:3]), smooth=False),
    OpCase("rfloordiv", lambda x: 5.0 // x, lambda x: 5.0 // x, _with(UNARY[2:], "away0"),
           prim="floor_divide", smooth=False),
    OpCase("remainder", lambda a, b: a % b, np.remainder,
           tuple((a, Arg(b.shape, "away0")) for a, b in BINARY[:3]), smooth=False),
    OpCase("fmod", ta.fmod, np.fmod, tuple((a, Arg(b.shape, "away0")) for a, b in BINARY[:3]),
           smooth=False),
    OpCase("divmod_ints", lambda a, b: (a // b) * 10 + a % b + ta.fmod(a, b),
           lambda a, b: np.floor_divide(a, b) * 10 + np.remainder(a, b) + np.fmod(a, b),
           _with(BINARY_SMALL, "ints"), differentiable=False),
    # -- predicates and logic (bool, no gradient) --------------------------------------------------
    *(_unary(name, fn, ref, _with(SMALL, "ints"), differentiable=False)
      for name, fn, ref in (("isnan", lambda x: ta.isnan(ta.log(x)), lambda x: np.isnan(np.log(x))),
                            ("isinf", lambda x: ta.isinf(1.0 / x), lambda x: np.isinf(1.0 / x)),
                            ("isfinite", lambda x: ta.isfinite(ta.log(x)),
                             lambda x: np.isfinite(np.log(x))))),
    OpCase("isclose", lambda a, b: ta.isclose(a, b + 1e-9), lambda a, b: np.isclose(a, b + 1e-9),
           _with(BINARY_SMALL, "ints"), differentiable=False),
    OpCase("logical_ops", lambda a, b: ta.logical_xor(ta.logical_and(a, b), ta.logical_not(a))
           | (a & ~b), lambda a, b: np.logical_xor(np.logical_and(a, b), np.logical_not(a))
           | (a & ~b), (_args((2, 1), (1, 3), domain="bool"),), differentiable=False),
    # -- composites ---------------------------------------------------------------------------------
    _unary("square", ta.square, np.square, UNARY),
    _unary("reciprocal", ta.reciprocal, np.reciprocal, _with(SMALL, "away0")),
    _unary("rsqrt", ta.rsqrt, lambda x: 1 / np.sqrt(x), _with(SMALL, "positive")),
    OpCase("clamp_tensor_bounds", lambda x, lo: ta.clamp(x, lo, lo + 1.0),
           lambda x, lo: np.clip(x, lo, lo + 1.0), (_args((2, 3), (1, 3)),), smooth=False),
    # -- reductions -----------------------------------------------------------------------------------
    OpCase("prod", lambda x: x.prod(), np.prod, UNARY),
    OpCase("prod_axis", lambda x: ta.prod(x, axis=(0, 2), keepdims=True),
           lambda x: np.prod(x, axis=(0, 2), keepdims=True), (_args((2, 3, 2)),), prim="prod"),
    OpCase("prod_with_zeros", _with_zero(lambda x: ta.prod(x, dim=-1)),
           _with_zero(lambda x: np.prod(x, axis=-1)), (_args((2, 4)),), prim="prod"),
    OpCase("std", lambda x: x.std(dim=-1, correction=1), lambda x: x.std(axis=-1, ddof=1), REDUCE),
    OpCase("norm", lambda x: ta.norm(x), lambda x: np.linalg.norm(x), REDUCE[:1]),
    OpCase("norm_ords", lambda x: ta.norm(x, 1, axis=0) + ta.norm(x, np.inf, axis=1).sum()
           + ta.norm(x, "fro") + ta.norm(x, 3, axis=-1).sum(),
           lambda x: np.linalg.norm(x, 1, axis=0) + np.linalg.norm(x, np.inf, axis=1).sum()
           + np.linalg.norm(x, "fro") + np.linalg.norm(x, 3, axis=-1).sum(),
           _with(REDUCE[:1], "away0"), smooth=False),
    OpCase("matrix_norm", lambda x: ta.norm(x, 1) + ta.norm(x, -np.inf),
           lambda x: np.linalg.norm(x, 1) + np.linalg.norm(x, -np.inf), _with(REDUCE[:1], "away0"),
           smooth=False),
    OpCase("any_all", lambda x: ta.any(x > 1, axis=0) ^ ta.all(x, dim=-1, keepdim=True),
           lambda x: np.any(x > 1, axis=0) ^ np.all(x, axis=-1, keepdims=True),
           _with(REDUCE[:1], "ints"), differentiable=False),
    OpCase("argmax", lambda x: ta.argmax(x, axis=1) * 10 + x.argmax(), 
           lambda x: np.argmax(x, axis=1) * 10 + x.argmax(), _with(REDUCE, "ints"),
           differentiable=False),
    OpCase("argmin", lambda x: x.argmin(dim=0, keepdim=True), lambda x: x.argmin(axis=0, keepdims=True),
           _with(REDUCE, "ints"), differentiable=False),
    # -- scans --------------------------------------------------------------------------------------------
    OpCase("cumsum", lambda x: x.cumsum(-1), lambda x: np.cumsum(x, -1).reshape(x.shape), SCAN),
    OpCase("cumsum_flat", ta.cumsum, np.cumsum, (_args((2, 3)),), prim="cumsum"),
    # torch's dim= keeps a 0-d input 0-d (NumPy's axis= gives shape (1,))
    OpCase("cumprod", lambda x: ta.cumprod(x, dim=0), lambda x: np.cumprod(x, 0).reshape(x.shape),
           SCAN),
    OpCase("cumprod_with_zeros", _with_zero(lambda x: ta.cumprod(x, -1)),
           _with_zero(lambda x: np.cumprod(x, -1)), (_args((2, 4)),), prim="cumprod"),
    OpCase("cummax", lambda x: ta.cummax(x, 1).values, lambda x: np.maximum.accumulate(x, 1),
           (_args((2, 3)),), prim="cummax_index", smooth=False),
    OpCase("cummin", lambda x: ta.cummin(x, dim=0)[0], lambda x: np.minimum.accumulate(x, 0),
           (_args((3, 2)),), prim="cummin_index", smooth=False),
    # -- sorting ---------------------------------------------------------------------------------------------
    OpCase("sort", lambda x: ta.sort(x), np.sort, (_args((2, 3)), _args((1,))), prim="argsort",
           smooth=False),
    OpCase("sort_descending_axis0", lambda x: x.sort(dim=0, descending=True).values,
           lambda x: -np.sort(-x, axis=0), (_args((3, 2)),), prim="argsort", smooth=False),
    OpCase("argsort_ties", lambda x: ta.argsort(x, axis=-1),
           lambda x: np.argsort(x, axis=-1, kind="stable"), _with(REDUCE, "ints"),
           differentiable=False),
    OpCase("topk", lambda x: ta.topk(x, 2).values, lambda x: -np.sort(-x, -1)[..., :2],
           (_args((2, 3)),), prim="argsort", smooth=False),
    OpCase("topk_smallest", lambda x: ta.topk(x, 2, dim=0, largest=False)[0],
           lambda x: np.sort(x, 0)[:2], (_args((3, 2)),), prim="argsort", smooth=False),
]


# -- edge values and empty inputs: one stacked case per family keeps the kernels few ----
from opinfo import EMPTY, SPECIAL_UNARY  # noqa: E402

_SPECIAL_UNARY_FNS = (
    (ta.sin, np.sin), (ta.cos, np.cos), (ta.tan, np.tan), (ta.asin, np.arcsin),
    (ta.acos, np.arccos), (ta.atan, np.arctan), (ta.sinh, np.sinh), (ta.cosh, np.cosh),
    (ta.asinh, np.arcsinh), (ta.acosh, np.arccosh), (ta.atanh, np.arctanh),
    (ta.log1p, np.log1p), (ta.expm1, np.expm1), (ta.log2, np.log2), (ta.log10, np.log10),
    (ta.exp2, np.exp2), (ta.erf, _in_dtype(_erf)), (ta.erfc, _in_dtype(_erfc)),
    (ta.softplus, lambda x: np.logaddexp(x, x.dtype.type(0))), (ta.floor, np.floor),
    (ta.ceil, np.ceil), (ta.trunc, np.trunc), (ta.round, np.round),
    (lambda x: ta.atan2(x, x[::-1]), lambda x: np.arctan2(x, x[::-1])),
    (lambda x: ta.copysign(x, x[::-1]), lambda x: np.copysign(x, x[::-1])),
)
_PREDICATES = ((ta.isnan, np.isnan), (ta.isinf, np.isinf), (ta.isfinite, np.isfinite),
               (lambda x: ta.isclose(x, x[::-1], equal_nan=True),
                lambda x: np.isclose(x, x[::-1], equal_nan=True)))

MORE_CASES += [
    OpCase("math_special", lambda x: ta.stack([f(x) for f, _ in _SPECIAL_UNARY_FNS]),
           lambda x: np.stack([r(x) for _, r in _SPECIAL_UNARY_FNS]), SPECIAL_UNARY,
           differentiable=False),
    OpCase("predicates_special", lambda x: ta.stack([f(x) for f, _ in _PREDICATES]),
           lambda x: np.stack([r(x) for _, r in _PREDICATES]), SPECIAL_UNARY,
           differentiable=False),
    OpCase("scans_special", lambda x: ta.cumsum(x, -1) + ta.cumprod(x, 0) + ta.sort(x, axis=-1),
           lambda x: np.cumsum(x, -1) + np.cumprod(x, 0) + np.sort(x, -1), SPECIAL_UNARY,
           differentiable=False),
    OpCase("math_empty", lambda x: ta.sin(x) * ta.floor(x) + x // 2.0 + ta.softplus(x),
           lambda x: np.sin(x) * np.floor(x) + x // 2.0 + np.logaddexp(x, x.dtype.type(0)),
           EMPTY),
    OpCase("scans_empty", lambda x: ta.cumsum(x, -1) * ta.cumprod(x, -1) + ta.sort(x),
           lambda x: np.cumsum(x, -1) * np.cumprod(x, -1) + np.sort(x), EMPTY),
    OpCase("prod_empty", lambda x: ta.prod(x, axis=-1), lambda x: np.prod(x, axis=-1), EMPTY),
]
