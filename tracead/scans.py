"""Scans, sorting and selection for users: cumsum, cumprod, cummax, cummin,
argmax, argmin, sort, argsort, topk.

Values picked by an index (sorted values, top-k, running extremes) are
gathered with `getitem`, so their gradient is the cotangent scattered back
through the same indices. Axes follow NumPy (`axis=None` flattens where
NumPy does) and accept torch's `dim=` / `keepdim=`. `functional` re-exports
this module.
"""
from __future__ import annotations

from . import basic_functions as F
from .errors import op_error
from .indexing import take_along_axis
from .ops import PRIMS as P
from .ops.shapes import normalize_axes
from .reductions import ValuesIndices, torch_names
from .tensor import Tensor

__all__ = [
    "argmax", "argmin", "argsort", "cummax", "cummin", "cumprod", "cumsum", "sort",
    "sort_with_indices", "topk"
]


def _scan_input(op: str, x, axis, keep_0d: bool = False) -> tuple[Tensor, int, tuple]:
    """(input of >= 1 dims, its axis, the shape to give the result).

    A 0-d input gives 1-d results as in NumPy (`np.cumsum`, `np.sort`), or
    0-d ones with `keep_0d` (the torch-only ops: cummax, topk)."""
    x = F._lift(x)
    if axis is None:  # NumPy: over the flattened input
        return F.reshape(x, -1), 0, (x.size,)
    if x.ndim == 0:  # axis 0 or -1, as NumPy and torch take it
        normalize_axes(op, axis, 1, x)
        return F.reshape(x, 1), 0, (() if keep_0d else (1,))
    return x, normalize_axes(op, axis, x.ndim, x)[0], x.shape


def _scan(name: str, x, axis, dtype, reverse: bool) -> Tensor:
    x, ax, shape = _scan_input(name, x, axis)
    if dtype is not None:
        x = F.cast(x, dtype)
    return F.reshape(F.bind(P[name], x, axis=ax, reverse=bool(reverse)), shape)


@torch_names
def cumsum(x, axis=None, dtype=None, *, reverse: bool = False) -> Tensor:
    """Running sum along `axis` (None: the flattened input), like `np.cumsum`; `reverse` sums from the end."""
    return _scan("cumsum", x, axis, dtype, reverse)


@torch_names
def cumprod(x, axis=None, dtype=None, *, reverse: bool = False) -> Tensor:
    """Running product along `axis`, like `np.cumprod`; the gradient is exact where elements are 0."""
    return _scan("cumprod", x, axis, dtype, reverse)


def _running_extreme(name: str, x, axis) -> ValuesIndices:
    x, ax, shape = _scan_input(name, x, -1 if axis is None else axis, keep_0d=True)
    indices = F.bind(P[f"{name}_index"], x, axis=ax)
    values = take_along_axis(x, indices, ax)
    return ValuesIndices(F.reshape(values, shape), F.reshape(indices, shape))


@torch_names
def cummax(x, axis) -> ValuesIndices:
    """`(values, indices)` of the running maximum along `axis`, as `torch.cummax`.

    Ties take the later index and NaN propagates, as in torch; the values
    equal `np.maximum.accumulate`. Differentiable in the values.
    """
    return _running_extreme("cummax", x, axis)


@torch_names
def cummin(x, axis) -> ValuesIndices:
    """`(values, indices)` of the running minimum along `axis`, as `torch.cummin`."""
    return _running_extreme("cummin", x, axis)


def _arg_extreme(name: str, x, axis, keepdims) -> Tensor:
    x = F._lift(x)
    if axis is None:
        out = F.bind(P[name], F.reshape(x, -1), axis=0, keepdims=False)
        return F.reshape(out, (1,) * x.ndim) if keepdims else out
    if x.ndim == 0:
        normalize_axes(name, axis, 1, x)
        return F.reshape(F.bind(P[name], F.reshape(x, 1), axis=0, keepdims=False), ())
    ax = normalize_axes(name, axis, x.ndim, x)
    return F.bind(P[name], x, axis=ax[0], keepdims=bool(keepdims))


@torch_names
def argmax(x, axis=None, keepdims: bool = False) -> Tensor:
    """Index of the first maximum along `axis` (None: of the flattened input), like `np.argmax`."""
    return _arg_extreme("argmax", x, axis, keepdims)


@torch_names
def argmin(x, axis=None, keepdims: bool = False) -> Tensor:
    """Index of the first minimum along `axis` (None: of the flattened input), like `np.argmin`."""
    return _arg_extreme("argmin", x, axis, keepdims)


def _sort_input(op: str, x, axis) -> tuple[Tensor, int, tuple]:
    x, ax, shape = _scan_input(op, x, axis)
    return x, ax, shape


@torch_names
def argsort(x, axis=-1, descending: bool = False, stable: bool = True) -> Tensor:
    """The stable sorting permutation along `axis` (None: flattened), like `np.argsort(kind="stable")`.

    NaN sorts last ascending and first descending, as in NumPy and torch.
    """
    x, ax, shape = _sort_input("argsort", x, axis)
    return F.reshape(F.bind(P["argsort"], x, axis=ax, descending=bool(descending)), shape)


@torch_names
def sort(x, axis=-1, descending: bool = False, stable: bool = True) -> Tensor:
    """The values sorted along `axis` (stable), like `np.sort`; the gradient follows the permutation.

    `Tensor.sort` returns `(values, indices)` as torch's does.
    """
    x, ax, shape = _sort_input("sort", x, axis)
    order = F.bind(P["argsort"], x, axis=ax, descending=bool(descending))
    return F.reshape(take_along_axis(x, order, ax), shape)


def sort_with_indices(x, axis=-1, descending: bool = False, stable: bool = True) -> ValuesIndices:
    """`(values, indices)` of a stable sort along `axis`, as `torch.sort`."""
    x, ax, shape = _sort_input("sort", x, axis)
    order = F.bind(P["argsort"], x, axis=ax, descending=bool(descending))
    return ValuesIndices(F.reshape(take_along_axis(x, order, ax), shape), F.reshape(order, shape))


@torch_names
def topk(x, k: int, axis=-1, largest: bool = True, sorted: bool = True) -> ValuesIndices:
    """`(values, indices)` of the k largest (smallest) elements along `axis`, as `torch.topk`.

    Always in sorted order (largest first, or smallest first), ties in index order.
    """
    x, ax, shape = _scan_input("topk", x, axis, keep_0d=True)
    k = int(k)
    if not 0 <= k <= x.shape[ax]:
        raise op_error("topk", f"k={k} is out of range for an axis of length {x.shape[ax]}", x)
    order = F.bind(P["argsort"], x, axis=ax, descending=bool(largest))
    index = (slice(None),) * ax + (slice(0, k),)
    order = F.getitem(order, index)
    values = take_along_axis(x, order, ax)
    out_shape = tuple(k if i == ax else d for i, d in enumerate(x.shape)) if shape else ()
    if not shape and k == 1:
        out_shape = ()
    return ValuesIndices(F.reshape(values, out_shape), F.reshape(order, out_shape))
