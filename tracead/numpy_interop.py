"""NumPy calls on Tensors: `np.exp(t)`, `np.sum(t, axis=0)` route to tracead.

Users write NumPy-style code; when a NumPy ufunc or function meets a Tensor
it dispatches here (NEP 13 / NEP 18). Known ones become tracead ops, so they
are differentiated and traced like any other op. Other NumPy functions see
arrays (as `np.asarray(t)` does; inside `compile` that is a guarded
concretisation point). An unknown *ufunc* on a tensor that requires grad is a
clear TypeError naming it and the user's line: math that silently drops the
gradient would be a wrong answer.
"""
from __future__ import annotations

import numpy as np

from . import functional as F
from .errors import OpTypeError, user_source
from .tensor import Tensor

UFUNCS = {
    np.add: F.add, np.subtract: F.sub, np.multiply: F.mul, np.true_divide: F.div,
    np.negative: F.neg, np.exp: F.exp, np.log: F.log, np.sqrt: F.sqrt, np.tanh: F.tanh,
    np.absolute: F.abs, np.sign: F.sign, np.maximum: F.maximum, np.minimum: F.minimum,
    np.power: F.pow, np.matmul: F.matmul, np.less: F.lt, np.less_equal: F.le,
    np.greater: F.gt, np.greater_equal: F.ge, np.equal: F.eq, np.not_equal: F.ne,
}

FUNCTIONS = {
    np.sum: F.sum, np.mean: F.mean, np.max: F.max, np.amax: F.max, np.min: F.min,
    np.amin: F.min, np.var: F.var, np.reshape: F.reshape, np.transpose: F.transpose,
    np.swapaxes: F.swapaxes, np.broadcast_to: F.broadcast_to, np.expand_dims: F.expand_dims,
    np.concatenate: F.concatenate, np.stack: F.stack, np.where: F.where, np.dot: F.dot,
    np.matmul: F.matmul, np.clip: F.clip,
}


def _unsupported(what: str) -> OpTypeError:
    where = user_source(3)
    return OpTypeError(
        f"{what} has no tracead op and one of its inputs requires grad: converting to NumPy "
        f"would silently drop the gradient. Use tracead ops, or .detach() / .numpy() to leave "
        f"autodiff on purpose" + (f" (at {where})" if where else ""))


def _leaves(obj):
    if isinstance(obj, Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            yield from _leaves(item)
    elif isinstance(obj, dict):
        for item in obj.values():
            yield from _leaves(item)


def _to_numpy(obj):
    """Tensors become arrays (a concretisation point, guarded inside a trace)."""
    if isinstance(obj, Tensor):
        return np.asarray(obj)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_numpy(o) for o in obj)
    if isinstance(obj, dict):
        return {k: _to_numpy(v) for k, v in obj.items()}
    return obj


def _fallback(what: str, call, args, kwargs, strict: bool):
    if strict and any(t.requires_grad for t in _leaves((args, kwargs))):
        raise _unsupported(what)
    return call(*_to_numpy(args), **_to_numpy(kwargs))


def array_ufunc(self, ufunc, method, *inputs, **kwargs):
    fn = UFUNCS.get(ufunc)
    if method == "__call__" and fn is not None and not kwargs:
        return fn(*inputs)
    return _fallback(f"np.{ufunc.__name__}", getattr(ufunc, method), inputs, kwargs, strict=True)


_REDUCTIONS = (np.sum, np.mean, np.max, np.amax, np.min, np.amin, np.var)


def array_function(self, func, types, args, kwargs):
    fn = FUNCTIONS.get(func)
    if fn is not None and func is np.clip:
        kwargs = {("lo" if k == "a_min" else "hi" if k == "a_max" else k): v for k, v in kwargs.items()}
    if fn is None or (func in _REDUCTIONS and set(kwargs) - {"axis", "keepdims"}):
        # Lenient: other NumPy functions (np.testing, np.allclose, ...) see
        # arrays, like np.asarray(t) does.
        return _fallback(f"np.{func.__name__}", func, args, kwargs, strict=False)
    return fn(*args, **kwargs)
