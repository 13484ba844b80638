"""Reduction primitives: sum and max over a canonical tuple of axes.

Params are always normalised by `functional` (sorted non-negative `axes`,
bool `keepdims`) so equal reductions compare equal in CSE and cache keys.
`mean`, `min`, `var`, `logsumexp` are composites of these.
"""
from __future__ import annotations

import numpy as np

from .. import lax, shapes
from ..errors import op_error
from ..prim import Aval, Prim, register


def _reduce_shape(name):
    def rule(x, *, axes, keepdims):
        for a in axes:
            if not 0 <= a < max(x.ndim, 1):
                raise op_error(name, f"axis {a} out of range", x)
        return Aval(shapes.reduced_shape(x.shape, axes, keepdims), x.dtype)
    return rule


def _sum_shape(x, *, axes, keepdims):
    aval = _reduce_shape("sum")(x, axes=axes, keepdims=keepdims)
    # NumPy sums bools and small integers in the default integer type.
    if x.dtype.kind in "bi" and x.dtype.itemsize < 8:
        return Aval(aval.shape, np.dtype(np.int64))
    if x.dtype.kind == "u" and x.dtype.itemsize < 8:
        return Aval(aval.shape, np.dtype(np.uint64))
    return aval


def _sum_vjp(g, out, x, *, axes, keepdims):
    kept = shapes.reduced_shape(x.shape, axes, True)
    return (lax.broadcast_to(lax.reshape(g, kept), x.shape),)


def _max_impl(x, *, axes, keepdims):
    # Only an empty *reduced* axis lacks an identity: max over axis 1 of a
    # (0, 3) array is a valid empty result, as in NumPy.
    if any(x.shape[a] == 0 for a in axes):
        raise op_error("max", "reduction over an empty tensor has no identity", x)
    return np.max(x, axis=axes, keepdims=keepdims)


def _max_vjp(g, out, x, *, axes, keepdims):
    # The cotangent goes to the maxima, split evenly between ties (as torch.amax).
    # The mask stays bool (what a compiled step keeps from forward to backward is a
    # quarter of a float32 mask); the float count is summed where it is made.
    kept = shapes.reduced_shape(x.shape, axes, True)
    mask = x == lax.reshape(out, kept)
    count = lax.sum(lax.cast(mask, g.dtype), axes, keepdims=True)
    return (lax.where(mask, lax.reshape(g, kept) / count, 0.0),)


sum_p = register(Prim("sum", "reduce", lambda x, *, axes, keepdims: np.sum(x, axis=axes, keepdims=keepdims),
                    _sum_shape, _sum_vjp, template="+", cost=1))  # one add per element
max_p = register(Prim("max", "reduce", _max_impl, _reduce_shape("max"), _max_vjp, template="max",
                    cost=1))
