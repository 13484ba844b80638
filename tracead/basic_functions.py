"""The basic user functions (`ta.exp`, `ta.sum`, `ta.reshape`, ...): the user layer's core.

The one-primitive functions come from the primitive layer (`tracead.lax`)
and are re-exported as they are. What this module adds is argument
normalisation (`axis=None | int | tuple` becomes canonical axes, `-1` in a
shape is resolved, user checks that need values) and composites (mean,
softmax, ...: plain Python over primitives, so they need no rules). The
shape, indexing and contraction modules build on it; `functional` gathers
them all and attaches the Tensor methods.
"""
from __future__ import annotations

import builtins
import numbers

import numpy as np

from . import ops  # noqa: F401  (every primitive declared before first use)
from .dispatch import bind
from .errors import op_error
from .index_spec import index_to_param
from .lax import (abs, add, div, eq, exp, ge, gt, le, log, lt, matmul, maximum, minimum, mul,
                  ne, neg, pow_scalar, relu, sigmoid, sign, sqrt, stop_gradient, sub, sum_to,
                  tanh)
from .lax import lift as _lift
from .lax import pair as _pair
from .prim import PRIMS
from .shapes import normalize_axes
from .symint import is_symbolic, sizes_of
from .tensor import Tensor, as_tensor, note_filled

P = PRIMS
true_divide = divide = div
multiply, subtract = mul, sub


def pow(x, y) -> Tensor:
    """x ** y; a Python-number exponent becomes a static param."""
    if isinstance(y, numbers.Number) and not isinstance(y, bool):
        x = _lift(x, op="pow")
        # NumPy refuses int ** negative int but computes int ** -1.0 in float64.
        if x.dtype.kind in "iu" and isinstance(y, numbers.Integral) and y < 0:
            raise op_error("pow", "integers to negative integer powers are not allowed", x)
        return bind(P["pow_scalar"], x, exponent=y)
    x, y = _pair(x, y, "pow")
    integer = np.result_type(x.dtype, y.dtype).kind in "iu" and y.dtype.kind == "i"
    if integer and y.size and y._data is not None:  # (no values in an abstract trace)
        # NumPy raises; a compiled kernel would silently give 0 (2 ** -1). One
        # bool, a value guard inside `compile`: a negative exponent re-traces
        # and raises here.
        if bool(lt(min(y), 0)):
            raise op_error("pow", "integers to negative integer powers are not allowed", x, y)
    return bind(P["pow"], x, y)


def cast(x, dtype) -> Tensor:
    """`x` converted to `dtype` (like `ndarray.astype`); integer and bool results carry no gradient."""
    x = _lift(x, op="cast")
    name = np.dtype(dtype).name
    if x.dtype.name == name:
        return x
    if np.dtype(name).kind != "f":
        # Integer and bool results carry no gradient (as in torch and JAX):
        # without this the result would be an integer tensor requiring grad.
        x = stop_gradient(x)
    return bind(P["cast"], x, dtype=name)


astype = cast


def where(cond, a, b) -> Tensor:
    """Elementwise `a` where `cond` is true, else `b` (NumPy broadcasting; a non-bool `cond` means `cond != 0`)."""
    cond = _lift(cond, op="where")
    if cond.dtype != np.bool_:
        cond = ne(cond, 0)
    a, b = _pair(a, b, "where")
    return bind(P["where"], cond, a, b)


# -- reductions -----------------------------------------------------------------
def sum(x, axis=None, keepdims: bool = False) -> Tensor:
    """Sum over `axis` (None: all axes; an int or a tuple), like `np.sum`."""
    x = _lift(x, op="sum")
    axes = normalize_axes("sum", axis, x.ndim, x)
    return bind(P["sum"], x, axes=axes, keepdims=bool(keepdims))


def max(x, axis=None, keepdims: bool = False) -> Tensor:
    """Maximum over `axis` (None: all axes), like `np.max`; the gradient goes to the maximal elements."""
    x = _lift(x, op="max")
    axes = normalize_axes("max", axis, x.ndim, x)
    return bind(P["max"], x, axes=axes, keepdims=bool(keepdims))


def min(x, axis=None, keepdims: bool = False) -> Tensor:
    """Minimum over `axis` (None: all axes), like `np.min`.

    Written as max of an order-reversing map, mapped back; the map must be
    exact: -x overflows at INT_MIN and is not defined on bool, so integers use
    ~x == -1 - x (exact in wrapped arithmetic), unsigned ones MAX - x and
    bools `not x`. For floats -x is exact, and it keeps the gradient.
    """
    x = _lift(x, op="min")
    axes = normalize_axes("min", axis, x.ndim, x)  # errors name min, not max
    if builtins.any(x.shape[a] == 0 for a in axes):
        raise op_error("min", "reduction over an empty tensor has no identity", x)
    kind = x.dtype.kind
    if kind == "b":
        return eq(max(eq(x, False), axis, keepdims), False)
    if kind == "i":
        return sub(-1, max(sub(-1, x), axis, keepdims))
    if kind == "u":
        top = int(np.iinfo(x.dtype).max)
        return sub(top, max(sub(top, x), axis, keepdims))
    return neg(max(neg(x), axis, keepdims))


