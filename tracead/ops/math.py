"""Elementwise math primitives: trigonometry, exp/log variants, rounding, division.

Same row format as `elementwise.py` (impl, shape rule, vjp, Numba template).
Each template must give NumPy's impl bit for bit on ±0, NaN and ±inf:
libm's `math.*` does for the smooth functions; floor division, remainder and
fmod follow NumPy's `npy_divmod`, which Numba's own `//` and `%` do not (and
integer `MIN // -1` traps in hardware), so their templates call the helpers
of `backends/numba/divmod_scalar.py`.
Rounding ops and floor division have zero gradient (as in torch), the
predicates (isnan, ...) none at all.
"""
from __future__ import annotations

import math

import numpy as np

from .. import lax, shapes
from ..prim import Prim, register
from .elementwise import _binary, _unary


def _zero_grads(g, out, *inputs):
    return tuple(lax.zeros_like(x) for x in inputs)


def _via_float64(fn):
    """A Python `math` function over an array (NumPy has no erf), in the input's float dtype."""
    vectorized = np.vectorize(fn, otypes=[np.float64])

    def impl(x):
        dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
        return vectorized(x).astype(dtype) if x.size else np.zeros(x.shape, dtype)
    return impl


# -- trigonometric and hyperbolic ------------------------------------------------
sin_p = _unary("sin", np.sin, lambda g, out, x: (g * lax.cos(x),), "math.sin({0})")
cos_p = _unary("cos", np.cos, lambda g, out, x: (lax.neg(g) * lax.sin(x),), "math.cos({0})")
tan_p = _unary("tan", np.tan, lambda g, out, x: (g * (1 + out * out),), "math.tan({0})")
asin_p = _unary("asin", np.arcsin, lambda g, out, x: (g / lax.sqrt(1 - x * x),), "math.asin({0})")
acos_p = _unary("acos", np.arccos, lambda g, out, x: (lax.neg(g) / lax.sqrt(1 - x * x),),
                "math.acos({0})")
atan_p = _unary("atan", np.arctan, lambda g, out, x: (g / (1 + x * x),), "math.atan({0})")
sinh_p = _unary("sinh", np.sinh, lambda g, out, x: (g * lax.cosh(x),), "math.sinh({0})")
cosh_p = _unary("cosh", np.cosh, lambda g, out, x: (g * lax.sinh(x),), "math.cosh({0})",
                never_negative=True)
asinh_p = _unary("asinh", np.arcsinh, lambda g, out, x: (g / lax.sqrt(x * x + 1),),
                 "math.asinh({0})")
acosh_p = _unary("acosh", np.arccosh, lambda g, out, x: (g / lax.sqrt(x * x - 1),),
                 "math.acosh({0})", never_negative=True)
atanh_p = _unary("atanh", np.arctanh, lambda g, out, x: (g / (1 - x * x),), "math.atanh({0})")

# -- exponentials and logarithms ----------------------------------------------------
log1p_p = _unary("log1p", np.log1p, lambda g, out, x: (g / (1 + x),), "math.log1p({0})")
expm1_p = _unary("expm1", np.expm1, lambda g, out, x: (g * (out + 1),), "math.expm1({0})")
log2_p = _unary("log2", np.log2, lambda g, out, x: (g / (x * math.log(2.0)),), "math.log2({0})")
log10_p = _unary("log10", np.log10, lambda g, out, x: (g / (x * math.log(10.0)),),
                 "math.log10({0})")
exp2_p = _unary("exp2", np.exp2, lambda g, out, x: (g * out * math.log(2.0),), "np.exp2({0})",
                never_negative=True)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
erf_p = _unary("erf", _via_float64(math.erf),
               lambda g, out, x: (g * (_TWO_OVER_SQRT_PI * lax.exp(lax.neg(x * x))),), "math.erf({0})")
erfc_p = _unary("erfc", _via_float64(math.erfc),
                lambda g, out, x: (g * (-_TWO_OVER_SQRT_PI * lax.exp(lax.neg(x * x))),),
                "math.erfc({0})", never_negative=True)


def _softplus_impl(x):
    # log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow, as np.logaddexp(x, 0).
    if x.dtype.kind != "f":
        x = x.astype(np.float64)
    return np.maximum(x, x.dtype.type(0)) + np.log1p(np.exp(-np.abs(x)))


