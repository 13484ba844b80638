"""matmul, with NumPy's semantics: 1-d operands, batched stacks, broadcasting.

The vjp promotes 1-d operands to matrices, multiplies by the swapped other
operand and drops the promoted axis again. An operand broadcast along batch
axes gets its gradient summed over them inside one GEMM: the axes are folded
into the contraction (the weight gradient of a Linear on (B, T, k) rows is one
(k, B*T) @ (B*T, n) product, not B products and a sum).

The impl runs a stack of rows times a matrix, (..., m, k) @ (k, n) with the
stack C-contiguous, as one (rows, k) @ (k, n) GEMM on a reshape view: NumPy
would call BLAS once per matrix of the stack.
"""
from __future__ import annotations

import math

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


def _padded(x, rank: int):
    """x with leading unit axes up to `rank` (a view: batch axes line up with the output's)."""
    return lax.reshape(x, (1,) * (rank - x.ndim) + x.shape)


def _product(sizes) -> int:
    n = 1
    for d in sizes:  # a Python product: symbolic sizes stay symbolic
        n = n * d
    return n


def _summed(x, batch) -> list[int]:
    """The batch axes an operand was broadcast along: its gradient sums over them."""
    return [i for i, d in enumerate(batch) if x.shape[i] == 1 and d != 1]


def _grad_right(a2, b2, g2, batch):
    """d/db of a2 @ b2: sum over b's broadcast batch axes of a^T g.

    Those axes are folded into the contraction, so the sum is the GEMM's own
    (one (k, rows) @ (rows, n) product) instead of a stack of products and a
    reduction. For (B, T, k) @ (k, n) (a Linear on a 3-d input) both operands
    are C-contiguous row stacks and the fold is two reshape views.
    """
    s = len(batch)
    bp = _padded(b2, s + 2)
    summed = _summed(bp, batch)
    if not summed:
        return lax.matmul(_swap_last(a2), g2)
    kept = [i for i in range(s) if i not in summed]
    perm = tuple(kept + summed) + (s, s + 1)
    ap, gp = lax.transpose(_padded(a2, s + 2), perm), lax.transpose(g2, perm)
    rows = _product(batch[i] for i in summed) * g2.shape[-2]
    ap = lax.reshape(ap, ap.shape[:len(kept)] + (rows, ap.shape[-1]))
    gp = lax.reshape(gp, gp.shape[:len(kept)] + (rows, gp.shape[-1]))
    return lax.reshape(lax.matmul(_swap_last(ap), gp), b2.shape)


def _grad_left(a2, b2, g2, batch):
    """d/da of a2 @ b2: sum over a's broadcast batch axes of g b^T, folded into the
    contraction as in `_grad_right` (g and b become (m, axes * n) and (k, axes * n))."""
    s = len(batch)
    ap = _padded(a2, s + 2)
    summed = _summed(ap, batch)
    if not summed:
        return lax.matmul(g2, _swap_last(b2))
    kept = [i for i in range(s) if i not in summed]
    perm = tuple(kept) + (s,) + tuple(summed) + (s + 1,)
    gp, bp = lax.transpose(g2, perm), lax.transpose(_padded(b2, s + 2), perm)
    cols = _product(batch[i] for i in summed) * g2.shape[-1]
    gp = lax.reshape(gp, gp.shape[:len(kept) + 1] + (cols,))
    bp = lax.reshape(bp, bp.shape[:len(kept) + 1] + (cols,))
    return lax.reshape(lax.matmul(gp, _swap_last(bp)), a2.shape)


def _matmul_vjp(g, out, a, b):
    a2 = lax.reshape(a, (1,) + a.shape) if a.ndim == 1 else a
    b2 = lax.reshape(b, b.shape + (1,)) if b.ndim == 1 else b
    full = _matmul_shape(a2, b2).shape
    g2 = lax.reshape(g, full)
    batch = full[:-2]
    ga = gb = None  # an input that does not require grad costs no product
    # Each gradient comes back in its operand's own shape (broadcast batch
    # axes already summed), so the 1-d promotions are simply undone.
    if a.requires_grad:
        ga = lax.reshape(_grad_left(a2, b2, g2, batch), a.shape)
    if b.requires_grad:
        gb = lax.reshape(_grad_right(a2, b2, g2, batch), b.shape)
    return ga, gb


def _matmul_flops(out, a, b):
    """2 per multiply-add: each output element is a dot product over a's last axis."""
    return 2 * a.shape[-1] * out.size


def _matmul_impl(a, b, out=None):
    """np.matmul, optionally into `out` (the compiled step's planned buffer)."""
    if a.ndim > 2 and b.ndim == 2 and a.flags.c_contiguous and (out is None or out.flags.c_contiguous):
        rows = math.prod(a.shape[:-1])  # not -1: a size-0 stack has no size to infer from
        flat = None if out is None else out.reshape(rows, b.shape[-1])
        product = np.matmul(a.reshape(rows, a.shape[-1]), b, out=flat)
        return product.reshape(a.shape[:-1] + b.shape[-1:])
    return np.matmul(a, b, out=out)


matmul_p = register(Prim("matmul", "matmul", _matmul_impl, _matmul_shape, _matmul_vjp, arity=2,
                         flops=_matmul_flops))
