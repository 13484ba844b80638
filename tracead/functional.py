"""The public functions (`ta.exp`, `ta.sum`, ...) and the Tensor methods.

Each primitive wrapper normalises its arguments (Python scalars become
weakly-typed constants as in NumPy 2, axes become canonical tuples) and calls
`bind`. Composites (mean, softmax, ...) are plain Python over primitives, so
they need no rules of their own. Tensor methods and operators are generated
from this module at the bottom, so no op is written twice.
"""
from __future__ import annotations

import numbers

import numpy as np

from .dispatch import bind
from .errors import op_error
from .ops import PRIMS
from .ops.shapes import normalize_axes
from .tensor import Tensor, as_tensor

P = PRIMS


def _lift(x, like: Tensor | None = None) -> Tensor:
    """Python scalars take the other operand's dtype when NumPy 2 would."""
    if isinstance(x, Tensor):
        return x
    if like is not None and isinstance(x, (bool, numbers.Number)) and not isinstance(x, np.generic):
        return as_tensor(np.asarray(x, dtype=np.result_type(like.dtype, x)))
    return as_tensor(x)


def _pair(a, b) -> tuple[Tensor, Tensor]:
    if isinstance(a, Tensor):
        return a, _lift(b, a)
    b = _lift(b)
    return _lift(a, b), b


def _binary(name):
    prim = P[name]

    def op(a, b) -> Tensor:
        return bind(prim, *_pair(a, b))
    op.__name__ = op.__qualname__ = name  # the public name (tracebacks, the API docs)
    op.__doc__ = f"Elementwise {name} with NumPy broadcasting."
    return op


def _unary(name):
    prim = P[name]

    def op(x) -> Tensor:
        return bind(prim, _lift(x))
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise {name}."
    return op


add, sub, mul, div = _binary("add"), _binary("sub"), _binary("mul"), _binary("div")
maximum, minimum = _binary("maximum"), _binary("minimum")
lt, le, gt, ge, eq, ne = (_binary(n) for n in ("lt", "le", "gt", "ge", "eq", "ne"))
neg, exp, log, sqrt = _unary("neg"), _unary("exp"), _unary("log"), _unary("sqrt")
tanh, sigmoid, relu = _unary("tanh"), _unary("sigmoid"), _unary("relu")
abs, sign, stop_gradient = _unary("abs"), _unary("sign"), _unary("stop_gradient")
true_divide = divide = div
multiply, subtract = mul, sub


def pow(x, y) -> Tensor:
    """x ** y; a Python-number exponent becomes a static param."""
    if isinstance(y, numbers.Number) and not isinstance(y, bool):
        x = _lift(x)
        if x.dtype.kind in "iu" and y < 0:
            raise op_error("pow", "integers to negative integer powers are not allowed", x)
        return bind(P["pow_scalar"], x, exponent=y)
    return bind(P["pow"], *_pair(x, y))


def pow_scalar(x, exponent) -> Tensor:
    """Elementwise `x ** exponent` for a Python number `exponent`."""
    return bind(P["pow_scalar"], x, exponent=exponent)


def cast(x, dtype) -> Tensor:
    """`x` converted to `dtype` (like `ndarray.astype`); integer and bool results carry no gradient."""
    x = _lift(x)
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
    cond = _lift(cond)
    if cond.dtype != np.bool_:
        cond = ne(cond, 0)
    a, b = _pair(a, b)
    return bind(P["where"], cond, a, b)


# -- reductions -----------------------------------------------------------------
def sum(x, axis=None, keepdims: bool = False) -> Tensor:
    """Sum over `axis` (None: all axes; an int or a tuple), like `np.sum`."""
    x = _lift(x)
    axes = normalize_axes("sum", axis, x.ndim, x)
    return bind(P["sum"], x, axes=axes, keepdims=bool(keepdims))


def max(x, axis=None, keepdims: bool = False) -> Tensor:
    """Maximum over `axis` (None: all axes), like `np.max`; the gradient goes to the maximal elements."""
    x = _lift(x)
    axes = normalize_axes("max", axis, x.ndim, x)
    return bind(P["max"], x, axes=axes, keepdims=bool(keepdims))


def min(x, axis=None, keepdims: bool = False) -> Tensor:
    """Minimum over `axis` (None: all axes), like `np.min` (written as `-max(-x)`)."""
    return neg(max(neg(x), axis, keepdims))


def mean(x, axis=None, keepdims: bool = False) -> Tensor:
    """Mean over `axis` (None: all axes), like `np.mean`; integer inputs give float64."""
    x = _lift(x)
    axes = normalize_axes("mean", axis, x.ndim, x)
    count = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    total = sum(cast(x, np.float64) if x.dtype.kind in "biu" else x, axes, keepdims)
    return total / count


def var(x, axis=None, keepdims: bool = False, ddof: int = 0) -> Tensor:
    """Variance over `axis` with `ddof` (default 0, the population variance, as `np.var`)."""
    x = _lift(x)
    axes = normalize_axes("var", axis, x.ndim, x)
    count = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    centred = x - mean(x, axes, keepdims=True)
    return sum(centred * centred, axes, keepdims) / (count - ddof)