softplus_p = _unary("softplus", _softplus_impl, lambda g, out, x: (g * lax.sigmoid(x),),
                    "(max({0}, 0.0) + math.log1p(math.exp(-abs({0}))))",
                    compile_weight=8, never_negative=True,  # (its exp is mathlib's, inlined)
                    doc="log(1 + exp(x)), stable; its gradient is sigmoid(x)")

_GELU_2C = 1.5957691216057308  # 2 sqrt(2 / pi)


def _gelu_impl(x):
    # 0.5 x (1 + tanh(u)) written as x / (1 + exp(-2u)): the same function without the
    # cancellation in 1 + tanh(u) for negative x (the template does the same steps).
    if x.dtype.kind != "f":
        x = x.astype(np.float64)
    with np.errstate(over="ignore"):
        return x / (1.0 + np.exp(-_GELU_2C * (x + 0.044715 * x * x * x)))


def _gelu_vjp(g, out, x):
    # From x alone: a compiled step keeps only the GELU input from forward to
    # backward, not the intermediates of the formula.
    s = lax.sigmoid(_GELU_2C * (x + 0.044715 * x * x * x))
    return (g * (s + x * s * (1.0 - s) * (_GELU_2C * (1.0 + 0.134145 * x * x))),)


gelu_p = _unary("gelu", _gelu_impl, _gelu_vjp,
                "({0} / (1.0 + math.exp(-1.5957691216057308 * ({0} + 0.044715 * {0} * {0} * {0}))))",
                compile_weight=8,  # (its exp is mathlib's, inlined)
                doc="GELU, tanh approximation (torch's approximate='tanh'); its gradient reads x only")

# -- rounding: float inputs only (functional passes integers through), zero gradient -
floor_p = _unary("floor", np.floor, _zero_grads, "np.floor({0})", float_result=False, cost=1)
ceil_p = _unary("ceil", np.ceil, _zero_grads, "np.ceil({0})", float_result=False, cost=1)
trunc_p = _unary("trunc", np.trunc, _zero_grads, "np.trunc({0})", float_result=False, cost=1)
round_p = _unary("round", np.round, _zero_grads, "np.round({0})", float_result=False, cost=1,
                 doc="round half to even, as np.round / np.rint")

# -- binary ---------------------------------------------------------------------------


def _atan2_vjp(g, out, y, x):
    r2 = x * x + y * y
    return g * x / r2, lax.neg(g) * y / r2


atan2_p = _binary("atan2", np.arctan2, _atan2_vjp, "math.atan2({0}, {1})", float_result=True)


def _copysign_vjp(g, out, a, b):
    # d/da copysign(a, b) = sign(a) * sign(b) = out / a; 0 at a == 0 (torch). b: none.
    safe = lax.where(a == 0, lax.ones_like(a), a)
    ratio = lax.where(a == 0, lax.zeros_like(out), out / safe)
    return g * ratio, None


copysign_p = _binary("copysign", np.copysign, _copysign_vjp, "math.copysign({0}, {1})",
                     float_result=True, cost=1)


def _floor_divide_vjp(g, out, a, b):
    return lax.zeros_like(a), lax.zeros_like(b)


def _remainder_vjp(g, out, a, b):
    # a % b = a - floor(a / b) * b, with floor(a / b) piecewise constant.
    return g, lax.neg(g) * lax.floor_divide(a, b)


def _fmod_vjp(g, out, a, b):
    return g, lax.neg(g) * lax.trunc(lax.div(a, b))


floor_divide_p = _binary("floor_divide", np.floor_divide, _floor_divide_vjp,
                         "floor_divide_scalar({0}, {1})", doc="a // b, as NumPy (floor)")
remainder_p = _binary("remainder", np.remainder, _remainder_vjp, "remainder_scalar({0}, {1})",
                      doc="a % b with the sign of b, as Python and NumPy")
fmod_p = _binary("fmod", np.fmod, _fmod_vjp, "fmod_scalar({0}, {1})",
                 doc="C fmod: the remainder with the sign of a")


# -- predicates: bool results, no gradient ------------------------------------------------
def _predicate(name, impl, template) -> Prim:
    return register(Prim(name, "elementwise", impl,
                         lambda a: shapes.elementwise(name, a, dtype=np.bool_), None, template,
                         differentiable=False, pointwise=True, cost=1))


isnan_p = _predicate("isnan", np.isnan, "np.isnan({0})")
isinf_p = _predicate("isinf", np.isinf, "np.isinf({0})")
isfinite_p = _predicate("isfinite", np.isfinite, "np.isfinite({0})")
