"""Elementwise primitives: one row each (impl, shape rule, vjp, Numba template).

Binary ops broadcast as NumPy does; their vjp rules return cotangents of the
broadcast shape and the backward walk sums them back to each input's shape.
A rule skips (returns None for) an input that does not require grad: the
walk would drop that gradient anyway (`x * 0.5` costs one multiply, not two).
Rules use only the primitive layer (`lax`; Tensor operators are its
functions). Templates are Numba scalar expressions
over the input names `{0}`, `{1}`, ...; the code generator substitutes them
into one loop body per fused group.
"""
from __future__ import annotations

import numpy as np

from .. import lax, shapes
from ..errors import op_error
from ..prim import Aval, Prim, register


def _in_float64(impl):
    """`impl` with integer and bool inputs computed in float64, as the shape rule says.

    NumPy evaluates exp of int8 in float16 and sigmoid of int8 in float32;
    casting that result up to the declared float64 would keep its rounding.
    Mixed int/float inputs already compute in the float's dtype.
    """
    def run(*xs, **params):
        if any(x.dtype.kind == "f" for x in xs):
            return impl(*xs, **params)
        return impl(*(x.astype(np.float64) for x in xs), **params)
    run.__name__ = getattr(impl, "__name__", "impl")
    return run


# Facts every row states (see `Prim`): `cost` 1 for about one instruction per
# element, else the default 8 (a division, sqrt or math call); `compile_weight`
# 8 where the statement inlines a long routine; `never_negative` where every
# result is >= +0.0 or NaN.
def _binary(name, impl, vjp, template, float_result=False, **kw) -> Prim:
    rule = shapes.float_elementwise if float_result else shapes.elementwise
    impl = _in_float64(impl) if float_result else impl
    return register(Prim(name, "elementwise", impl, lambda a, b: rule(name, a, b), vjp, template,
                         arity=2, pointwise=True, **kw))


def _unary(name, impl, vjp, template, float_result=True, **kw) -> Prim:
    rule = shapes.float_elementwise if float_result else shapes.elementwise
    impl = _in_float64(impl) if float_result else impl
    return register(Prim(name, "elementwise", impl, lambda a: rule(name, a), vjp, template,
                         pointwise=True, **kw))


def _compare(name, impl, template, **kw) -> Prim:
    return register(Prim(name, "elementwise", impl,
                         lambda a, b: shapes.elementwise(name, a, b, dtype=np.bool_),
                         None, template, differentiable=False, arity=2, pointwise=True, cost=1, **kw))


# -- arithmetic -------------------------------------------------------------
add_p = _binary("add", np.add,
              lambda g, out, a, b: (g, g),
              "({0} + {1})", cost=1, commutative=True)
sub_p = _binary("sub", np.subtract,
              lambda g, out, a, b: (g, lax.neg(g) if b.requires_grad else None),
              "({0} - {1})", cost=1)
mul_p = _binary("mul", np.multiply,
              lambda g, out, a, b: (g * b if a.requires_grad else None,
                                    g * a if b.requires_grad else None),
              "({0} * {1})", cost=1, commutative=True)
div_p = _binary("div", np.true_divide,
              lambda g, out, a, b: (g / b if a.requires_grad else None,
                                    lax.neg(g) * a / (b * b) if b.requires_grad else None),
              "({0} / {1})", float_result=True)


def _pow_vjp(g, out, x, y):
    # The guards follow torch: d/dx y*x**(y-1) is 0 where y == 0 (not
    # 0 * 0**-1 = nan), and d/dy x**y log x is 0 where x == 0 and y >= 0
    # (x**y is then 0 or 1, constant in y), not 0 * log 0 = nan.
    gx = gy = None
    if x.requires_grad:
        gx = g * lax.where(y == 0, lax.zeros_like(out), y * lax.pow(x, y - 1))
    if not y.requires_grad:
        return gx, gy
    zero_base = lax.where(x == 0, y >= 0, False)
    # log of the guarded base, so the unused branch is not log(0) either (its
    # own gradient, g / x, would be nan in second derivatives).
    safe = lax.where(zero_base, lax.ones_like(x), x)
    gy = g * lax.where(zero_base, lax.zeros_like(out), out * lax.log(safe))
    return gx, gy


def _pow_impl(x, y):
    try:
        return np.power(x, y)
    except ValueError as exc:  # int ** negative int: values only known here
        raise op_error("pow", f"{exc}", x, y) from None