def _count(x, axes) -> int:
    """How many values a reduction over `axes` sees (a Python product: a symbolic size
    stays symbolic, so a mean's 1/N is right for every size of a dynamic variant)."""
    count = 1
    for a in axes:
        count = count * x.shape[a]
    return count


def mean(x, axis=None, keepdims: bool = False) -> Tensor:
    """Mean over `axis` (None: all axes), like `np.mean`; integer inputs give float64."""
    x = _lift(x, op="mean")
    axes = normalize_axes("mean", axis, x.ndim, x)
    count = _count(x, axes)
    total = sum(cast(x, np.float64) if x.dtype.kind in "biu" else x, axes, keepdims)
    return total / count


def var(x, axis=None, keepdims: bool = False, ddof: int = 0) -> Tensor:
    """Variance over `axis` with `ddof` (default 0, the population variance, as `np.var`)."""
    x = _lift(x, op="var")
    axes = normalize_axes("var", axis, x.ndim, x)
    count = _count(x, axes)
    centred = x - mean(x, axes, keepdims=True)
    # As NumPy: no more degrees of freedom than values gives inf (or nan for
    # 0/0), never a negative variance.
    return sum(centred * centred, axes, keepdims) / builtins.max(count - ddof, 0)


def logsumexp(x, axis=None, keepdims: bool = False) -> Tensor:
    """log(sum(exp(x))) over `axis`, computed stably (shifted by the maximum)."""
    x = _lift(x, op="logsumexp")
    axes = normalize_axes("logsumexp", axis, x.ndim, x)
    # The shift only guards against overflow; it carries no gradient. An
    # infinite max would turn x - shift into inf - inf = nan, so it shifts
    # by 0 instead (as scipy): all -inf gives -inf, any +inf gives +inf.
    top = stop_gradient(max(x, axes, keepdims=True))
    shift = where(eq(abs(top), np.inf), zeros_like(top), top)
    out = log(sum(exp(x - shift), axes, keepdims=True)) + shift
    return out if keepdims else reshape(out, tuple(d for i, d in enumerate(x.shape) if i not in axes))


def softmax(x, axis: int = -1) -> Tensor:
    """exp(x - max) / sum: stable, and the max is a constant for autodiff."""
    x = _lift(x, op="softmax")
    axis = normalize_axes("softmax", axis, x.ndim, x)  # errors name softmax, not max
    e = exp(x - stop_gradient(max(x, axis, keepdims=True)))
    return e / sum(e, axis, keepdims=True)


def log_softmax(x, axis: int = -1) -> Tensor:
    """x - logsumexp(x) along `axis` (default the last), computed stably."""
    x = _lift(x, op="log_softmax")
    axis = normalize_axes("log_softmax", axis, x.ndim, x)
    shifted = x - stop_gradient(max(x, axis, keepdims=True))
    return shifted - log(sum(exp(shifted), axis, keepdims=True))


def gelu(x) -> Tensor:
    """GELU, tanh approximation (as torch's approximate='tanh')."""
    x = _lift(x, op="gelu")
    return bind(PRIMS["gelu"], x)


def clip(x, lo=None, hi=None) -> Tensor:
    """Elementwise `x` limited to [lo, hi] (either may be None), like `np.clip`.

    x itself where lo <= x <= hi (or x is NaN), else the bound. Selecting rather than maximum/minimum keeps x's bits on a tie (-0.0
    clipped to [0, 1] stays -0.0, as in NumPy) and gives the gradient 1 at
    the bounds, as torch.clamp does.
    """
    out = _lift(x, op="clip")
    if lo is not None:
        lo = _lift(lo, out, "clip")
        out = where(lt(out, lo), lo, out)
    if hi is not None:
        hi = _lift(hi, out, "clip")
        out = where(gt(out, hi), hi, out)
    return out


# -- shapes and movement ----------------------------------------------------------
def _resolve_shape(x: Tensor, shape) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    shape = [s if is_symbolic(s) else int(s) for s in shape]  # symbolic sizes stay symbolic
    if shape.count(-1) > 1:
        raise op_error("reshape", f"only one -1 allowed in {tuple(shape)}", x)
    if -1 in shape:
        known = 1
        for s in shape:
            known = known if s == -1 else known * s
        if known == 0 or x.size % known:
            raise op_error("reshape", f"cannot reshape {x.size} elements into {tuple(shape)}", x)
        shape[shape.index(-1)] = x.size // known
    return tuple(shape)


def reshape(x, *shape) -> Tensor:
    """`x` with a new shape (one dimension may be -1); a view in NumPy terms, a copy in value semantics."""
    x = _lift(x, op="reshape")
    shape = _resolve_shape(x, shape)
    if shape == x.shape:
        return x
    return bind(P["reshape"], x, shape=shape)


