"""NumPy functions as tracead ops: one adapter per NumPy signature.

`numpy_interop` routes `np.sum(t)`, `np.linalg.norm(t)`, ... here. Each
adapter takes NumPy's own parameters, maps what tracead supports onto
tracead functions (so the result is differentiated and traced like any other
op) and raises `Unsupported` for the rest (`out=`, `where=`, a spectral norm,
...); the dispatcher turns that into a clear error or, where converting is
harmless, a plain NumPy call.
"""
from __future__ import annotations

import numpy as np

from . import functional as F


class Unsupported(Exception):
    """This call has no tracead equivalent; the message says which part."""


def _defaults(name: str, **given) -> None:
    """Every NumPy-only argument must be left at its default."""
    for key, value in given.items():
        if value is not None and value is not np._NoValue and value is not False:
            raise Unsupported(f"{name} with {key}=")


def _with_dtype(x, dtype):
    return x if dtype is None else F.cast(x, dtype)


def _sum(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    _defaults("np.sum", out=out, initial=initial, where=where)
    return F.sum(_with_dtype(F._lift(a), dtype), axis, keepdims)


def _mean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=None):
    _defaults("np.mean", out=out, where=where)
    return F.mean(_with_dtype(F._lift(a), dtype), axis, keepdims)


def _max(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    _defaults("np.max", out=out, initial=initial, where=where)
    return F.max(a, axis, keepdims)


def _min(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    _defaults("np.min", out=out, initial=initial, where=where)
    return F.min(a, axis, keepdims)


def _var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None,
         mean=None, correction=None):
    _defaults("np.var", out=out, where=where, mean=mean)
    if correction is not None and correction is not np._NoValue:
        ddof = correction
    return F.var(_with_dtype(F._lift(a), dtype), axis, keepdims, ddof)


def _reshape(a, shape=None, order="C", *, copy=None):
    if order != "C":
        raise Unsupported(f"np.reshape with order={order!r}")
    return F.reshape(a, shape)


def _ravel(a, order="C"):
    if order != "C":
        raise Unsupported(f"np.ravel with order={order!r}")
    return F.reshape(a, -1)


def _squeeze(a, axis=None):
    x = F._lift(a)
    axes = F.normalize_axes("squeeze", axis, x.ndim, x) if axis is not None else tuple(
        i for i, d in enumerate(x.shape) if d == 1)
    if any(x.shape[i] != 1 for i in axes):
        raise F.op_error("squeeze", f"cannot squeeze axes {axes} of size != 1", x)
    return F.reshape(x, tuple(d for i, d in enumerate(x.shape) if i not in axes))


def _transpose(a, axes=None):
    return F.transpose(a, axes)


def _swapaxes(a, axis1, axis2):
    return F.swapaxes(a, axis1, axis2)


def _broadcast_to(array, shape, subok=False):
    return F.broadcast_to(array, (shape,) if isinstance(shape, int) else shape)


def _expand_dims(a, axis):
    out = F._lift(a)
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    ndim = out.ndim + len(axes)
    for ax in sorted(int(ax) % ndim for ax in axes):
        out = F.expand_dims(out, ax)
    return out


def _concatenate(arrays, axis=0, out=None, *, dtype=None, casting=None):
    _defaults("np.concatenate", out=out, dtype=dtype)
    if axis is None:
        return F.concatenate([F.reshape(a, -1) for a in arrays])
    return F.concatenate(arrays, axis)


def _stack(arrays, axis=0, out=None, *, dtype=None, casting=None):
    _defaults("np.stack", out=out, dtype=dtype)
    return F.stack(arrays, axis)


def _where(condition, x=None, y=None):
    if x is None or y is None:
        raise Unsupported("np.where with one argument (np.nonzero)")
    return F.where(condition, x, y)


def _clip(a, a_min=np._NoValue, a_max=np._NoValue, out=None, *, min=np._NoValue,
          max=np._NoValue, **kwargs):
    _defaults("np.clip", out=out, **kwargs)
    lo = None if a_min is np._NoValue else a_min
    hi = None if a_max is np._NoValue else a_max
    lo = lo if min is np._NoValue else min
    hi = hi if max is np._NoValue else max
    return F.clip(a, lo, hi)


def _dot(a, b, out=None):
    _defaults("np.dot", out=out)
    return F.dot(a, b)


def _norm(x, ord=None, axis=None, keepdims=False):
    """Vector norms (None/2, 1, inf, -inf) and the Frobenius norm."""
    x = F._lift(x)
    if x.dtype.kind in "biu":
        x = F.cast(x, np.float64)
    axes = F.normalize_axes("linalg.norm", axis, x.ndim, x)
    vector = len(axes) == 1 or (axis is None and ord is None)
    if ord is None or (ord == 2 and vector) or (ord == "fro" and len(axes) == 2):
        return F.sqrt(F.sum(x * x, axes, keepdims))
    if vector and ord == 1:
        return F.sum(F.abs(x), axes, keepdims)
    if vector and ord == np.inf:
        return F.max(F.abs(x), axes, keepdims)
    if vector and ord == -np.inf:
        return F.min(F.abs(x), axes, keepdims)
    raise Unsupported(f"np.linalg.norm with ord={ord!r} over {len(axes)} axes")


def _like(value):
    def adapter(a, dtype=None, order="K", subok=True, shape=None, *, device=None):
        _defaults("np.*_like", shape=shape)
        return _with_dtype(F.full_like(a, value), dtype)
    return adapter


FUNCTIONS = {
    np.sum: _sum, np.mean: _mean, np.max: _max, np.amax: _max, np.min: _min, np.amin: _min,
    np.var: _var, np.reshape: _reshape, np.ravel: _ravel, np.squeeze: _squeeze,
    np.transpose: _transpose, np.swapaxes: _swapaxes, np.broadcast_to: _broadcast_to,
    np.expand_dims: _expand_dims, np.concatenate: _concatenate, np.stack: _stack,
    np.where: _where, np.clip: _clip, np.dot: _dot, np.tensordot: F.tensordot,
    np.linalg.norm: _norm, np.zeros_like: _like(0), np.ones_like: _like(1),
}

# Functions that read only shapes: answering them needs no values.
METADATA = {
    np.shape: lambda a: a.shape,
    np.ndim: lambda a: a.ndim,
    np.size: lambda a, axis=None: a.size if axis is None else a.shape[axis],
}
