"""Elementwise math for users: trigonometry, exp/log variants, rounding, division, logic.

Thin wrappers over the primitives of `ops/math.py` (argument lifting as in
`functional`) and composites over existing primitives where those are exact
(`square`, `reciprocal`, `isclose`, the logical ops). NumPy's names
(`arcsin`, `mod`) and torch's (`asin`, `clamp`) are both provided.
`functional` re-exports everything here.
"""
from __future__ import annotations

import numpy as np

from . import basic_functions as F
from . import lax
from .errors import op_error
from .ops import PRIMS as P
from .tensor import Tensor

__all__ = [
    "acos", "acosh", "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctan2", "arctanh",
    "around", "asin", "asinh", "atan", "atan2", "atanh", "bitwise_and", "bitwise_not",
    "bitwise_or", "bitwise_xor", "bitwise_left_shift", "bitwise_right_shift", "left_shift",
    "right_shift", "ceil", "clamp", "copysign", "cos", "cosh", "erf", "erfc",
    "exp2", "expm1", "fix", "floor", "floor_divide", "fmod", "isclose", "isfinite", "isinf",
    "isnan", "log10", "log1p", "log2", "logical_and", "logical_not", "logical_or",
    "logical_xor", "mod", "reciprocal", "remainder", "rint", "rsqrt", "sin", "sinh", "softplus",
    "square", "tan", "trunc"
]


def _unary(name: str, doc: str):
    prim = P[name]

    def op(x) -> Tensor:
        return F.bind(prim, F._lift(x))
    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


def _binary(name: str, doc: str):
    prim = P[name]

    def op(a, b) -> Tensor:
        return F.bind(prim, *F._pair(a, b))
    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


sin = _unary("sin", "Elementwise sine, like `np.sin`.")
cos = _unary("cos", "Elementwise cosine, like `np.cos`.")
tan = _unary("tan", "Elementwise tangent, like `np.tan`.")
asin = _unary("asin", "Elementwise inverse sine, like `np.arcsin` (nan outside [-1, 1]).")
acos = _unary("acos", "Elementwise inverse cosine, like `np.arccos` (nan outside [-1, 1]).")
atan = _unary("atan", "Elementwise inverse tangent, like `np.arctan`.")
sinh = _unary("sinh", "Elementwise hyperbolic sine, like `np.sinh`.")
cosh = _unary("cosh", "Elementwise hyperbolic cosine, like `np.cosh`.")
asinh = _unary("asinh", "Elementwise inverse hyperbolic sine, like `np.arcsinh`.")
acosh = _unary("acosh", "Elementwise inverse hyperbolic cosine, like `np.arccosh` (x >= 1).")
atanh = _unary("atanh", "Elementwise inverse hyperbolic tangent, like `np.arctanh` (|x| < 1).")
log1p = _unary("log1p", "log(1 + x), accurate for small x, like `np.log1p`.")
expm1 = _unary("expm1", "exp(x) - 1, accurate for small x, like `np.expm1`.")
log2 = _unary("log2", "Base-2 logarithm, like `np.log2`.")
log10 = _unary("log10", "Base-10 logarithm, like `np.log10`.")
exp2 = _unary("exp2", "2 ** x, like `np.exp2`.")
erf = _unary("erf", "The error function, like `math.erf` / `torch.erf`.")
erfc = _unary("erfc", "The complementary error function 1 - erf(x), accurate for large x.")
isnan = _unary("isnan", "Elementwise `x != x` test, like `np.isnan` (bool, no gradient).")
isinf = _unary("isinf", "Elementwise test for +-inf, like `np.isinf` (bool, no gradient).")
isfinite = _unary("isfinite", "Elementwise test for finite values, like `np.isfinite` (bool).")
atan2 = _binary("atan2", "Elementwise angle of the point (x2, x1): `atan2(x1, x2)`, like `np.arctan2`.")
copysign = _binary("copysign", "|a| with the sign of b, like `np.copysign` (no gradient to b).")
fmod = _binary("fmod", "C-style remainder with the sign of `a`, like `np.fmod` / `torch.fmod`.")
arcsin, arccos, arctan, arctan2 = asin, acos, atan, atan2
arcsinh, arccosh, arctanh = asinh, acosh, atanh


def softplus(x, beta: float = 1.0) -> Tensor:
    """log(1 + exp(beta * x)) / beta, computed without overflow (torch.nn.functional.softplus)."""
    x = F._lift(x)
    if beta == 1:
        return F.bind(P["softplus"], x)
    return F.bind(P["softplus"], x * beta) / beta


def _rounding(name: str, doc: str):
    prim = P[name]

    def op(x) -> Tensor:
        x = F._lift(x)
        # Integers are already whole: NumPy returns them unchanged (same dtype).
        return x if x.dtype.kind in "biu" else F.bind(prim, x)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


floor = _rounding("floor", "Largest whole number <= x, like `np.floor` (zero gradient).")
ceil = _rounding("ceil", "Smallest whole number >= x, like `np.ceil` (zero gradient).")
trunc = _rounding("trunc", "x rounded toward zero, like `np.trunc` (zero gradient).")
rint = _rounding("round", "x rounded to the nearest whole number, halves to even, like `np.rint`.")
fix = trunc


