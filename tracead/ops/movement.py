"""Movement primitives: they change how elements are indexed, not their values.

reshape, transpose and broadcast_to take fully normalised static params
(no -1 in shapes, a full permutation), resolved by `functional`.
concatenate is variadic and ends a fusion group.
"""
from __future__ import annotations

import numpy as np

from .. import lax
from ..shapes import broadcast_shapes
from ..errors import op_error
from ..prim import Aval, Prim, register


def _reshape_shape(x, *, shape):
    if int(np.prod(shape, dtype=np.int64)) != x.size:
        raise op_error("reshape", f"cannot reshape {x.size} elements into shape {shape}", x)
    return Aval(tuple(shape), x.dtype)


# reshape and transpose return NumPy views (no buffer of their own); a transposed
# view is strided. (A reshape of a non-contiguous array copies: then the "view"
# only keeps its base alive a little longer than needed.)
reshape_p = register(Prim("reshape", "movement", lambda x, *, shape: np.reshape(x, shape),
                        _reshape_shape, lambda g, out, x, *, shape: (lax.reshape(g, x.shape),),
                        cost=0, view=True, shares_input=True))


def _transpose_shape(x, *, perm):
    if sorted(perm) != list(range(x.ndim)):
        raise op_error("transpose", f"axes {perm} are not a permutation of {x.ndim} axes", x)
    return Aval(tuple(x.shape[p] for p in perm), x.dtype)


def _transpose_vjp(g, out, x, *, perm):
    return (lax.transpose(g, tuple(int(i) for i in np.argsort(perm))),)


transpose_p = register(Prim("transpose", "movement", lambda x, *, perm: np.transpose(x, perm),
                          _transpose_shape, _transpose_vjp, cost=0, view=True, shares_input=True,
                          strided=True))


def _broadcast_shape(x, *, shape):
    try:
        if broadcast_shapes(x.shape, shape) != tuple(shape):
            raise ValueError
    except ValueError:
        raise op_error("broadcast_to", f"cannot broadcast to shape {shape}", x) from None
    return Aval(tuple(shape), x.dtype)


broadcast_to_p = register(Prim(
    "broadcast_to", "movement",
    # A read-only view would leak into user code through .numpy(); copy.
    lambda x, *, shape: np.array(np.broadcast_to(x, shape)),
    # The cotangent keeps the broadcast shape: the backward walk sums it back.
    _broadcast_shape, lambda g, out, x, *, shape: (g,),
    # Pointwise: a loop reads the input at the broadcast index, so per element it is
    # the identity, free.
    template="{0}", pointwise=True, cost=0))


def _concat_shape(*xs, axis):
    if not xs:
        raise op_error("concatenate", "needs at least one tensor")
    first = xs[0]
    if first.ndim == 0:
        raise op_error("concatenate", "zero-dimensional tensors cannot be concatenated", *xs)
    if not 0 <= axis < first.ndim:
        raise op_error("concatenate", f"axis {axis} out of range", *xs)
    for x in xs[1:]:
        same = x.ndim == first.ndim and all(
            a == b for i, (a, b) in enumerate(zip(x.shape, first.shape)) if i != axis)
        if not same:
            raise op_error("concatenate", f"shapes differ outside axis {axis}", *xs)
    shape = list(first.shape)
    shape[axis] = sum(x.shape[axis] for x in xs)
    return Aval(tuple(shape), np.result_type(*(x.dtype for x in xs)))


def _concat_vjp(g, out, *xs, axis):
    grads, start = [], 0
    for x in xs:
        stop = start + x.shape[axis]
        # The param form of g[:, ..., start:stop] (see `index_spec`).
        index = (("s", None, None, None),) * axis + (("s", start, stop, None),)
        grads.append(lax.getitem(g, (), index))
        start = stop
    return tuple(grads)


concatenate_p = register(Prim("concatenate", "opaque",
                            lambda *xs, axis: np.concatenate(xs, axis=axis),
                            _concat_shape, _concat_vjp, arity=-1))