def transpose(x, axes=None) -> Tensor:
    """`x` with its axes permuted (`axes=None` reverses them), like `np.transpose`."""
    x = _lift(x, op="transpose")
    if axes is None:
        perm = tuple(reversed(range(x.ndim)))
    else:  # validate each axis: a bare `a % ndim` would wrap out-of-range axes silently
        perm = tuple(normalize_axes("transpose", a, x.ndim, x)[0] for a in axes) if x.ndim else tuple(axes)
    if perm == tuple(range(x.ndim)):
        return x
    return bind(P["transpose"], x, perm=perm)


def swapaxes(x, a: int, b: int) -> Tensor:
    """`x` with axes `a` and `b` exchanged, like `np.swapaxes`."""
    x = _lift(x, op="swapaxes")
    perm = list(range(x.ndim))
    perm[a], perm[b] = perm[b], perm[a]
    return transpose(x, perm)


def broadcast_to(x, shape) -> Tensor:
    """`x` broadcast to `shape` (NumPy rules); the gradient sums back over the broadcast axes."""
    x = _lift(x, op="broadcast_to")
    shape = sizes_of(shape)
    if shape == x.shape:
        return x
    return bind(P["broadcast_to"], x, shape=shape)


def expand_dims(x, axis: int) -> Tensor:
    """`x` with a new axis of length 1 at `axis`, like `np.expand_dims`."""
    x = _lift(x, op="expand_dims")
    axis = normalize_axes("expand_dims", axis, x.ndim + 1, x)[0]
    return reshape(x, x.shape[:axis] + (1,) + x.shape[axis:])


def concatenate(tensors, axis: int = 0) -> Tensor:
    """The tensors joined along an existing `axis`, like `np.concatenate`."""
    tensors = [_lift(t, op="concatenate") for t in tensors]
    if not tensors:
        raise op_error("concatenate", "needs at least one tensor")
    ndim = tensors[0].ndim
    if ndim:
        axis = normalize_axes("concatenate", axis, ndim, *tensors[:1])[0]
    return bind(P["concatenate"], *tensors, axis=axis)


def stack(tensors, axis: int = 0) -> Tensor:
    """The tensors (all of one shape) joined along a new `axis`, like `np.stack`."""
    tensors = [_lift(t, op="stack") for t in tensors]
    if not tensors:
        raise op_error("stack", "needs at least one tensor")
    if any(t.shape != tensors[0].shape for t in tensors):
        raise op_error("stack", "all tensors must have the same shape", *tensors)
    axis = normalize_axes("stack", axis, tensors[0].ndim + 1, tensors[0])[0]
    return concatenate([expand_dims(t, axis) for t in tensors], axis)


# -- indexing ----------------------------------------------------------------------
def getitem(x, index) -> Tensor:
    x = _lift(x, op="getitem")
    spec, arrays = index_to_param(x, index)
    return bind(P["getitem"], x, *arrays, index=spec)


def scatter_add(g, *arrays, index, shape) -> Tensor:
    """zeros(shape) with `g` added at `index` (param form); getitem's transpose."""
    return bind(P["scatter_add"], g, *arrays, index=index, shape=tuple(shape))


# -- constructors ------------------------------------------------------------------
def zeros_like(x) -> Tensor:
    """A tensor of zeros with the shape and dtype of `x`."""
    return full_like(x, 0)


def ones_like(x) -> Tensor:
    """A tensor of ones with the shape and dtype of `x`."""
    return full_like(x, 1)


def full_like(x, value) -> Tensor:
    """A tensor of `value` with the shape and dtype of `x`."""
    x = _lift(x, op="full_like")
    return broadcast_to(as_tensor(np.asarray(value, dtype=x.dtype)), x.shape)


def _sizes(op: str, shape) -> tuple[int, ...]:
    """`zeros(2, 3)`, `zeros((2, 3))` and `zeros([2, 3])` all mean shape (2, 3)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for size in shape:
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 0:
            raise op_error(op, f"sizes must be non-negative integers, got {size!r} in {shape}"
                           f" (pass the dtype by keyword: {op}(2, 3, dtype=np.float32))",
                           type_error=True)
    return sizes_of(shape)


def filled(shape, value, dtype, requires_grad: bool) -> Tensor:
    """A new tensor of `value` (a constant of the trace). With symbolic sizes (a
    dynamic-shape trace) the constant is re-made at each call's sizes."""
    t = Tensor(np.full(shape, value, dtype), requires_grad=requires_grad)
    return note_filled(t, shape) if any(map(is_symbolic, shape)) else t


def zeros(*shape, dtype=np.float64, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros: `zeros(2, 3)` or `zeros((2, 3))` (default dtype float64, as NumPy)."""
    return filled(_sizes("zeros", shape), 0, dtype, requires_grad)


def ones(*shape, dtype=np.float64, requires_grad: bool = False) -> Tensor:
    """A tensor of ones: `ones(2, 3)` or `ones((2, 3))` (default dtype float64, as NumPy)."""
    return filled(_sizes("ones", shape), 1, dtype, requires_grad)
