"""More reductions (prod, std, norm, any, all) and torch's `dim=` / `keepdim=` spellings.

`torch_names` lets every reduction take torch's keywords beside NumPy's
(`x.sum(dim=1, keepdim=True)` is `x.sum(axis=1, keepdims=True)`); `functional`
applies it to its own reductions too. `max` / `min` called with `dim=`
return `(values, indices)` as torch's do; with `axis=` (or positionally) the
values, as NumPy's. `functional` re-exports this module.
"""
from __future__ import annotations

import builtins
import functools
import math
from typing import NamedTuple

import numpy as np

from . import basic_functions as F
from .errors import op_error
from .ops import PRIMS as P
from .ops.shapes import normalize_axes
from .tensor import Tensor, as_tensor

__all__ = [
    "ValuesIndices", "norm", "prod", "std", "var", "vector_norm"
]

_UNSET = object()


class ValuesIndices(NamedTuple):
    """What torch's max(dim=), sort, topk, cummax return: values and int64 indices."""

    values: Tensor
    indices: Tensor


def torch_names(fn):
    """Accept `dim=` for `axis=` and `keepdim=` for `keepdims=` (not both spellings at once)."""
    @functools.wraps(fn)
    def wrapper(*args, dim=_UNSET, keepdim=_UNSET, **kwargs):
        for torch_name, numpy_name, value in (("dim", "axis", dim), ("keepdim", "keepdims", keepdim)):
            if value is _UNSET:
                continue
            if numpy_name in kwargs:
                raise op_error(fn.__name__, f"got both {torch_name}= and {numpy_name}=",
                               type_error=True)
            kwargs[numpy_name] = value
        return fn(*args, **kwargs)
    wrapper.__wrapped_reduction__ = fn
    return wrapper


def _extreme_with_dim(name: str, values_fn, index_fn):
    @functools.wraps(values_fn)
    def op(x, axis=None, keepdims: bool = False, *, dim=_UNSET, keepdim=_UNSET):
        if keepdim is not _UNSET:
            keepdims = keepdim
        if dim is _UNSET:
            return values_fn(x, axis, keepdims)
        if axis is not None:
            raise op_error(name, "got both dim= and axis=", type_error=True)
        if dim is None:
            return values_fn(x, None, keepdims)
        # torch: x.max(dim=1) is (values, indices).
        return ValuesIndices(values_fn(x, dim, keepdims), index_fn(x, dim, keepdims))
    op.__doc__ = (f"{values_fn.__doc__} With torch's `dim=` it returns `(values, indices)` "
                  f"as `torch.{name}(x, dim)` does.")
    return op


def _ddof(op: str, ddof, correction, unbiased) -> int:
    if correction is not None:
        ddof = correction
    if unbiased is not None:
        ddof = 1 if unbiased else 0
    return ddof


_base_var = F.var


@torch_names
def var(x, axis=None, keepdims: bool = False, ddof: int = 0, *, correction=None,
        unbiased=None) -> Tensor:
    """Variance over `axis`; `ddof` (NumPy) or `correction=` / `unbiased=` (torch) default 0 as NumPy.

    torch's var defaults to the unbiased estimate (`correction=1`): pass it explicitly.
    """
    return _base_var(x, axis, keepdims, _ddof("var", ddof, correction, unbiased))


@torch_names
def std(x, axis=None, keepdims: bool = False, ddof: int = 0, *, correction=None,
        unbiased=None) -> Tensor:
    """Standard deviation sqrt(var), with `var`'s arguments (default ddof=0, as `np.std`)."""
    return F.sqrt(_base_var(x, axis, keepdims, _ddof("std", ddof, correction, unbiased)))


@torch_names
def prod(x, axis=None, keepdims: bool = False, dtype=None) -> Tensor:
    """Product over `axis` (None: all), like `np.prod`; the gradient is exact where elements are 0."""
    x = F._lift(x)
    if dtype is not None:
        x = F.cast(x, dtype)
    axes = normalize_axes("prod", axis, x.ndim, x)
    return F.bind(P["prod"], x, axes=axes, keepdims=bool(keepdims))


def _truth(x) -> Tensor:
    x = F._lift(x)
    return x if x.dtype == np.bool_ else F.ne(x, 0)


def _empty_reduction(x: Tensor, axes) -> bool:
    return builtins.any(x.shape[a] == 0 for a in axes) or (not axes and x.size == 0)


@torch_names
def any(x, axis=None, keepdims: bool = False) -> Tensor:
    """True where any element along `axis` is nonzero, like `np.any` (bool, no gradient)."""
    t = _truth(x)
    axes = normalize_axes("any", axis, t.ndim, t)
    if t.ndim and _empty_reduction(t, axes):
        shape = tuple(1 if i in axes else d for i, d in enumerate(t.shape)) if keepdims else \
            tuple(d for i, d in enumerate(t.shape) if i not in axes)
        return as_tensor(np.zeros(shape, np.bool_))  # NumPy: any of nothing is False
    return F.max(t, axes, keepdims)