pow_p = _binary("pow", _pow_impl, _pow_vjp, "({0} ** {1})", float_result=False, compile_weight=8)


def _pow_scalar_impl(x, *, exponent):
    return np.power(x, np.asarray(exponent, dtype=x.dtype) if x.dtype.kind == "f" else exponent)


def _pow_scalar_vjp(g, out, x, *, exponent):
    if exponent == 0:
        return (lax.zeros_like(x),)
    if exponent == 1:
        return (g,)
    if exponent == 2:  # x ** 1 is x exactly: no pow needed
        return (g * (x * 2),)
    return (g * (exponent * lax.pow_scalar(x, exponent - 1)),)


def _pow_scalar_shape(x, *, exponent):
    return shapes.elementwise("pow_scalar", x, dtype=np.result_type(x.dtype, exponent))


# NumPy's power with a scalar exponent 0.5 is sqrt: sqrt(-0.0) = -0.0 and sqrt(-inf) = nan,
# where C's pow (and LLVM's lowering of x ** 0.5) gives +0.0 and inf. The exponent is a
# literal, so the compiler folds the choice. (Its other fast paths, 2 -> x*x and -1 -> 1/x,
# are what LLVM makes of pow(x, 2.0) and pow(x, -1.0) too.)
_POW_SCALAR_TEMPLATE = "(math.sqrt({0}) if {exponent} == 0.5 else {0} ** {exponent})"
pow_scalar_p = register(Prim("pow_scalar", "elementwise", _pow_scalar_impl, _pow_scalar_shape,
                           _pow_scalar_vjp, _POW_SCALAR_TEMPLATE, pointwise=True, compile_weight=8,
                           doc="x ** c for a Python number c (a static param)"))

neg_p = _unary("neg", np.negative, lambda g, out, x: (lax.neg(g),), "(-{0})", float_result=False,
               cost=1)
exp_p = _unary("exp", np.exp, lambda g, out, x: (g * out,), "math.exp({0})", compile_weight=8,
               never_negative=True)
log_p = _unary("log", np.log, lambda g, out, x: (g / x,), "math.log({0})", compile_weight=8)
sqrt_p = _unary("sqrt", np.sqrt, lambda g, out, x: (g * 0.5 / out,), "math.sqrt({0})",
                compile_weight=8)


def _scratch_like(g, out):
    """`g`'s and `out`'s arrays and a fresh buffer for the result, when the rule
    may compute in NumPy itself (`lax.scratch_arrays`) and both agree in shape and dtype."""
    arrays = lax.scratch_arrays(g, out)
    if arrays is None:
        return None
    gd, yd = arrays
    if gd.dtype != yd.dtype or gd.shape != yd.shape:
        return None
    return gd, yd, np.empty_like(yd)  # (empty_like keeps 0-d an array, so out= works)


def _from_output(form, in_buffer):
    """A vjp rule g * form(y) from the saved output y. Eagerly (`_scratch_like`) it runs in
    one buffer of the rule's own: `in_buffer(y, t)` writes form(y) into t by the same
    operations in the same order as `form` (same rounding), then t *= g."""
    def vjp(g, out, x):
        scratch = _scratch_like(g, out)
        if scratch is None:
            return (g * form(out),)
        gd, yd, t = scratch
        in_buffer(yd, t)
        np.multiply(gd, t, out=t)
        return (lax.from_scratch(t, out),)
    return vjp


def _tanh_derivative_into(y, t):
    np.multiply(y, y, out=t)
    np.subtract(1, t, out=t)


_tanh_vjp = _from_output(lambda y: 1 - y * y, _tanh_derivative_into)
tanh_p = _unary("tanh", np.tanh, _tanh_vjp, "math.tanh({0})", compile_weight=8)


# Below these, e^-x overflows (or nearly) and 1 / (1 + e^-x) would give 0 where the
# result is a subnormal; there sigmoid(x) is e^x to rounding.
_SIGMOID_TAIL = {np.dtype(np.float32): -80.0, np.dtype(np.float64): -700.0}


def _sigmoid_impl(x):
    # 1 / (1 + e^-x) in one buffer (four passes, no temporaries), then the far
    # negative tail, if any, from e^x: stable on the whole range.
    t = np.empty_like(x)
    np.negative(x, out=t)
    with np.errstate(over="ignore"):
        np.exp(t, out=t)
    np.add(t, 1, out=t)
    np.reciprocal(t, out=t)
    low = _SIGMOID_TAIL[x.dtype]
    if x.size and not x.min() >= low:  # (NaN compares false: the check below is exact)
        tail = x < low
        t[tail] = np.exp(x[tail])
    return t