def logsumexp(x, axis=None, keepdims: bool = False) -> Tensor:
    """log(sum(exp(x))) over `axis`, computed stably (shifted by the maximum)."""
    x = _lift(x)
    axes = normalize_axes("logsumexp", axis, x.ndim, x)
    # The shift only guards against overflow; it carries no gradient.
    shift = stop_gradient(max(x, axes, keepdims=True))
    out = log(sum(exp(x - shift), axes, keepdims=True)) + shift
    return out if keepdims else reshape(out, tuple(d for i, d in enumerate(x.shape) if i not in axes))


def softmax(x, axis: int = -1) -> Tensor:
    """exp(x - max) / sum: stable, and the max is a constant for autodiff."""
    x = _lift(x)
    axis = normalize_axes("softmax", axis, x.ndim, x)  # errors name softmax, not max
    e = exp(x - stop_gradient(max(x, axis, keepdims=True)))
    return e / sum(e, axis, keepdims=True)


def log_softmax(x, axis: int = -1) -> Tensor:
    """x - logsumexp(x) along `axis` (default the last), computed stably."""
    x = _lift(x)
    axis = normalize_axes("log_softmax", axis, x.ndim, x)
    shifted = x - stop_gradient(max(x, axis, keepdims=True))
    return shifted - log(sum(exp(shifted), axis, keepdims=True))


def gelu(x) -> Tensor:
    """GELU, tanh approximation (as torch's approximate='tanh')."""
    x = _lift(x)
    return 0.5 * x * (1 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))


def clip(x, lo=None, hi=None) -> Tensor:
    """Elementwise `x` limited to [lo, hi] (either may be None), like `np.clip`."""
    out = _lift(x)
    if lo is not None:
        out = maximum(out, lo)
    if hi is not None:
        out = minimum(out, hi)
    return out


# -- shapes and movement ----------------------------------------------------------
def _resolve_shape(x: Tensor, shape) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    shape = [int(s) for s in shape]
    if shape.count(-1) > 1:
        raise op_error("reshape", f"only one -1 allowed in {tuple(shape)}", x)
    if -1 in shape:
        known = int(np.prod([s for s in shape if s != -1], dtype=np.int64))
        if known == 0 or x.size % known:
            raise op_error("reshape", f"cannot reshape {x.size} elements into {tuple(shape)}", x)
        shape[shape.index(-1)] = x.size // known
    return tuple(shape)


def reshape(x, *shape) -> Tensor:
    """`x` with a new shape (one dimension may be -1); a view in NumPy terms, a copy in value semantics."""
    x = _lift(x)
    shape = _resolve_shape(x, shape)
    if shape == x.shape:
        return x
    return bind(P["reshape"], x, shape=shape)


def transpose(x, axes=None) -> Tensor:
    """`x` with its axes permuted (`axes=None` reverses them), like `np.transpose`."""
    x = _lift(x)
    if axes is None:
        perm = tuple(reversed(range(x.ndim)))
    else:  # validate each axis: a bare `a % ndim` would wrap out-of-range axes silently
        perm = tuple(normalize_axes("transpose", a, x.ndim, x)[0] for a in axes) if x.ndim else tuple(axes)
    if perm == tuple(range(x.ndim)):
        return x
    return bind(P["transpose"], x, perm=perm)


def swapaxes(x, a: int, b: int) -> Tensor:
    """`x` with axes `a` and `b` exchanged, like `np.swapaxes`."""
    x = _lift(x)
    perm = list(range(x.ndim))
    perm[a], perm[b] = perm[b], perm[a]
    return transpose(x, perm)


def broadcast_to(x, shape) -> Tensor:
    """`x` broadcast to `shape` (NumPy rules); the gradient sums back over the broadcast axes."""
    x = _lift(x)
    shape = tuple(int(s) for s in shape)
    if shape == x.shape:
        return x
    return bind(P["broadcast_to"], x, shape=shape)


def expand_dims(x, axis: int) -> Tensor:
    """`x` with a new axis of length 1 at `axis`, like `np.expand_dims`."""
    x = _lift(x)
    axis = normalize_axes("expand_dims", axis, x.ndim + 1, x)[0]
    return reshape(x, x.shape[:axis] + (1,) + x.shape[axis:])


def sum_to(g: Tensor, shape) -> Tensor:
    """Sum a broadcast cotangent back to `shape` (the transpose of broadcasting)."""
    shape = tuple(shape)
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, d in enumerate(shape) if d == 1 and g.shape[i + lead] != 1)
    return reshape(sum(g, axes, keepdims=True), shape)


def concatenate(tensors, axis: int = 0) -> Tensor:
    """The tensors joined along an existing `axis`, like `np.concatenate`."""
    tensors = [_lift(t) for t in tensors]
    if not tensors:
        raise op_error("concatenate", "needs at least one tensor")
    ndim = tensors[0].ndim
    if ndim:
        axis = normalize_axes("concatenate", axis, ndim, *tensors[:1])[0]
    return bind(P["concatenate"], *tensors, axis=axis)


