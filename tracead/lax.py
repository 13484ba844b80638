"""The primitive layer: one function per primitive over `dispatch.bind`.

Like JAX's `lax` (Autodidax's `bind` wrappers): each function applies exactly
one primitive, with its params already canonical (sorted non-negative `axes`,
full permutations, shapes without -1). VJP rules and the autograd walk are
written with these functions only, never with the user layer
(`tracead.functional`), which normalises user arguments and builds
composites on top of this module and re-exports it.

The one convenience kept here is NumPy 2's weak typing of Python scalars
(`g * 0.5` keeps `g`'s dtype), because rules need constants and the Tensor
operators (`+`, `*`, `==`, ...) are these functions.

Primitives are looked up in `PRIMS` by name when called, not at import: the
op rows (`tracead/ops/`) sit above this layer and register after it loads.
"""
from __future__ import annotations

import numbers

import numpy as np

from . import state
from .dispatch import bind
from .prim import PRIMS, Aval
from .shapes import same_shape
from .symint import is_symbolic, sizes_of
from .tensor import Tensor, as_tensor, note_symbolic
from .trace.scalars import ScalarInput


_SCALAR_AVALS: dict = {}  # dtype -> Aval((), dtype): weak scalars share them


def lift(x, like: Tensor | None = None, op: str = "tensor") -> Tensor:
    """Python scalars take the other operand's dtype when NumPy 2 would.

    `op` names the calling op in conversion errors (None, ragged lists, ...).
    """
    if isinstance(x, Tensor):
        return x
    if ((type(x) is float or type(x) is int) and like is not None
            and like._aval.dtype.kind == "f" and not state.STATE.tracers):
        # The eager common case (`g * 0.5`, `1 - out`): the scalar takes the float's dtype.
        dtype = like._aval.dtype
        aval = _SCALAR_AVALS.get(dtype)
        if aval is None:
            aval = _SCALAR_AVALS[dtype] = Aval((), dtype)
        return Tensor._from_op(np.asarray(x, dtype), aval)
    if type(x) is ScalarInput:  # a float argument of a compiled function, being traced
        x = x.lifted(like)
        if isinstance(x, Tensor):
            return x
    if is_symbolic(x):  # a size-derived number: weakly typed by its plain value
        return note_symbolic(lift(x.__base_value__(), like, op), x)
    if like is not None and isinstance(x, (bool, numbers.Number)) and not isinstance(x, np.generic):
        return as_tensor(np.asarray(x, dtype=np.result_type(like.dtype, x)), op=op)
    return as_tensor(x, op=op)


def pair(a, b, op: str = "tensor") -> tuple[Tensor, Tensor]:
    """Two operands as Tensors, a Python scalar weakly typed by the other one."""
    if isinstance(a, Tensor):
        return (a, b) if isinstance(b, Tensor) else (a, lift(b, a, op))
    b = lift(b, op=op)
    return lift(a, b, op), b


def _binary(name: str):
    def op(a, b) -> Tensor:
        return bind(PRIMS[name], *pair(a, b, name))
    op.__name__ = op.__qualname__ = name  # the public name (tracebacks, the API docs)
    op.__doc__ = f"Elementwise {name} with NumPy broadcasting."
    return op


def _unary(name: str):
    def op(x) -> Tensor:
        return bind(PRIMS[name], lift(x, op=name))
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise {name}."
    return op


# -- elementwise ------------------------------------------------------------------
add, sub, mul, div = _binary("add"), _binary("sub"), _binary("mul"), _binary("div")
maximum, minimum = _binary("maximum"), _binary("minimum")
lt, le, gt, ge, eq, ne = (_binary(n) for n in ("lt", "le", "gt", "ge", "eq", "ne"))
neg, exp, log, sqrt = _unary("neg"), _unary("exp"), _unary("log"), _unary("sqrt")
tanh, sigmoid, relu = _unary("tanh"), _unary("sigmoid"), _unary("relu")
abs, sign, stop_gradient = _unary("abs"), _unary("sign"), _unary("stop_gradient")
pow = _binary("pow")  # no value checks here: `functional.pow` refuses int ** negative int
bitwise_and, bitwise_or = _binary("bitwise_and"), _binary("bitwise_or")
bitwise_xor, bitwise_not = _binary("bitwise_xor"), _unary("bitwise_not")
left_shift, right_shift = _binary("left_shift"), _binary("right_shift")


def pow_scalar(x, exponent) -> Tensor:
    """Elementwise `x ** exponent` for a Python number `exponent` (a static param)."""
    return bind(PRIMS["pow_scalar"], x, exponent=exponent)


def cast(x: Tensor, dtype) -> Tensor:
    """`x` converted to `dtype` (no-op when it already has it)."""
    name = np.dtype(dtype).name
    if x.dtype.name == name:
        return x
    return bind(PRIMS["cast"], x, dtype=name)


def where(cond: Tensor, a, b) -> Tensor:
    """`a` where the bool tensor `cond` is true, else `b`."""
    return bind(PRIMS["where"], cond, *pair(a, b, "where"))


