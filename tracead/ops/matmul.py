"""matmul, with NumPy's semantics: 1-d operands, batched stacks, broadcasting.

The vjp promotes 1-d operands to matrices, multiplies by the swapped other
operand and reduces broadcast batch dimensions back with `sum_to`.
"""
from __future__ import annotations

import numpy as np

from .. import functional as F
from ..errors import op_error
from .prim import Aval, Prim, register


def _matmul_shape(a, b):
    if a.ndim == 0 or b.ndim == 0:
        raise op_error("matmul", "operands must be at least 1-d (use * for scalars)", a, b)
    a2 = (1,) + a.shape if a.ndim == 1 else a.shape
    b2 = b.shape + (1,) if b.ndim == 1 else b.shape
    if a2[-1] != b2[-2]:
        raise op_error("matmul", f"inner dimensions differ ({a2[-1]} vs {b2[-2]})", a, b)
    try:
        batch = np.broadcast_shapes(a2[:-2], b2[:-2])
    except ValueError:
        raise op_error("matmul", "batch dimensions do not broadcast", a, b) from None
    shape = tuple(batch) + (a2[-2], b2[-1])
    if a.ndim == 1:
        shape = shape[:-2] + shape[-1:]
    if b.ndim == 1:
        shape = shape[:-1]
    return Aval(shape, np.result_type(a.dtype, b.dtype))


def _swap_last(x):
    perm = tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2)
    return F.transpose(x, perm)


def _matmul_vjp(g, out, a, b):
    a2 = F.reshape(a, (1,) + a.shape) if a.ndim == 1 else a
    b2 = F.reshape(b, b.shape + (1,)) if b.ndim == 1 else b
    out2 = _matmul_shape(a2, b2).shape
    g2 = F.reshape(g, out2)
    ga = F.sum_to(F.matmul(g2, _swap_last(b2)), a2.shape)
    gb = F.sum_to(F.matmul(_swap_last(a2), g2), b2.shape)
    return F.reshape(ga, a.shape), F.reshape(gb, b.shape)


matmul_p = register(Prim("matmul", "matmul", np.matmul, _matmul_shape, _matmul_vjp, arity=2))
