"""Vectorisable scalar math for Numba-generated kernels (backend stage: codegen helpers).

This llvmlite has no SVML, so ``math.exp`` / ``math.log`` / ``math.tanh`` in a
Numba loop are opaque libm calls and the loop stays scalar.  These functions
are plain float arithmetic (plus bit tricks in tiny LLVM intrinsics) that LLVM
inlines, so ``out[i] = fexp(x[i])`` compiles to 8 x f32 / 4 x f64 AVX2 code::

    from tracead.backends.numba.mathlib import fexp, fexpm1, flog, flog1p, ftanh, fsigmoid

Use them in any ``@njit`` code.  float32 in -> float32 out, computed with
float32 constants; float64 -> float64; ints/bools -> float64.  (A bare Python
float literal in the caller, ``0.5 * v`` with v float32, makes v float64:
generated float32 code must spell constants as float32.)  From plain Python
they fall back to NumPy.  They are ``@overload``s without Numba-IR inlining:
LLVM inlines them anyway, and compiles much faster than ``inline="always"``.

Algorithms (branch-free: clamps / special cases are LLVM ``select``s; Horner
polynomials use llvm.fmuladd; coefficients are weighted minimax fits):

* 2**k without float->int converts: ``t = y + 1.5*2**p + bias`` (p mantissa
  bits) rounds y to k (``t - shifter == k``) and ``bits(t) << p`` is 2**k.
* fexp: clamp x to [-746, 710] (f32 [-104, 89]; NaN passes), k = rint(x/ln2),
  Cody-Waite ``r = x - k*ln2_hi - k*ln2_lo`` (fmuladds), exp(r) by a degree 11 / 6
  polynomial, scaled by ``2**(k-+K) * 2**(+-K)`` (K = 64 / 32) so both factors
  are normal: overflow -> inf, subnormal results rounded once (not flushed).
* fexpm1: same, plus r's rounding error; ``2*fma(t, p, t - 1/2)``, t = 2**(k-1),
  p = expm1(r); |x| < 2**-54 (f32 2**-25) returns x (keeps -0.0).
* flog: subnormals scaled by 2**54 (2**25); fdlibm ``x = 2**e * m``, m in
  [sqrt(1/2), sqrt(2)) from the bits, ``s = f/(2+f)``, f = m - 1,
  ``log(1+f) = f - hfsq + s*(hfsq + z*Q(z))``, Q degree 6 / 2; log(+-0) = -inf,
  log(x<0) = nan, log(inf) = inf.
* flog1p: ``log(u) + (x - (u - 1))/u`` with u = 1 + x; x when u == 1.
* ftanh: ``copysign(t/(t + 2), x)``, t = expm1(2|x|), |x| clamped to 22 (9.5);
  relative accuracy near 0 comes from expm1; |x| < 2**-27 (2**-12) returns x.
* fsigmoid: ``(1 if x >= 0 else e) / (1 + e)``, e = exp(-|x|): no overflow,
  and very negative x fade into the subnormals like the true value.
  (tanh and sigmoid call the cores of expm1 / exp: no checks they cannot need.)

Divisions use the ``_fdiv`` intrinsic: a Numba ``/`` under the default
``error_model="python"`` has a ZeroDivisionError branch, and that branch alone
keeps LLVM from vectorising the loop around it (see vectorcheck.py).

Max error in ulp over ~20M samples (all finite floats, log-uniform, targeted
ranges, thresholds, subnormals; see tests/test_mathlib.py) vs a wider reference
(f32: NumPy f64; f64: np.longdouble) / vs NumPy in the same dtype::

              float32   float64
    fexp       1 / 2     1 / 1
    fexpm1     1 / 2     1 / 1
    flog       1 / 4     1 / 1     (NumPy's f32 log is itself 3 ulp off)
    flog1p     1 / 2     1 / 1
    ftanh      2 / 3     2 / 3
    fsigmoid   2 / 3     2 / 2     (NumPy: stable formula in the same dtype)

Measured with FMA hardware (fmuladd fuses); without it expect ~+0.5 ulp.
Speed: several times libm's scalar loops (benchmarks/bench_mathlib.py; figures
in benchmarks/NOTES.md).

Numba's disk cache only watches the cached function's own file: cached kernels
should key on ``MATHLIB_VERSION`` (bump it when the numerics here change).
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload, register_jitable

__all__ = ["fexp", "fexpm1", "flog", "flog1p", "ftanh", "fsigmoid", "MATHLIB_VERSION"]
MATHLIB_VERSION = "2"  # part of cache keys of kernels that call these functions

# ------------------------------------------- intrinsics (Numba has no scalar bitcast, promotes i32)


def _float_layout(fty: ir.Type) -> tuple[ir.IntType, int, int]:
    """(same-width int type, mantissa bits, exponent bias) of an LLVM float type."""
    if isinstance(fty, ir.FloatType):
        return ir.IntType(32), 23, 127
    return ir.IntType(64), 52, 1023


@intrinsic
def _fdiv(typingctx, a, b):
    """a / b as a bare IEEE ``fdiv``: no ZeroDivisionError branch (see module doc)."""
    if isinstance(a, types.Float) and a == b:
        def codegen(context, builder, sig, args):
            return builder.fdiv(args[0], args[1])
        return a(a, b), codegen
    return None


@intrinsic
def _select(typingctx, cond, a, b):
    """``a if cond else b`` as one LLVM ``select`` (a Numba ternary is branches + phis)."""
    if isinstance(cond, types.Boolean) and isinstance(a, types.Float) and a == b:
        def codegen(context, builder, sig, args):
            return builder.select(args[0], args[1], args[2])
        return a(cond, a, b), codegen
    return None


@intrinsic
def _horner(typingctx, x, coeffs):
    """``((c0*x + c1)*x + c2)*x + ...`` for a constant tuple, unrolled, with llvm.fmuladd.

    fmuladd lets LLVM use an FMA where the CPU has one (and a mul + add where
    it does not), without enabling fast-math contraction anywhere else.
    """
    if not (isinstance(x, types.Float) and isinstance(coeffs, types.UniTuple)
            and coeffs.dtype == x):
        return None
    count = coeffs.count

    def codegen(context, builder, sig, args):
        xv, cv = args
        fmuladd = _fmuladd(builder, xv.type)
        acc = builder.extract_value(cv, 0)
        for i in range(1, count):
            acc = builder.call(fmuladd, [acc, xv, builder.extract_value(cv, i)])
        return acc
    return x(x, coeffs), codegen


@intrinsic
def _fma(typingctx, a, b, c):
    """``a*b + c`` as one llvm.fmuladd (see _horner): one rounding where the CPU has FMA."""
    if isinstance(a, types.Float) and a == b == c:
        return a(a, b, c), lambda context, builder, sig, args: builder.call(_fmuladd(builder, args[0].type), args)
    return None


def _fmuladd(builder, fty):
    return builder.module.declare_intrinsic("llvm.fmuladd", [fty], ir.FunctionType(fty, [fty, fty, fty]))


@intrinsic
def _pow2_shifted(typingctx, t):
    """2**k from ``t = k + shifter`` (k + bias in t's low bits): ``bits(t) << p``."""
    if not isinstance(t, types.Float):
        return None

    def codegen(context, builder, sig, args):
        (tv,) = args
        ity, mbits, _ = _float_layout(tv.type)
        bits = builder.shl(builder.bitcast(tv, ity), ir.Constant(ity, mbits))
        return builder.bitcast(bits, tv.type)
    return t(t), codegen


@intrinsic
def _log_split(typingctx, x):
    """(m, e) with x == m * 2**e, m in [sqrt(1/2), sqrt(2)), for positive normal x.

    fdlibm: adding ``bits(1) - bits(sqrt(1/2))`` to x's bits moves the exponent
    boundary to sqrt(1/2); e becomes a float via ``(e | bits(2**p)) - 2**p``.
    """
    if not isinstance(x, types.Float):
        return None

    def codegen(context, builder, sig, args):
        (xv,) = args
        fty = xv.type
        ity, mbits, bias = _float_layout(fty)
        np_f, np_i = (np.float32, np.int32) if mbits == 23 else (np.float64, np.int64)
        one_bits = int(np_f(1.0).view(np_i))
        sqrt_half_bits = int(np_f(math.sqrt(0.5)).view(np_i))
        two_p_bits = int(np_f(2.0**mbits).view(np_i))
        const = lambda v: ir.Constant(ity, v)  # noqa: E731
        bits = builder.add(builder.bitcast(xv, ity), const(one_bits - sqrt_half_bits))
        ebits = builder.lshr(bits, const(mbits))
        e = builder.fsub(builder.bitcast(builder.or_(ebits, const(two_p_bits)), fty),
                         ir.Constant(fty, 2.0**mbits + bias))
        m = builder.add(builder.and_(bits, const((1 << mbits) - 1)), const(sqrt_half_bits))
        return context.make_tuple(builder, sig.return_type, [builder.bitcast(m, fty), e])
    return types.UniTuple(x, 2)(x), codegen


# --------------------------------------------------------------------------- constants
class _Consts(NamedTuple):
    """Per-dtype constants as NumPy scalars: Numba freezes them typed, so f32 stays f32."""

    EXP_P: tuple          # exp polynomial, highest degree first
    EXPM1_P: tuple        # expm1 polynomial (the r**2 factor's), highest degree first
    LOG_Q: tuple          # log polynomial in z = s*s, highest degree first
    LN2_HI: float         # ln2 rounded to 32 (f32: 16) bits, so k*LN2_HI is exact
    LN2_LO: float         # ln2 - LN2_HI
    EXP_HI: float         # exp(x) = inf beyond (clamp keeps k in range)
    EXP_LO: float         # exp(x) = 0 below
    EXPM1_LO: float       # expm1(x) = -1 below
    EXPM1_TINY: float     # expm1(x) = x below this |x|
    TANH_CLAMP: float     # tanh(x) = +-1 beyond
    TANH_TINY: float      # tanh(x) = x below this |x|
    SUBNORMAL_SCALE: float
    SUBNORMAL_EXP: float  # log2(SUBNORMAL_SCALE)
    MIN_NORMAL: float
    # Shifters S = 1.5 * 2**p + bias + d (p mantissa bits): for |y| < 2**(p-2),
    # t = y + S rounds y to an integer k, t - S == k exactly, and the low bits
    # of t hold k + bias + d, which _pow2_shifted turns into 2**(k + d).
    SHIFTER_EXP_POS: float  # d = -K: x >= 0 scales by 2**(k-K) * 2**K
    SHIFTER_EXP_NEG: float  # d = +K: x < 0 scales by 2**(k+K) * 2**-K
    SHIFTER_EXPM1: float    # d = -1: expm1 needs 2**(k-1)
    EXP_SPLIT_POS: float    # 2**K (K = 64 / 32) keeps both exp factors normal
    EXP_SPLIT_NEG: float    # 2**-K
    ZERO: float = 0.0
    HALF: float = 0.5
    ONE: float = 1.0
    TWO: float = 2.0
    INV_LN2: float = 1 / math.log(2)
    INF: float = math.inf
    NAN: float = math.nan


def _consts(f: type, **values) -> _Consts:
    """Build _Consts with every number converted to the NumPy float type f."""
    defaults = {k: v for k, v in _Consts._field_defaults.items() if k not in values}
    cast = {k: tuple(f(x) for x in v) if isinstance(v, tuple) else f(v)
            for k, v in {**defaults, **values}.items()}
    return _Consts(**cast)


# Highest degree first, |r| <= ln2/2.  EXP_P: exp(r), minimax relative to
# exp, 0.05 / 0.03 ulp (f64 / f32).  EXPM1_P: expm1(r) = r + r*r*P(r), minimax
# relative to exp and expm1, 0.004 / 0.02 ulp.
_EXP_P64 = (2.5000088093861333e-08, 2.763023612278807e-07, 2.7557586228602564e-06,
            2.480149312965677e-05, 0.00019841269506803427, 0.0013888888943604386,
            0.008333333333494335, 0.04166666666653024, 0.16666666666666413,
            0.5000000000000011, 1.0, 1.0)
_EXP_P32 = (0.0013814604608342052, 0.008368710987269878, 0.04166838899254799,
            0.1666652113199234, 0.4999999403953552, 1.0, 1.0)
_EXPM1_P64 = (2.0875325082148015e-09, 2.510896813401775e-08, 2.755740262723479e-07,
              2.7557244402241333e-06, 2.480158717259352e-05, 0.00019841269885941096,
              0.0013888888888962325, 0.0083333333333217, 0.04166666666666651,
              0.16666666666666677, 0.5)
_EXPM1_P32 = (0.00019845999486278743, 0.0013940621865913272, 0.008333388715982437,
              0.041666362434625626, 0.1666666567325592, 0.5)
# Q(z) ~ (2*atanh(s) - 2*s) / s**3, z = s*s <= 0.0295, highest degree first (fdlibm Lg1..).
_LOG_Q64 = (0.14795481535947716, 0.15314098159471565, 0.18183562433577988,
            0.2222219861018248, 0.2857142874202213, 0.39999999999416336,
            0.6666666666666734)
_LOG_Q32 = (0.29870954155921936, 0.39977574348449707, 0.6666677594184875)

_C = {
    64: _consts(
        np.float64, EXP_P=_EXP_P64, EXPM1_P=_EXPM1_P64, LOG_Q=_LOG_Q64,
        LN2_HI=0.6931471803691238, LN2_LO=1.9082149292705877e-10,
        EXP_HI=710.0, EXP_LO=-746.0, EXPM1_LO=-40.0, EXPM1_TINY=2.0**-54,
        TANH_CLAMP=22.0, TANH_TINY=2.0**-27,
        SUBNORMAL_SCALE=2.0**54, SUBNORMAL_EXP=54.0, MIN_NORMAL=np.finfo(np.float64).tiny,
        SHIFTER_EXP_POS=1.5 * 2.0**52 + 1023 - 64, SHIFTER_EXP_NEG=1.5 * 2.0**52 + 1023 + 64,
        SHIFTER_EXPM1=1.5 * 2.0**52 + 1023 - 1, EXP_SPLIT_POS=2.0**64, EXP_SPLIT_NEG=2.0**-64),
    32: _consts(
        np.float32, EXP_P=_EXP_P32, EXPM1_P=_EXPM1_P32, LOG_Q=_LOG_Q32,
        LN2_HI=0.693145751953125, LN2_LO=1.428606765330187e-06,
        EXP_HI=89.0, EXP_LO=-104.0, EXPM1_LO=-20.0, EXPM1_TINY=2.0**-25,
        TANH_CLAMP=9.5, TANH_TINY=2.0**-12,
        SUBNORMAL_SCALE=2.0**25, SUBNORMAL_EXP=25.0, MIN_NORMAL=np.finfo(np.float32).tiny,
        SHIFTER_EXP_POS=1.5 * 2.0**23 + 127 - 32, SHIFTER_EXP_NEG=1.5 * 2.0**23 + 127 + 32,
        SHIFTER_EXPM1=1.5 * 2.0**23 + 127 - 1, EXP_SPLIT_POS=2.0**32, EXP_SPLIT_NEG=2.0**-32),
}


# --------------------------------------------------------------------------- impl factories
# Each factory returns the implementation for one bit width (the overloads
# below pick it).  Every constant comes from `c`: a bare Python literal would
# be float64 and silently promote float32 code.

@register_jitable
def _reduce_ln2(x, k, c):
    """Cody-Waite: r + r_err == x - k*ln2 to about twice the working precision: x - k*LN2_HI
    is exact; r_err is the rounding error of subtracting k*LN2_LO (1 ulp of expm1 for |x| > ln2/2)."""
    hi = _fma(-k, c.LN2_HI, x)
    lo = k * c.LN2_LO
    r = hi - lo
    return r, (hi - r) - lo


@register_jitable
def _exp_core(x, shifter, split, c):
    """exp(x), x clamped (or NaN); (shifter, split): the _NEG pair for x < 0, else _POS.

    2**k is applied as 2**(k - s) * 2**s with s = -+EXP_SPLIT_K, so both factors
    are normal; s is folded into the shifter (its low bits: k - s + bias).
    """
    t = _fma(x, c.INV_LN2, shifter)
    k = t - shifter  # rint(x / ln2)
    r = _fma(-k, c.LN2_LO, _fma(-k, c.LN2_HI, x))
    p = _horner(r, c.EXP_P)
    return (p * _pow2_shifted(t)) * split


def _exp_impl(c: _Consts):
    def impl(x):
        negative = x < c.ZERO
        x = _select(x > c.EXP_HI, c.EXP_HI, x)  # clamps written so that NaN passes
        x = _select(x < c.EXP_LO, c.EXP_LO, x)
        return _exp_core(x, _select(negative, c.SHIFTER_EXP_NEG, c.SHIFTER_EXP_POS),
                         _select(negative, c.EXP_SPLIT_NEG, c.EXP_SPLIT_POS), c)
    return impl


@register_jitable
def _expm1_core(x, c):
    """expm1(x) for x clamped to [EXPM1_LO, EXP_HI] (or NaN), tiny |x| not special-cased."""
    t = _fma(x, c.INV_LN2, c.SHIFTER_EXPM1)
    k = t - c.SHIFTER_EXPM1
    r, r_err = _reduce_ln2(x, k, c)
    p = r + (r_err + (r * r) * _horner(r, c.EXPM1_P))  # expm1(r)
    t = _pow2_shifted(t)  # 2**(k-1)
    return c.TWO * _fma(t, p, t - c.HALF)  # == 2**k * p + (2**k - 1)


def _expm1_impl(c: _Consts):
    def impl(x):
        xc = _select(x > c.EXP_HI, c.EXP_HI, x)
        xc = _select(xc < c.EXPM1_LO, c.EXPM1_LO, xc)
        return _select(abs(x) < c.EXPM1_TINY, x, _expm1_core(xc, c))
    return impl


def _log_impl(c: _Consts):
    def impl(x):
        subnormal = x < c.MIN_NORMAL
        m, e = _log_split(_select(subnormal, x * c.SUBNORMAL_SCALE, x))
        e = _select(subnormal, e - c.SUBNORMAL_EXP, e)
        f = m - c.ONE
        s = _fdiv(f, c.TWO + f)
        z = s * s
        hfsq = c.HALF * f * f
        y = s * (hfsq + z * _horner(z, c.LOG_Q)) + e * c.LN2_LO - hfsq + f + e * c.LN2_HI
        y = _select(x < c.INF, y, x)  # +inf -> inf, nan -> nan
        y = _select(x == c.ZERO, -c.INF, y)
        return _select(x < c.ZERO, c.NAN, y)
    return impl


def _log1p_impl(c: _Consts):
    def impl(x):
        u = c.ONE + x
        lu = flog(u)
        corr = _fdiv(x - (u - c.ONE), u)  # rounding error of u, relative
        y = _select(abs(lu) < c.INF, lu + corr, lu)  # u in {0, inf} or nan: no correction
        return _select(u == c.ONE, x, y)
    return impl


def _tanh_impl(c: _Consts):
    def impl(x):
        a = abs(x)
        t = _expm1_core(c.TWO * _select(a > c.TANH_CLAMP, c.TANH_CLAMP, a), c)  # in range, not tiny
        y = math.copysign(_fdiv(t, t + c.TWO), x)
        return _select(a < c.TANH_TINY, x, y)  # the rounding of t + 2 costs 1 ulp there
    return impl


def _sigmoid_impl(c: _Consts):
    def impl(x):
        m = -abs(x)  # <= 0: only the low clamp and the negative scaling of exp apply
        e = _exp_core(_select(m < c.EXP_LO, c.EXP_LO, m), c.SHIFTER_EXP_NEG, c.EXP_SPLIT_NEG, c)
        return _fdiv(_select(x >= c.ZERO, c.ONE, e), c.ONE + e)
    return impl


# --------------------------------------------------------------------------- public functions
# The Python bodies are the NumPy fallbacks; inside Numba the overloads apply.

def fexp(x):
    """exp(x)."""
    return np.exp(x)


def fexpm1(x):
    """exp(x) - 1, accurate near 0."""
    return np.expm1(x)


def flog(x):
    """Natural logarithm."""
    return np.log(x)


def flog1p(x):
    """log(1 + x), accurate near 0."""
    return np.log1p(x)


def ftanh(x):
    """Hyperbolic tangent."""
    return np.tanh(x)


def fsigmoid(x):
    """Logistic function 1 / (1 + exp(-x)), without overflow."""
    x = np.asarray(x)
    if x.dtype.kind != "f":
        x = x.astype(np.float64)
    e = np.exp(-np.abs(x))
    return (np.where(x >= 0, x.dtype.type(1), e) / (1 + e))[()]


def _register(pyfunc, factory) -> None:
    impls = {bits: factory(_C[bits]) for bits in (32, 64)}

    @overload(pyfunc, jit_options={"fastmath": False})
    def _typed(x):
        if isinstance(x, types.Float) and x.bitwidth in impls:
            return impls[x.bitwidth]
        if isinstance(x, (types.Integer, types.Boolean)):
            return lambda x: pyfunc(np.float64(x))
        return None


for _pyfunc, _factory in ((fexp, _exp_impl), (fexpm1, _expm1_impl), (flog, _log_impl),
                          (flog1p, _log1p_impl), (ftanh, _tanh_impl), (fsigmoid, _sigmoid_impl)):
    _register(_pyfunc, _factory)
