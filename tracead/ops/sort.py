"""Selection primitives: argsort, argmax, argmin (int64 indices, no gradient).

Sorted values, top-k and running extremes are gathers with these indices
(`functional` builds them from `getitem`), so their gradients are getitem's:
the cotangent scattered back through the permutation. "opaque": one kernel
each, run as the NumPy impl. `axis` is canonical and non-negative.
"""
from __future__ import annotations

import numpy as np

from .. import shapes
from ..errors import op_error
from ..prim import Aval, Prim, register


def _argsort_impl(x, *, axis, descending):
    if not descending:
        return np.argsort(x, axis=axis, kind="stable")
    # Stable descending order (equal values keep their order, NaN first as the
    # largest, as torch.sort): the ascending order of the reversed input, reversed.
    n = x.shape[axis]
    flipped = np.argsort(np.flip(x, axis), axis=axis, kind="stable")
    return (n - 1) - np.flip(flipped, axis)


def _argsort_shape(x, *, axis, descending):
    if not 0 <= axis < x.ndim:
        raise op_error("argsort", f"axis {axis} out of range for {x.ndim}-d input", x)
    return Aval(x.shape, np.dtype(np.int64))


argsort_p = register(Prim("argsort", "opaque", _argsort_impl, _argsort_shape,
                          differentiable=False, doc="stable sorting permutation along axis"))


def _arg_extreme(name: str, numpy_fn):
    def impl(x, *, axis, keepdims):
        return numpy_fn(x, axis=axis, keepdims=keepdims).astype(np.int64)

    def rule(x, *, axis, keepdims):
        if not 0 <= axis < x.ndim:
            raise op_error(name, f"axis {axis} out of range for {x.ndim}-d input", x)
        if x.shape[axis] == 0:
            raise op_error(name, f"axis {axis} is empty: an empty sequence has no {name}", x)
        return Aval(shapes.reduced_shape(x.shape, (axis,), keepdims), np.dtype(np.int64))
    return register(Prim(name, "opaque", impl, rule, differentiable=False,
                         doc=f"index of the first {name[3:]}imum along axis (NaN counts as extreme)"))


argmax_p = _arg_extreme("argmax", np.argmax)
argmin_p = _arg_extreme("argmin", np.argmin)
