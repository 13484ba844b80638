"""A Python index (`x[1:, None, mask, idx]`) in getitem's param form.

The static part (ints, slices, None, Ellipsis) becomes a hashable tuple;
integer arrays become tensor inputs referred to from it. A boolean mask is
resolved to integer arrays here, after checking that its shape matches the
dimensions it covers (NumPy raises IndexError; selecting silently would not).
"""
from __future__ import annotations

import numpy as np

from .errors import op_error
from .symint import is_symbolic
from .tensor import Tensor, as_tensor, note_filled


def _dims_used(item) -> int:
    """How many dimensions of the indexed tensor one index item consumes."""
    if item is None or item is Ellipsis:
        return 0
    dtype = getattr(item, "dtype", None)
    if dtype is not None and np.dtype(dtype) == np.bool_:
        return len(np.shape(item))
    return 1


def _check_mask(x: Tensor, index: tuple, k: int, mask_shape: tuple) -> None:
    """A boolean mask must match the dimensions it covers, as NumPy demands."""
    if any(item is Ellipsis for item in index[:k]):
        start = x.ndim - sum(_dims_used(item) for item in index[k:])
    else:
        start = sum(_dims_used(item) for item in index[:k])
    covered = x.shape[start:start + len(mask_shape)]
    if start < 0 or covered != tuple(mask_shape):
        raise op_error("getitem", f"boolean index of shape {tuple(mask_shape)} does not match "
                       f"the indexed dimensions {covered} (from axis {start})", x,
                       index_error=True)


def index_to_param(x: Tensor, index) -> tuple[tuple, list]:
    if not isinstance(index, tuple):
        index = (index,)
    if sum(item is Ellipsis for item in index) > 1:
        raise op_error("getitem", "an index can only have a single ellipsis ('...')", x,
                       index_error=True)
    spec, arrays = [], []
    for k, item in enumerate(index):
        if item is None:
            spec.append(("n",))
        elif item is Ellipsis:
            spec.append(("e",))
        elif isinstance(item, slice):
            parts = [None if v is None else v if is_symbolic(v) else int(v)
                     for v in (item.start, item.stop, item.step)]
            spec.append(("s", *parts))
        elif isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            spec.append(("i", int(item)))
        else:
            arr = item if isinstance(item, Tensor) else np.asarray(item)
            if arr.dtype == np.bool_:
                if arr.ndim == 0:
                    raise op_error("getitem", "a 0-d boolean index (x[True]) is not supported; "
                                   "use x[None] or a mask array", x, index_error=True)
                _check_mask(x, index, k, arr.shape)
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
            arrays.append(_symbolic_arange(x, index, k, arr))
    return tuple(spec), arrays


def _symbolic_arange(x: Tensor, index: tuple, k: int, arr):
    """`x[np.arange(x.shape[0]), y]` in a dynamic-shape trace: NumPy's arange of a
    symbolic size is a plain array; an index array 0..n-1 along an axis whose size n is
    symbolic becomes a constant re-made as arange(n) at each call's sizes. (An array
    that only happened to equal it is caught by the runtime's check at other sizes.)"""
    if isinstance(arr, Tensor) or arr.ndim != 1 or any(
            item is None or item is Ellipsis for item in index[:k]):
        return arr
    n = x.shape[k] if k < x.ndim else None
    if not is_symbolic(n) or len(arr) != n.__base_value__() or not np.array_equal(arr, np.arange(len(arr))):
        return arr
    return note_filled(as_tensor(arr), (n,), kind="arange")