@torch_names
def all(x, axis=None, keepdims: bool = False) -> Tensor:
    """True where every element along `axis` is nonzero, like `np.all` (bool, no gradient)."""
    return F.eq(any(F.eq(_truth(x), False), axis, keepdims), False)


def _sum_abs_pow(x, p, axes, keepdims):
    return F.sum(F.pow(F.abs(x), p), axes, keepdims)


def _safe_root(total: Tensor, p: float) -> Tensor:
    """total ** (1/p) with gradient 0 (not nan) where total == 0, as torch's norms."""
    zero = F.eq(total, 0)
    safe = F.where(zero, F.ones_like(total), total)
    root = F.sqrt(safe) if p == 2 else F.pow(safe, 1.0 / p)
    return F.where(zero, F.zeros_like(root), root)


def _vector_norm(x: Tensor, ord, axes, keepdims) -> Tensor:
    if x.dtype.kind != "f":
        x = F.cast(x, np.float64)
    if ord == math.inf:
        return F.max(F.abs(x), axes, keepdims)
    if ord == -math.inf:
        return F.min(F.abs(x), axes, keepdims)
    if ord == 0:
        return F.sum(F.cast(F.ne(x, 0), x.dtype), axes, keepdims)
    if ord == 1:
        return F.sum(F.abs(x), axes, keepdims)
    if ord == 2:
        return _safe_root(F.sum(x * x, axes, keepdims), 2)
    if not isinstance(ord, (int, float)) or isinstance(ord, bool):
        raise op_error("norm", f"unsupported vector norm ord={ord!r}", x)
    return _safe_root(_sum_abs_pow(x, ord, axes, keepdims), ord)


@torch_names
def vector_norm(x, ord=2, axis=None, keepdims: bool = False) -> Tensor:
    """The vector p-norm over `axis` (None: all elements), like `torch.linalg.vector_norm`.

    ord: any number, inf or -inf (0 counts nonzeros). The gradient at a zero
    vector is 0, as torch's.
    """
    x = F._lift(x)
    axes = normalize_axes("vector_norm", axis, x.ndim, x)
    return _vector_norm(x, ord, axes, keepdims)


def _matrix_norm(x: Tensor, ord, axes, keepdims) -> Tensor:
    row, col = axes
    if x.dtype.kind != "f":
        x = F.cast(x, np.float64)
    if ord == "fro":
        return _safe_root(F.sum(x * x, axes, keepdims), 2)
    if ord in (1, -1):  # max (min) over columns of the column sums of |x|
        sums = F.sum(F.abs(x), row, keepdims=True)
        pick = F.max if ord == 1 else F.min
        out = pick(sums, col, keepdims=True)
    elif ord in (math.inf, -math.inf):  # max (min) over rows of the row sums
        sums = F.sum(F.abs(x), col, keepdims=True)
        pick = F.max if ord == math.inf else F.min
        out = pick(sums, row, keepdims=True)
    else:
        raise op_error("norm", f"matrix norm ord={ord!r} is not supported (supported: 'fro', "
                       "1, -1, inf, -inf; 2 and 'nuc' need an SVD)", x)
    return out if keepdims else F.reshape(out, tuple(d for i, d in enumerate(x.shape) if i not in axes))


@torch_names
def norm(x, ord=None, axis=None, keepdims: bool = False) -> Tensor:
    """A vector or matrix norm with `np.linalg.norm`'s (and `torch.linalg.norm`'s) rules.

    axis None: the 2-norm of all elements when ord is None, else a vector
    norm of a 1-d or a matrix norm of a 2-d input; an int axis: vector norms
    (ord a number, inf, -inf); a pair of axes: matrix norms ('fro', 1, -1,
    inf, -inf). The gradient at zero is 0, as torch's.
    """
    x = F._lift(x)
    if axis is None:
        if ord is None:
            return _vector_norm(x, 2, normalize_axes("norm", None, x.ndim, x), keepdims)
        if x.ndim not in (1, 2):
            raise op_error("norm", f"ord={ord!r} without axis needs a 1-d or 2-d input", x)
        axis = tuple(range(x.ndim))
    axes = normalize_axes("norm", axis, x.ndim, x)
    if isinstance(axis, (tuple, list)) and len(axis) == 2:
        pair = tuple(normalize_axes("norm", a, x.ndim, x)[0] for a in axis)
        return _matrix_norm(x, "fro" if ord is None else ord, pair, keepdims)
    if len(axes) != 1:
        raise op_error("norm", f"axis must be an int or a pair of ints, got {axis!r}", x)
    if isinstance(ord, str):
        raise op_error("norm", f"ord={ord!r} is a matrix norm; pass two axes", x)
    return _vector_norm(x, 2 if ord is None else ord, axes, keepdims)
