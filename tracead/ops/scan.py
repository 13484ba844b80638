"""Scan and product primitives: cumsum, cumprod, running-extreme indices, prod.

All "opaque" (one kernel each, run as their NumPy impl). `functional` gives
them a canonical non-negative `axis` (inputs of at least one dimension) and a
bool `reverse` (scan from the end, so each scan's transpose is the same
primitive reversed, without a flip).

Gradients with zeros: cumprod and prod do not divide by x where that is 0.
prod's gradient is the product of the other elements (exclusive cumprods
from both ends); cumprod's, before the first zero of a line, is the usual
reversed cumsum of g * out over x; at the first zero it is the same sum with
that zero replaced by one; after it, zero (every later product has that zero).
"""
from __future__ import annotations

import numpy as np

from .. import lax, shapes
from ..errors import op_error
from ..prim import Aval, Prim, register


def _accumulate_dtype(dtype: np.dtype) -> np.dtype:
    """NumPy sums and multiplies bools and small integers in the default integer."""
    if dtype.kind in "bi" and dtype.itemsize < 8:
        return np.dtype(np.int64)
    if dtype.kind == "u" and dtype.itemsize < 8:
        return np.dtype(np.uint64)
    return dtype


def _check_axis(name, x, axis):
    if not 0 <= axis < x.ndim:
        raise op_error(name, f"axis {axis} out of range for {x.ndim}-d input", x)


def _scan_shape(name):
    def rule(x, *, axis, reverse):
        _check_axis(name, x, axis)
        return Aval(x.shape, _accumulate_dtype(x.dtype))
    return rule


def _scan_impl(ufunc):
    def impl(x, *, axis, reverse):
        out_dtype = _accumulate_dtype(x.dtype)
        if reverse:  # contiguous, as every other kernel's result
            flipped = ufunc.accumulate(np.flip(x, axis), axis=axis, dtype=out_dtype)
            return np.ascontiguousarray(np.flip(flipped, axis))
        return ufunc.accumulate(x, axis=axis, dtype=out_dtype)
    return impl


def _cumsum_vjp(g, out, x, *, axis, reverse):
    return (lax.cumsum(g, axis, not reverse),)


def _cumprod_vjp(g, out, x, *, axis, reverse):
    is_zero = lax.eq(x, 0)
    zeros_so_far = lax.cumsum(lax.cast(is_zero, np.int64), axis, reverse)
    before_zero = lax.eq(zeros_so_far, 0)
    first_zero = lax.where(is_zero, lax.eq(zeros_so_far, 1), False)
    one = lax.ones_like(x)
    # Before the first zero: sum over later j of g_j * out_j / x_i (x_i != 0 there).
    safe_x = lax.where(before_zero, x, one)
    before = lax.cumsum(g * out, axis, not reverse) / safe_x
    # At the first zero: the products with that zero taken out.
    without = lax.cumprod(lax.where(first_zero, one, x), axis, reverse)
    at_zero = lax.cumsum(g * without, axis, not reverse)
    zero = lax.zeros_like(before)
    return (lax.where(before_zero, before, lax.where(first_zero, at_zero, zero)),)


cumsum_p = register(Prim("cumsum", "opaque", _scan_impl(np.add), _scan_shape("cumsum"),
                         _cumsum_vjp, doc="running sum along axis (reverse: from the end)"))
cumprod_p = register(Prim("cumprod", "opaque", _scan_impl(np.multiply), _scan_shape("cumprod"),
                          _cumprod_vjp, doc="running product along axis (reverse: from the end)"))


def _running_extreme_index_impl(larger: bool):
    """Index of the running max (min) as torch.cummax: ties take the later index, NaN sticks."""
    def impl(x, *, axis):
        moved = np.moveaxis(x, axis, -1)
        out = np.zeros(moved.shape, np.int64)
        if moved.shape[-1] == 0:
            return np.moveaxis(out, -1, axis)
        best = moved[..., 0].copy()
        index = np.zeros(best.shape, np.int64)
        for i in range(moved.shape[-1]):
            value = moved[..., i]
            better = value >= best if larger else value <= best
            if x.dtype.kind == "f":
                better = np.isnan(value) | (~np.isnan(best) & better)
            best = np.where(better, value, best)
            index = np.where(better, i, index)
            out[..., i] = index
        return np.ascontiguousarray(np.moveaxis(out, -1, axis))
    return impl


def _index_shape(name):
    def rule(x, *, axis):
        _check_axis(name, x, axis)
        return Aval(x.shape, np.dtype(np.int64))
    return rule


cummax_index_p = register(Prim("cummax_index", "opaque", _running_extreme_index_impl(True),
                               _index_shape("cummax_index"), differentiable=False,
                               doc="index of the running maximum along axis (torch.cummax)"))
cummin_index_p = register(Prim("cummin_index", "opaque", _running_extreme_index_impl(False),
                               _index_shape("cummin_index"), differentiable=False,
                               doc="index of the running minimum along axis (torch.cummin)"))


# -- prod ---------------------------------------------------------------------------------
def _prod_shape(x, *, axes, keepdims):
    for a in axes:
        if not 0 <= a < max(x.ndim, 1):
            raise op_error("prod", f"axis {a} out of range", x)
    return Aval(shapes.reduced_shape(x.shape, axes, keepdims), _accumulate_dtype(x.dtype))


def _prod_impl(x, *, axes, keepdims):
    return np.prod(x, axis=axes, keepdims=keepdims, dtype=_accumulate_dtype(x.dtype))


def _exclusive_cumprod(flat, reverse: bool):
    """Products of the elements strictly before (after, if reverse) each one, on the last axis."""
    last = flat.ndim - 1

    def cols(start, stop):  # flat[..., start:stop] in getitem's param form
        return lax.getitem(flat, (), (("e",), ("s", start, stop, None)))

    one = lax.ones_like(cols(0, 1))
    if reverse:
        shifted = lax.concatenate([cols(1, None), one], last)
    else:
        shifted = lax.concatenate([one, cols(None, -1)], last)
    return lax.cumprod(shifted, last, reverse)


def _prod_vjp(g, out, x, *, axes, keepdims):
    # d prod / d x_i = the product of all the other elements (exact with zeros).
    if x.size == 0:
        return (lax.zeros_like(x),)
    kept = shapes.reduced_shape(x.shape, axes, True)
    rest = [i for i in range(x.ndim) if i not in axes]
    perm = tuple(rest) + tuple(axes)
    moved = lax.transpose(x, perm)
    lead = moved.shape[:len(rest)]
    flat = lax.reshape(moved, lead + (int(np.prod(moved.shape[len(rest):], dtype=np.int64)),))
    others = _exclusive_cumprod(flat, False) * _exclusive_cumprod(flat, True)
    others = lax.transpose(lax.reshape(others, moved.shape), tuple(int(i) for i in np.argsort(perm)))
    return (others * lax.reshape(g, kept),)


prod_p = register(Prim("prod", "opaque", _prod_impl, _prod_shape, _prod_vjp,
                       doc="product over axes (its gradient is exact where elements are 0)"))