# -- reductions (axes: a sorted tuple of non-negative axes) ---------------------------
def sum(x: Tensor, axes: tuple[int, ...], keepdims: bool = False) -> Tensor:
    """Sum over the canonical `axes`."""
    return bind(PRIMS["sum"], x, axes=tuple(axes), keepdims=bool(keepdims))


def max(x: Tensor, axes: tuple[int, ...], keepdims: bool = False) -> Tensor:
    """Maximum over the canonical `axes`."""
    return bind(PRIMS["max"], x, axes=tuple(axes), keepdims=bool(keepdims))


# -- movement ----------------------------------------------------------------------
def reshape(x: Tensor, shape: tuple[int, ...]) -> Tensor:
    """`x` with the fully known `shape` (no -1)."""
    shape = sizes_of(shape)
    return x if shape == x.shape else bind(PRIMS["reshape"], x, shape=shape)


def transpose(x: Tensor, perm: tuple[int, ...]) -> Tensor:
    """`x` with its axes permuted by the full permutation `perm`."""
    perm = tuple(int(p) for p in perm)
    return x if perm == tuple(range(x.ndim)) else bind(PRIMS["transpose"], x, perm=perm)


def broadcast_to(x: Tensor, shape: tuple[int, ...]) -> Tensor:
    """`x` broadcast to `shape` (NumPy rules)."""
    shape = sizes_of(shape)
    return x if shape == x.shape else bind(PRIMS["broadcast_to"], x, shape=shape)


def concatenate(tensors, axis: int) -> Tensor:
    """The tensors joined along the non-negative `axis`."""
    return bind(PRIMS["concatenate"], *tensors, axis=axis)


def matmul(a, b) -> Tensor:
    """NumPy's `@` (1-d operands promoted, batch dimensions broadcast)."""
    return bind(PRIMS["matmul"], *pair(a, b, "matmul"))


# -- indexing (the param form of `index_spec`) ------------------------------------------
def getitem(x: Tensor, arrays, index: tuple) -> Tensor:
    """`x[index]`, with integer index arrays `arrays` referred to from `index`."""
    return bind(PRIMS["getitem"], x, *arrays, index=index)


def scatter_add(g: Tensor, arrays, index: tuple, shape) -> Tensor:
    """zeros(shape) with `g` added at `index` (getitem's transpose)."""
    return bind(PRIMS["scatter_add"], g, *arrays, index=index, shape=tuple(shape))


def index_update(x: Tensor, v: Tensor, arrays, index: tuple, mode: str) -> Tensor:
    """`x` with `v` written at `index` (mode set/add/mul/min/max), a functional write."""
    return bind(PRIMS["index_update"], x, v, *arrays, index=index, mode=mode)


# -- constants and the transpose of broadcasting -----------------------------------------
def full_like(x: Tensor, value) -> Tensor:
    """A tensor of `value` with the shape and dtype of `x`."""
    return broadcast_to(as_tensor(np.asarray(value, dtype=x.dtype)), x.shape)


def zeros_like(x: Tensor) -> Tensor:
    """A tensor of zeros with the shape and dtype of `x`."""
    return full_like(x, 0)


def ones_like(x: Tensor) -> Tensor:
    """A tensor of ones with the shape and dtype of `x`."""
    return full_like(x, 1)


def sum_to(g: Tensor, shape) -> Tensor:
    """Sum a broadcast cotangent back to `shape` (the transpose of broadcasting)."""
    shape = tuple(shape)
    if same_shape(g.shape, shape):
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, d in enumerate(shape) if d == 1 and g.shape[i + lead] != 1)
    return reshape(sum(g, axes, keepdims=True), shape)


def scratch_arrays(*tensors) -> list | None:
    """The arrays behind `tensors` when a vjp rule may compute in NumPy itself, else None.

    Only in eager backward without create_graph (grad off, no tracer): there a
    rule's result needs no tape, so a rule can build it in one buffer of its
    own with `out=` instead of a fresh array per step (each a pass of page
    faults on large inputs). The rule must write only into arrays it made.
    """
    if state.STATE.tracers or state.STATE.grad_enabled:
        return None
    return [t._data for t in tensors]


def from_scratch(data: np.ndarray, like: Tensor) -> Tensor:
    """A Tensor over `data`, an array a rule made with the shape and dtype of `like`."""
    return Tensor._from_op(data, like._aval)


# -- math (ops/math.py) and scans (ops/scan.py) --------------------------------------------
sin, cos, tan = _unary("sin"), _unary("cos"), _unary("tan")
asin, acos, atan = _unary("asin"), _unary("acos"), _unary("atan")
sinh, cosh = _unary("sinh"), _unary("cosh")
asinh, acosh, atanh = _unary("asinh"), _unary("acosh"), _unary("atanh")
log1p, expm1, log2, log10, exp2 = (_unary(n) for n in ("log1p", "expm1", "log2", "log10", "exp2"))
erf, erfc, softplus, gelu = _unary("erf"), _unary("erfc"), _unary("softplus"), _unary("gelu")
floor, ceil, trunc, round = _unary("floor"), _unary("ceil"), _unary("trunc"), _unary("round")
isnan, isinf, isfinite = _unary("isnan"), _unary("isinf"), _unary("isfinite")
atan2, copysign = _binary("atan2"), _binary("copysign")
floor_divide, remainder, fmod = _binary("floor_divide"), _binary("remainder"), _binary("fmod")


