"""NumPy ufuncs and functions of the op-breadth ops: np.sin, np.cumsum, np.sort, ...

Merged into `numpy_interop.UFUNCS` and `numpy_functions.FUNCTIONS`, in the
same adapter style: NumPy's own parameters, `Unsupported` for what tracead
lacks (`out=`, `where=`, `order=`, ...).
"""
from __future__ import annotations

import numpy as np

from . import functional as F
from . import math_functions as M
from . import norms, reductions as R
from .numpy_functions import Unsupported, _defaults, _with_dtype

UFUNCS = {
    np.sin: M.sin, np.cos: M.cos, np.tan: M.tan, np.arcsin: M.asin, np.arccos: M.acos,
    np.arctan: M.atan, np.arctan2: M.atan2, np.sinh: M.sinh, np.cosh: M.cosh,
    np.arcsinh: M.asinh, np.arccosh: M.acosh, np.arctanh: M.atanh, np.log1p: M.log1p,
    np.expm1: M.expm1, np.log2: M.log2, np.log10: M.log10, np.exp2: M.exp2,
    np.floor: M.floor, np.ceil: M.ceil, np.trunc: M.trunc, np.rint: M.rint,
    np.copysign: M.copysign, np.floor_divide: M.floor_divide, np.remainder: M.remainder,
    np.fmod: M.fmod, np.isnan: M.isnan, np.isinf: M.isinf, np.isfinite: M.isfinite,
    np.logical_and: M.logical_and, np.logical_or: M.logical_or, np.logical_xor: M.logical_xor,
    np.logical_not: M.logical_not,
}


def _no_order(name: str, order) -> None:
    if order is not None:
        raise Unsupported(f"{name} with order=")


def _cumsum(a, axis=None, dtype=None, out=None):
    _defaults("np.cumsum", out=out)
    return F.cumsum(a, axis, dtype)


def _cumprod(a, axis=None, dtype=None, out=None):
    _defaults("np.cumprod", out=out)
    return F.cumprod(a, axis, dtype)


def _sort(a, axis=-1, kind=None, order=None, *, stable=None):
    _no_order("np.sort", order)
    return F.sort(a, axis)  # always stable: a valid answer for every kind


def _argsort(a, axis=-1, kind=None, order=None, *, stable=None):
    _no_order("np.argsort", order)
    return F.argsort(a, axis)


def _argmax(a, axis=None, out=None, *, keepdims=False):
    _defaults("np.argmax", out=out)
    return F.argmax(a, axis, keepdims)


def _argmin(a, axis=None, out=None, *, keepdims=False):
    _defaults("np.argmin", out=out)
    return F.argmin(a, axis, keepdims)


def _prod(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    _defaults("np.prod", out=out, initial=initial, where=where)
    return R.prod(a, axis, keepdims, dtype)


def _std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None,
         mean=None, correction=None):
    _defaults("np.std", out=out, where=where, mean=mean)
    if correction is not None and correction is not np._NoValue:
        ddof = correction
    return R.std(_with_dtype(F._lift(a), dtype), axis, keepdims, ddof)


def _any(a, axis=None, out=None, keepdims=False, *, where=None):
    _defaults("np.any", out=out, where=where)
    return R.any(a, axis, keepdims)


def _all(a, axis=None, out=None, keepdims=False, *, where=None):
    _defaults("np.all", out=out, where=where)
    return R.all(a, axis, keepdims)


def _round(a, decimals=0, out=None):
    _defaults("np.round", out=out)
    return M.round(a, decimals)


def _fix(x, out=None):
    _defaults("np.fix", out=out)
    return M.trunc(x)


def _isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    return M.isclose(a, b, rtol, atol, equal_nan)


def _norm(x, ord=None, axis=None, keepdims=False):
    return norms.norm(x, ord, axis, keepdims)


def _take_along_axis(arr, indices, axis=-1):
    if axis is None:
        raise Unsupported("np.take_along_axis with axis=None")
    return F.take_along_axis(arr, indices, axis)


FUNCTIONS = {
    np.cumsum: _cumsum, np.cumprod: _cumprod, np.sort: _sort, np.argsort: _argsort,
    np.argmax: _argmax, np.argmin: _argmin, np.prod: _prod, np.std: _std, np.any: _any,
    np.all: _all, np.round: _round, np.around: _round, np.fix: _fix, np.isclose: _isclose,
    np.linalg.norm: _norm, np.take_along_axis: _take_along_axis,
}