def _sigmoid_derivative_into(y, t):
    np.subtract(1, y, out=t)
    np.multiply(y, t, out=t)


_sigmoid_vjp = _from_output(lambda y: y * (1 - y), _sigmoid_derivative_into)


sigmoid_p = _unary("sigmoid", _sigmoid_impl, _sigmoid_vjp,
                 # the backend's stable, vectorised scalar routine: the same formula as impl
                 "fsigmoid({0})", compile_weight=8, never_negative=True,
                 doc="logistic function; a primitive so its kernel and rule stay stable")

relu_p = _unary("relu", lambda x: np.maximum(x, np.zeros((), x.dtype)),
              lambda g, out, x: (lax.where(out > 0, g, lax.zeros_like(g)),),
              "({0} if {0} > 0 or {0} != {0} else 0)", float_result=False, cost=1,
              never_negative=True)
abs_p = _unary("abs", np.abs, lambda g, out, x: (g * lax.sign(x),), "abs({0})", float_result=False,
               cost=1, never_negative=True)
# Zero gradient, as torch: a tape entry that contributes zeros, so eager
# backward, grad and compiled gradients all agree through sign.
# `+ 0`: NumPy's sign(-0.0) is +0.0, Numba's np.sign gives -0.0 (and -0.0 + 0 is +0.0).
sign_p = _unary("sign", np.sign, lambda g, out, x: (lax.zeros_like(x),), "(np.sign({0}) + 0)",
              float_result=False, cost=1)


def _select_vjp(pick_first):
    def rule(g, out, a, b):
        if not (a.requires_grad or b.requires_grad):
            return None, None
        first = pick_first(a, b)
        tie = lax.cast(a == b, g.dtype) * 0.5  # split ties evenly, as JAX does
        wa = lax.cast(first, g.dtype) + tie
        return (g * wa if a.requires_grad else None,
                g * (1 - wa) if b.requires_grad else None)
    return rule


# As NumPy's loops: NaN if either is NaN, else the first if strictly larger, else the
# second, so maximum(0.0, -0.0) is -0.0 and maximum(-0.0, 0.0) is 0.0 (Python's max and
# Numba's np.maximum keep the first on ties).
maximum_p = _binary("maximum", np.maximum, _select_vjp(lambda a, b: a > b),
                    "({0} if {0} > {1} or {0} != {0} else {1})", cost=1)
minimum_p = _binary("minimum", np.minimum, _select_vjp(lambda a, b: a < b),
                    "({0} if {0} < {1} or {0} != {0} else {1})", cost=1)


def _where_shape(c, a, b):
    shape = shapes.broadcast("where", c, a, b)
    return Aval(shape, np.result_type(a.dtype, b.dtype))


def _where_vjp(g, out, c, a, b):
    # A 0-d zero that broadcasts, rather than a zeros tensor of g's shape.
    return (None, lax.where(c, g, 0) if a.requires_grad else None,
            lax.where(c, 0, g) if b.requires_grad else None)


where_p = register(Prim("where", "elementwise", np.where, _where_shape, _where_vjp,
                      "({1} if {0} else {2})", arity=3, pointwise=True, cost=1))


def _cast_shape(x, *, dtype):
    return Aval(x.shape, shapes.check_supported(dtype, "cast"))


cast_p = register(Prim("cast", "elementwise", lambda x, *, dtype: x.astype(dtype),
                     _cast_shape, lambda g, out, x, *, dtype: (lax.cast(g, x.dtype),),
                     "np.{dtype}({0})", pointwise=True, cost=1,
                     doc="dtype conversion; dtype is a name string"))

stop_gradient_p = register(Prim("stop_gradient", "elementwise", lambda x: x,
                              lambda x: Aval(x.shape, x.dtype), None, "{0}",
                              differentiable=False, pointwise=True, cost=0, shares_input=True,
                              doc="identity that blocks gradients"))

# -- comparisons: bool results, no gradient -----------------------------------
lt_p = _compare("lt", np.less, "({0} < {1})")
le_p = _compare("le", np.less_equal, "({0} <= {1})")
gt_p = _compare("gt", np.greater, "({0} > {1})")
ge_p = _compare("ge", np.greater_equal, "({0} >= {1})")
eq_p = _compare("eq", np.equal, "({0} == {1})", commutative=True)
ne_p = _compare("ne", np.not_equal, "({0} != {1})", commutative=True)