def stack(tensors, axis: int = 0) -> Tensor:
    """The tensors (all of one shape) joined along a new `axis`, like `np.stack`."""
    tensors = [_lift(t) for t in tensors]
    if not tensors:
        raise op_error("stack", "needs at least one tensor")
    if any(t.shape != tensors[0].shape for t in tensors):
        raise op_error("stack", "all tensors must have the same shape", *tensors)
    axis = normalize_axes("stack", axis, tensors[0].ndim + 1, tensors[0])[0]
    return concatenate([expand_dims(t, axis) for t in tensors], axis)


def matmul(a, b) -> Tensor:
    """Matrix product with NumPy's `@` rules (batched, 1-d vectors promoted); runs as BLAS."""
    return bind(P["matmul"], *_pair(a, b))


def dot(a, b) -> Tensor:
    """Same as `matmul`."""
    return matmul(a, b)


# -- indexing ----------------------------------------------------------------------
def _index_to_param(x: Tensor, index) -> tuple[tuple, list]:
    if not isinstance(index, tuple):
        index = (index,)
    spec, arrays = [], []
    for item in index:
        if item is None:
            spec.append(("n",))
        elif item is Ellipsis:
            spec.append(("e",))
        elif isinstance(item, slice):
            parts = [None if v is None else int(v) for v in (item.start, item.stop, item.step)]
            spec.append(("s", *parts))
        elif isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            spec.append(("i", int(item)))
        else:
            arr = item if isinstance(item, Tensor) else np.asarray(item)
            if arr.dtype == np.bool_:
                # A mask's result shape depends on its values: resolve it now
                # (a concretisation point the tracer guards).
                mask = arr._concrete("boolean mask index") if isinstance(arr, Tensor) else arr
                for nz in np.nonzero(mask):
                    spec.append(("a", len(arrays)))
                    arrays.append(nz)
                continue
            if arr.dtype.kind not in "iu":
                raise op_error("getitem", f"unsupported index {item!r}", x)
            spec.append(("a", len(arrays)))
            arrays.append(arr)
    return tuple(spec), arrays


def getitem(x, index) -> Tensor:
    x = _lift(x)
    spec, arrays = _index_to_param(x, index)
    return bind(P["getitem"], x, *arrays, index=spec)


def getitem_raw(x, arrays, index) -> Tensor:
    return bind(P["getitem"], x, *arrays, index=index)


def scatter_add(g, *arrays, index, shape) -> Tensor:
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
    x = _lift(x)
    return broadcast_to(as_tensor(np.asarray(value, dtype=x.dtype)), x.shape)


def zeros(shape, dtype=np.float64) -> Tensor:
    """A tensor of zeros of `shape` (default dtype float64, as NumPy)."""
    return as_tensor(np.zeros(shape, dtype))


def ones(shape, dtype=np.float64) -> Tensor:
    """A tensor of ones of `shape` (default dtype float64, as NumPy)."""
    return as_tensor(np.ones(shape, dtype))


# -- Tensor methods and operators, generated from the functions above ----------------
def _install_methods() -> None:
    methods = ("exp log sqrt tanh sigmoid relu abs sign sum mean max min var logsumexp "
               "softmax log_softmax gelu clip transpose swapaxes broadcast_to matmul "
               "maximum minimum cast astype").split()
    g = globals()
    for name in methods:
        setattr(Tensor, name, g[name])
    def reshape_method(self, *shape) -> Tensor:
        """This tensor with a new shape: `t.reshape(2, 3)` or `t.reshape((2, 3))`."""
        return reshape(self, *shape)

    Tensor.reshape = reshape_method
    Tensor.pow = pow
    Tensor.T = property(lambda self: transpose(self), doc="The transpose (axes reversed), like `ndarray.T`.")
    dunders = {"add": add, "sub": sub, "mul": mul, "truediv": div, "pow": pow, "matmul": matmul}
    for name, fn in dunders.items():
        setattr(Tensor, f"__{name}__", fn)
        setattr(Tensor, f"__r{name}__", lambda self, other, fn=fn: fn(other, self))
    for name, fn in {"lt": lt, "le": le, "gt": gt, "ge": ge, "eq": eq, "ne": ne}.items():
        setattr(Tensor, f"__{name}__", fn)
    Tensor.__neg__ = neg
    Tensor.__pos__ = lambda self: self
    Tensor.__abs__ = abs
    Tensor.__getitem__ = getitem
    # NumPy calls on Tensors (np.exp(t), ndarray + t) dispatch to tracead ops.
    from .numpy_interop import array_function, array_ufunc

    Tensor.__array_ufunc__ = array_ufunc
    Tensor.__array_function__ = array_function


# More ops, in their own modules (they import this one, so they come last).
from .math_functions import *  # noqa: E402,F401,F403
from .reductions import *  # noqa: E402,F401,F403
from .scans import *  # noqa: E402,F401,F403
from .creation import *  # noqa: E402,F401,F403

_install_methods()
from .tensor_api import install as _install_tensor_api  # noqa: E402

_install_tensor_api()