def cumsum(x: Tensor, axis: int, reverse: bool = False) -> Tensor:
    """Running sum along the non-negative `axis` (from the end if `reverse`)."""
    return bind(PRIMS["cumsum"], x, axis=axis, reverse=bool(reverse))


def cumprod(x: Tensor, axis: int, reverse: bool = False) -> Tensor:
    """Running product along the non-negative `axis` (from the end if `reverse`)."""
    return bind(PRIMS["cumprod"], x, axis=axis, reverse=bool(reverse))


def cummax_index(x: Tensor, axis: int) -> Tensor:
    """Index of the running maximum along `axis` (torch.cummax's indices)."""
    return bind(PRIMS["cummax_index"], x, axis=axis)


def cummin_index(x: Tensor, axis: int) -> Tensor:
    """Index of the running minimum along `axis` (torch.cummin's indices)."""
    return bind(PRIMS["cummin_index"], x, axis=axis)


def prod(x: Tensor, axes: tuple[int, ...], keepdims: bool = False) -> Tensor:
    """Product over the canonical `axes`."""
    return bind(PRIMS["prod"], x, axes=tuple(axes), keepdims=bool(keepdims))


def argsort(x: Tensor, axis: int, descending: bool = False) -> Tensor:
    """The stable sorting permutation along `axis`."""
    return bind(PRIMS["argsort"], x, axis=axis, descending=bool(descending))


def argmax(x: Tensor, axis: int, keepdims: bool = False) -> Tensor:
    """Index of the first maximum along `axis`."""
    return bind(PRIMS["argmax"], x, axis=axis, keepdims=bool(keepdims))


def argmin(x: Tensor, axis: int, keepdims: bool = False) -> Tensor:
    """Index of the first minimum along `axis`."""
    return bind(PRIMS["argmin"], x, axis=axis, keepdims=bool(keepdims))


def _ints(values) -> tuple[int, ...]:
    return tuple(int(v) for v in values)


def im2col(x: Tensor, *, kernel, stride, padding, dilation, pad_value: float = 0.0,
           layout: str = "image") -> Tensor:
    """The sliding windows of an NCHW image as columns (canonical int-tuple params);
    layout "image" (N, C, kh, kw, Ho, Wo) or "gemm" (C, kh, kw, N, Ho, Wo)."""
    return bind(PRIMS["im2col"], x, kernel=_ints(kernel), stride=_ints(stride),
                padding=_ints(padding), dilation=_ints(dilation), pad_value=float(pad_value),
                layout=str(layout))


def col2im(cols: Tensor, *, image, kernel, stride, padding, dilation,
           layout: str = "image") -> Tensor:
    """The adjoint of im2col: windows (in im2col's `layout`) summed back into an NCHW image."""
    return bind(PRIMS["col2im"], cols, image=_ints(image), kernel=_ints(kernel),
                stride=_ints(stride), padding=_ints(padding), dilation=_ints(dilation),
                layout=str(layout))


def window_argmax(x: Tensor, *, kernel, stride, padding, dilation) -> Tensor:
    """Plane index (r * W + s) of the first maximum of each window of an NCHW image."""
    return bind(PRIMS["window_argmax"], x, kernel=_ints(kernel), stride=_ints(stride),
                padding=_ints(padding), dilation=_ints(dilation))


def plane_gather(x: Tensor, index: Tensor) -> Tensor:
    """x[n, c].flat[index[n, c, ...]] for an NCHW x and an (N, C, Ho, Wo) index."""
    return bind(PRIMS["plane_gather"], x, index)


def plane_scatter(g: Tensor, index: Tensor, *, image) -> Tensor:
    """plane_gather's transpose: g added into zero (N, C, *image) planes at index."""
    return bind(PRIMS["plane_scatter"], g, index, image=_ints(image))


def uniform(key: Tensor, shape, dtype) -> Tensor:
    """U[0, 1) numbers of `shape`, a pure function of the integer `key` (Philox)."""
    return bind(PRIMS["uniform"], key, shape=_ints(shape), dtype=np.dtype(dtype).name)


def svdvals(x: Tensor) -> Tensor:
    """Singular values over the last two axes (descending)."""
    return bind(PRIMS["svdvals"], x)


def svd_u(x: Tensor) -> Tensor:
    """Left singular vectors of the reduced SVD over the last two axes."""
    return bind(PRIMS["svd_u"], x)


def svd_vh(x: Tensor) -> Tensor:
    """Right singular vectors (transposed) of the reduced SVD over the last two axes."""
    return bind(PRIMS["svd_vh"], x)