def round(x, decimals: int = 0) -> Tensor:
    """x rounded to `decimals` places, halves to even, like `np.round` (zero gradient)."""
    x = F._lift(x)
    if decimals == 0 or x.dtype.kind in "biu":
        return rint(x)
    # NumPy's own steps: scale, round half to even, unscale.
    if decimals > 0:
        scale = 10.0 ** decimals
        return rint(x * scale) / scale
    scale = 10.0 ** -decimals
    return rint(x / scale) * scale


around = round


def _no_bools(op: str, a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    # NumPy divides bools as int8.
    if a.dtype == np.bool_ and b.dtype == np.bool_:
        return F.cast(a, np.int8), F.cast(b, np.int8)
    return a, b


def floor_divide(a, b) -> Tensor:
    """a // b rounded toward -inf, like `np.floor_divide` and Python (zero gradient)."""
    return F.bind(P["floor_divide"], *_no_bools("floor_divide", *F._pair(a, b)))


def remainder(a, b) -> Tensor:
    """a % b with the sign of b, like `np.remainder` and Python (torch.remainder)."""
    return F.bind(P["remainder"], *_no_bools("remainder", *F._pair(a, b)))


mod = remainder


def reciprocal(x) -> Tensor:
    """1 / x (integers give float64, as NumPy's true division)."""
    return F.div(1, F._lift(x))


def rsqrt(x) -> Tensor:
    """1 / sqrt(x), like `torch.rsqrt`."""
    return F.div(1, F.sqrt(x))


def square(x) -> Tensor:
    """x * x, like `np.square`."""
    x = F._lift(x)
    return F.mul(x, x)


def clamp(x, min=None, max=None) -> Tensor:
    """`torch.clamp`: x limited to [min, max] (numbers or tensors; either may be None)."""
    return F.clip(x, min, max)


def isclose(a, b, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False) -> Tensor:
    """|a - b| <= atol + rtol * |b| elementwise, like `np.isclose` (equal infinities are close)."""
    a, b = F._pair(a, b)
    if a.dtype.kind != "f" and b.dtype.kind != "f":
        a = F.cast(a, np.float64)
    a, b = F.stop_gradient(a), F.stop_gradient(b)
    within = F.le(F.abs(a - b), atol + rtol * F.abs(b))
    close = logical_or(F.eq(a, b), logical_and(within, logical_and(isfinite(a), isfinite(b))))
    if equal_nan:
        close = logical_or(close, logical_and(isnan(a), isnan(b)))
    return close


def _truth(op: str, x) -> Tensor:
    x = F._lift(x)
    return x if x.dtype == np.bool_ else F.ne(x, 0)


def logical_not(x) -> Tensor:
    """Elementwise not, like `np.logical_not` (nonzero is true)."""
    return F.eq(_truth("logical_not", x), False)


def logical_and(a, b) -> Tensor:
    """Elementwise and, like `np.logical_and` (nonzero is true)."""
    return F.where(_truth("logical_and", a), _truth("logical_and", b), False)


def logical_or(a, b) -> Tensor:
    """Elementwise or, like `np.logical_or` (nonzero is true)."""
    return F.where(_truth("logical_or", a), True, _truth("logical_or", b))


def logical_xor(a, b) -> Tensor:
    """Elementwise exclusive or, like `np.logical_xor` (nonzero is true)."""
    return F.ne(_truth("logical_xor", a), _truth("logical_xor", b))


def _bits(op: str, logical, *xs) -> Tensor:
    """`&`, `|`, `^`, `~`: the logical op on bool tensors (masks), the bit op on integers."""
    out = list(F._pair(*xs)) if len(xs) == 2 else [F._lift(xs[0])]
    if all(x.dtype == np.bool_ for x in out):
        return logical(*out)
    if all(x.dtype.kind in "iub" for x in out):
        return getattr(lax, f"bitwise_{op}")(*(F.cast(x, np.int64) if x.dtype == np.bool_ else x
                                                for x in out))
    raise op_error(f"bitwise_{op}", "needs bool or integer tensors; for floats use "
                   "logical_and / logical_or / logical_xor / logical_not", *out, type_error=True)


def bitwise_and(a, b) -> Tensor:
    """`a & b`: logical and of masks, bitwise and of integers."""
    return _bits("and", logical_and, a, b)


def bitwise_or(a, b) -> Tensor:
    """`a | b`: logical or of masks, bitwise or of integers."""
    return _bits("or", logical_or, a, b)


def bitwise_xor(a, b) -> Tensor:
    """`a ^ b`: logical xor of masks, bitwise xor of integers."""
    return _bits("xor", logical_xor, a, b)


def bitwise_not(x) -> Tensor:
    """`~x`: logical not of a mask, bitwise not (-x - 1) of integers."""
    return _bits("not", logical_not, x)


def _shift(name: str, a, b) -> Tensor:
    a, b = F._pair(a, b)
    if a.dtype.kind not in "iu" or b.dtype.kind not in "iu":
        raise op_error(name, "shifts need integer tensors", a, b, type_error=True)
    return getattr(lax, name)(a, b)


def left_shift(a, b) -> Tensor:
    """`a << b` on integers, like `np.left_shift` / torch.bitwise_left_shift."""
    return _shift("left_shift", a, b)


def right_shift(a, b) -> Tensor:
    """`a >> b` on integers (arithmetic for signed), like `np.right_shift`."""
    return _shift("right_shift", a, b)


bitwise_left_shift, bitwise_right_shift = left_shift, right_shift
