"""Indexing primitives: getitem and its transpose, scatter_add.

The static part of an index (ints, slices, None, Ellipsis) is a hashable
`index` param; integer index arrays are tensor inputs, referred to from the
param as ("a", k). `functional.getitem` builds this form from a Python index.
"""
from __future__ import annotations

import math

import numpy as np

from .. import lax
from ..errors import op_error
from ..prim import Aval, Prim, register
from ..shapes import broadcast_shapes


def build_index(index, arrays) -> tuple:
    """Turn the param form back into a NumPy index tuple."""
    out = []
    for item in index:
        tag = item[0]
        if tag == "i":
            out.append(item[1])
        elif tag == "s":
            out.append(slice(item[1], item[2], item[3]))
        elif tag == "n":
            out.append(None)
        elif tag == "e":
            out.append(Ellipsis)
        else:  # "a"
            out.append(arrays[item[1]])
    return tuple(out)


def _getitem_impl(x, *arrays, index):
    try:
        return x[build_index(index, arrays)]
    except IndexError as exc:  # index values are only known here
        raise op_error("getitem", f"{exc}", x, *arrays, index_error=True) from None


def _getitem_shape(x, *arrays, index):
    for a in arrays:
        if a.dtype.kind not in "iu":
            raise op_error("getitem", f"index arrays must be integers, got {a.dtype}", x, a)
    probe = np.broadcast_to(np.empty((), x.dtype), x.shape)
    dummy_arrays = [np.zeros(a.shape, np.intp) for a in arrays]
    try:
        shape = probe[build_index(index, dummy_arrays)].shape
    except IndexError as exc:
        raise op_error("getitem", f"{exc}", x, *arrays, index_error=True) from None
    # The sizes in Python, so that symbolic ones stay symbolic: basic indexing, and
    # index arrays only, leading (x[rows, cols], x[idx]: their broadcast shape first).
    if not arrays:
        sizes = _basic_index_shape(x.shape, index)
    elif all(item[0] == "a" for item in index):
        sizes = broadcast_shapes(*(a.shape for a in arrays)) + tuple(x.shape[len(index):])
    else:
        sizes = None
    if sizes is not None and len(sizes) == len(shape) and all(map(int.__eq__, map(int, sizes), shape)):
        shape = sizes
    return Aval(tuple(shape), x.dtype)


def _basic_index_shape(shape, index) -> tuple | None:
    """The result shape of ints, unit-step slices, None and Ellipsis on `shape` (None
    for anything else: NumPy's answer is used)."""
    used = sum(item[0] in ("i", "s") for item in index)
    out, axis = [], 0
    for item in index:
        tag = item[0]
        if tag == "n":
            out.append(1)
        elif tag == "e":
            rest = len(shape) - used - axis
            out.extend(shape[axis:axis + rest])
            axis += rest
        elif tag == "i":
            axis += 1
        elif tag == "s" and item[3] in (None, 1):
            out.append(_slice_length(shape[axis], item[1], item[2]))
            axis += 1
        else:
            return None
    return tuple(out) + tuple(shape[axis:])


def _slice_length(n, start, stop):
    if start is None and stop is None:
        return n
    start = 0 if start is None else start + n if start < 0 else start
    stop = n if stop is None else stop + n if stop < 0 else stop
    start, stop = min(max(start, 0), n), min(max(stop, 0), n)
    return max(stop - start, 0)


def _getitem_vjp(g, out, x, *arrays, index):
    return (lax.scatter_add(g, arrays, index, x.shape),) + (None,) * len(arrays)


def _basic_index(*, index) -> bool:
    """Basic indexing (no index arrays) returns a view; index arrays copy."""
    return all(item[0] != "a" for item in index)


getitem_p = register(Prim("getitem", "index", _getitem_impl, _getitem_shape, _getitem_vjp, arity=-1,
                          shares_input=_basic_index, strided=True))


_FULL = ("s", None, None, None)


def _scatter_slabs(g, rows, shape):
    """zeros(shape) with g's slabs added at rows of axis 0 (x[rows]'s transpose, an
    embedding's gradient), or None when an index is out of range (add.at then raises).

    np.add.at over whole slabs of an N-d array is much slower than add.at over the
    slabs' flat element positions, a 1-d index it has a fast loop for (figures:
    benchmarks/NOTES.md, W6). Both add in index order: the same sums bit for bit."""
    n, slab = shape[0], math.prod(shape[1:])
    rows = rows.reshape(-1)
    if rows.size and (rows.min() < -n or rows.max() >= n):
        return None
    rows = np.where(rows < 0, rows + n, rows).astype(np.intp)
    positions = (rows[:, None] * slab + np.arange(slab, dtype=np.intp)).reshape(-1)
    out = np.zeros(n * slab, g.dtype)
    np.add.at(out, positions, g.reshape(-1))
    return out.reshape(shape)


def _scatter_add_impl(g, *arrays, index, shape):
    if (len(arrays) == 1 and index[:1] == (("a", 0),) and all(item == _FULL for item in index[1:])
            and len(shape) >= 1 and g.shape == arrays[0].shape + tuple(shape[1:])):
        out = _scatter_slabs(g, arrays[0], shape)
        if out is not None:
            return out
    out = np.zeros(shape, g.dtype)
    try:
        if arrays:
            # add.at accumulates repeated indices; plain assignment would not.
            np.add.at(out, build_index(index, arrays), g)
        else:
            out[build_index(index, arrays)] = g
    except IndexError as exc:
        raise op_error("scatter_add", f"{exc}", g, *arrays, index_error=True) from None
    return out


def _scatter_add_vjp(ct, out, g, *arrays, index, shape):
    return (lax.getitem(ct, arrays, index),) + (None,) * len(arrays)


scatter_add_p = register(Prim(
    "scatter_add", "index", _scatter_add_impl,
    lambda g, *arrays, index, shape: Aval(tuple(shape), g.dtype),
    _scatter_add_vjp, arity=-1, doc="zeros(shape) with g added at index (getitem's transpose)"))
