"""Shape and dtype rules shared by the primitive declarations.

Each helper raises an error that names the op, the input shapes and dtypes
and the user's line, instead of letting NumPy fail later with a bare message.
"""
from __future__ import annotations

import numpy as np

from .errors import op_error
from .prim import Aval

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_supported(dtype, op: str = "tensor", *avals) -> np.dtype:
    """tracead computes with bool, integer, float32 and float64 dtypes only.

    `avals` (the offending value, when there is one) go into the message.
    """
    dtype = np.dtype(dtype)
    if dtype == np.float16:
        # Rejected, not converted: NumPy computes float16 in float16 (overflowing
        # at 65504), Numba has no float16 at all, and a silent float32 would make
        # eager, interpreted and compiled results differ.
        raise op_error(op, "float16 is not supported (tracead computes in float32 or "
                       "float64); convert with .astype(np.float32)", *avals, type_error=True)
    # longdouble is kind "f" too, but neither Numba nor the message below supports it.
    if dtype.kind not in "biuf" or (dtype.kind == "f" and dtype.itemsize > 8):
        raise op_error(
            op, f"unsupported dtype {dtype} (tracead supports bool, integers, "
            "float32 and float64)", *avals, type_error=True)
    return dtype


def broadcast_shapes(*shapes) -> tuple[int, ...]:
    """`np.broadcast_shapes` in Python, so that symbolic sizes (symint.py) pass through:
    the result holds the inputs' own size objects. ValueError if they do not broadcast."""
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for axis in range(ndim):
        size = 1
        for shape in shapes:
            k = axis - (ndim - len(shape))
            if k < 0:
                continue
            d = shape[k]
            if d == 1 or d is size:
                continue
            if size == 1:
                size = d
            elif d == size:  # equal sizes: keep the symbolic one, if either is
                size = d if hasattr(d, "expr") and not hasattr(size, "expr") else size
            else:
                raise ValueError(f"shapes {shapes} do not broadcast")
        out.append(size)
    return tuple(out)


def same_shape(a: tuple, b: tuple) -> bool:
    """a == b, lengths first: a tuple comparison compares items up to the shorter length,
    and `(n, 16) == (16,)` would compare a symbolic n with 16 (a needless size guard)."""
    return len(a) == len(b) and a == b


def broadcast(op: str, *avals) -> tuple[int, ...]:
    try:
        return broadcast_shapes(*(a.shape for a in avals))
    except ValueError:
        raise op_error(op, "shapes do not broadcast", *avals) from None


def elementwise(op: str, *avals, dtype=None) -> Aval:
    shape = broadcast(op, *avals)
    out = dtype if dtype is not None else np.result_type(*(a.dtype for a in avals))
    return Aval(shape, np.dtype(out))


def float_elementwise(op: str, *avals) -> Aval:
    """Transcendental ops: integers promote to float64, as in NumPy."""
    out = elementwise(op, *avals)
    if out.dtype.kind in "biu":
        return Aval(out.shape, np.dtype(np.float64))
    return out


def normalize_axes(op: str, axis, ndim: int, aval=None) -> tuple[int, ...]:
    """axis=None | int | tuple -> sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        a = int(a)
        # A 0-d input takes axis 0 and -1 (as torch, and np.sum / np.max).
        if not -max(ndim, 1) <= a < max(ndim, 1):
            raise op_error(op, f"axis {a} is out of range for {ndim}-d input",
                           *([aval] if aval is not None else []))
        out.append(a % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise op_error(op, f"repeated axis in {axis}")
    return tuple(sorted(out)) if ndim else ()


def reduced_shape(shape, axes, keepdims: bool) -> tuple[int, ...]:
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)
