"""matmul, with NumPy's semantics: 1-d operands, batched stacks, broadcasting.

The vjp promotes 1-d operands to matrices, multiplies by the swapped other
operand and drops the promoted axis again; broadcast batch dimensions are
summed back by the backward walk.
"""
from __future__ import annotations

import numpy as np

from .. import lax
from ..shapes import broadcast_shapes
from ..errors import op_error
from ..prim import Aval, Prim, register


def _matmul_shape(a, b):
    if a.ndim == 0 or b.ndim == 0:
        raise op_error("matmul", "operands must be at least 1-d (use * for scalars)", a, b)
    a2 = (1,) + a.shape if a.ndim == 1 else a.shape
    b2 = b.shape + (1,) if b.ndim == 1 else b.shape
    if a2[-1] != b2[-2]:
        raise op_error("matmul", f"inner dimensions differ ({a2[-1]} vs {b2[-2]})", a, b)
    try:
        batch = broadcast_shapes(a2[:-2], b2[:-2])
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
    return lax.transpose(x, perm)


def _matmul_vjp(g, out, a, b):
    a2 = lax.reshape(a, (1,) + a.shape) if a.ndim == 1 else a
    b2 = lax.reshape(b, b.shape + (1,)) if b.ndim == 1 else b
    g2 = lax.reshape(g, _matmul_shape(a2, b2).shape)
    ga = gb = None  # an input that does not require grad costs no product
    # Drop the axis a 1-d operand was promoted with, so what is left to sum
    # is only broadcast batch axes.
    if a.requires_grad:
        ga = lax.matmul(g2, _swap_last(b2))  # batch + (rows of a, k)
        if a.ndim == 1:
            ga = lax.reshape(ga, ga.shape[:-2] + ga.shape[-1:])
    if b.requires_grad:
        gb = lax.matmul(_swap_last(a2), g2)  # batch + (k, cols of b)
        if b.ndim == 1:
            gb = lax.reshape(gb, gb.shape[:-1])
    return ga, gb


def _matmul_flops(out, a, b):
    """2 per multiply-add: each output element is a dot product over a's last axis."""
    return 2 * a.shape[-1] * out.size


matmul_p = register(Prim("matmul", "matmul", np.matmul, _matmul_shape, _matmul_vjp, arity=2,
                         flops=_matmul_flops))
