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
from .indexing import take_along_axis
from .ops import PRIMS as P
from .ops.shapes import normalize_axes
from .tensor import Tensor, as_tensor

__all__ = [
    "ValuesIndices", "amax", "amin", "count_nonzero", "nanmean", "nansum", "prod", "std",
    "std_mean", "var", "var_mean"
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
        # torch: x.max(dim=1) is (values, indices), and the values are read at the
        # indices, so the gradient of tied maxima goes to that one element (as torch),
        # not split evenly as the max reduction's (torch's amax) does.
        x = F._lift(x)
        indices = index_fn(x, dim, True)
        if x.ndim == 0:
            return ValuesIndices(x, F.reshape(indices, ()))
        axis = normalize_axes(name, dim, x.ndim, x)[0]
        values = take_along_axis(x, indices, axis)
        if not keepdims:
            shape = x.shape[:axis] + x.shape[axis + 1:]
            values, indices = F.reshape(values, shape), F.reshape(indices, shape)
        return ValuesIndices(values, indices)
    op.__doc__ = (f"{values_fn.__doc__} With torch's `dim=` it returns `(values, indices)` "
                  f"as `torch.{name}(x, dim)` does.")
    return op


def _ddof(ddof, correction, unbiased, torch_default: bool) -> int:
    if correction is not None:
        return correction
    if unbiased is not None:
        return 1 if unbiased else 0
    if ddof is not None:
        return ddof
    return 1 if torch_default else 0


def _variance(op: str, x, axis, keepdims, ddof, dim, keepdim, correction, unbiased,
              torch_default: bool) -> Tensor:
    """The shared body of var / std: NumPy's or torch's spelling (not both), and the
    default correction (0 as NumPy, 1 as torch when asked for torch's default)."""
    if dim is not _UNSET:
        if axis is not None:
            raise op_error(op, "got both dim= and axis=", type_error=True)
        axis, torch_default = dim, True
    if keepdim is not _UNSET:
        keepdims, torch_default = keepdim, True
    if isinstance(axis, list):
        axis = tuple(axis)
    return _base_var(x, axis, keepdims, _ddof(ddof, correction, unbiased, torch_default))


_base_var = F.var


def var(x, axis=None, keepdims: bool = False, ddof=None, *, dim=_UNSET, keepdim=_UNSET,
        correction=None, unbiased=None) -> Tensor:
    """Variance over `axis`, like `np.var` (default ddof=0) or, spelled with torch's
    `dim=` / `keepdim=`, like `torch.var` (default correction=1, the unbiased estimate).

    `correction=` / `unbiased=` (torch) and `ddof=` (NumPy) set it explicitly.
    `Tensor.var` is torch's method: its default is correction=1 however it is called.
    """
    return _variance("var", x, axis, keepdims, ddof, dim, keepdim, correction, unbiased, False)


def std(x, axis=None, keepdims: bool = False, ddof=None, *, dim=_UNSET, keepdim=_UNSET,
        correction=None, unbiased=None) -> Tensor:
    """Standard deviation sqrt(var), with `var`'s arguments and defaults."""
    return F.sqrt(_variance("std", x, axis, keepdims, ddof, dim, keepdim, correction, unbiased,
                            False))


def var_method(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None, ddof=None,
               correction=None, unbiased=None) -> Tensor:
    """torch's `Tensor.var`: the unbiased variance (correction=1) unless told otherwise;
    spelled with NumPy's `axis=` / `keepdims=` / `ddof=` it is `ndarray.var` (ddof=0)."""
    numpy_style = axis is not None or keepdims is not None or ddof is not None
    if axis is not None:
        dim = axis
    return _variance("var", self, dim, bool(keepdims if keepdims is not None else keepdim), ddof,
                     _UNSET, _UNSET, correction, unbiased, not numpy_style)


def std_method(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None, ddof=None,
               correction=None, unbiased=None) -> Tensor:
    """torch's `Tensor.std`: sqrt of the unbiased variance (correction=1) unless told otherwise."""
    return F.sqrt(var_method(self, dim, keepdim, axis=axis, keepdims=keepdims, ddof=ddof,
                             correction=correction, unbiased=unbiased))


def var_mean(x, dim=None, keepdim: bool = False, *, correction=None, unbiased=None,
             axis=None) -> tuple[Tensor, Tensor]:
    """`(var, mean)` as `torch.var_mean` (correction=1 by default)."""
    dim = axis if axis is not None else dim
    dim = tuple(dim) if isinstance(dim, list) else dim
    v = _base_var(x, dim, keepdim, _ddof(None, correction, unbiased, True))
    return v, F.mean(x, dim, keepdim)


def std_mean(x, dim=None, keepdim: bool = False, *, correction=None, unbiased=None,
             axis=None) -> tuple[Tensor, Tensor]:
    """`(std, mean)` as `torch.std_mean` (correction=1 by default)."""
    v, m = var_mean(x, dim, keepdim, correction=correction, unbiased=unbiased, axis=axis)
    return F.sqrt(v), m


@torch_names
def amax(x, axis=None, keepdims: bool = False) -> Tensor:
    """The maximum over `axis` (the values only, also with `dim=`), as `torch.amax` / `np.amax`."""
    return F.max(x, axis, keepdims)


@torch_names
def amin(x, axis=None, keepdims: bool = False) -> Tensor:
    """The minimum over `axis` (the values only, also with `dim=`), as `torch.amin` / `np.amin`."""
    return F.min(x, axis, keepdims)


@torch_names
def nansum(x, axis=None, keepdims: bool = False) -> Tensor:
    """Sum with NaN counted as 0, as `np.nansum` / `torch.nansum` (NaN gets zero gradient)."""
    x = F._lift(x)
    return F.sum(F.where(F.ne(x, x), F.zeros_like(x), x), axis, keepdims)


@torch_names
def nanmean(x, axis=None, keepdims: bool = False) -> Tensor:
    """Mean of the non-NaN elements, as `np.nanmean` / `torch.nanmean`."""
    x = F._lift(x)
    ok = F.eq(x, x)
    count = F.sum(F.cast(ok, x.dtype if x.dtype.kind == "f" else np.float64), axis, keepdims)
    return nansum(x, axis, keepdims) / count


@torch_names
def count_nonzero(x, axis=None, keepdims: bool = False) -> Tensor:
    """How many elements are nonzero along `axis` (int64), as `torch.count_nonzero`."""
    return F.sum(F.cast(F.ne(F._lift(x), 0), np.int64), axis, keepdims)


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


