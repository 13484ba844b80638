"""torch's index updates along a dim and its selection functions, as composites of tracead ops.

Index updates along a dim (`index_add`, `index_copy`, `index_fill`, `take`,
`take_along_dim`), selection (`kthvalue`, `median`, `msort`, `searchsorted`,
`bucketize`, `logcumsumexp`) and the value-dependent ones that only run
eagerly or as a guarded value inside `compile` (`masked_select`,
`masked_scatter`, `nonzero`, `argwhere`, `unique`). Differentiable where
torch's are; `torch_functions` re-exports them.
"""
from __future__ import annotations

import numpy as np

from . import basic_functions as F
from . import indexing as I
from . import scans as S
from . import shape_functions as SF
from .errors import op_error
from .ops.shapes import normalize_axes
from .reductions import ValuesIndices
from .tensor import Tensor

__all__ = [
    "index_add", "index_copy", "index_fill", "take", "take_along_dim", "masked_select",
    "masked_scatter", "nonzero", "argwhere", "unique", "kthvalue", "median", "msort",
    "searchsorted", "bucketize", "logcumsumexp",
]

# -- indexed updates along a dim ------------------------------------------------------
def _dim_index(op: str, x: Tensor, dim: int, index, source_shape) -> tuple[int, Tensor]:
    """`index` (1-d) laid along `dim` and broadcast to `source_shape` (a scatter index)."""
    dim = normalize_axes(op, dim, x.ndim, x)[0]
    index = I._index_tensor(op, index)
    if index.ndim != 1:
        raise op_error(op, f"index must be 1-d, got shape {index.shape}", x, index)
    shape = [1] * len(source_shape)
    shape[dim] = index.shape[0]
    return dim, F.broadcast_to(F.reshape(index, tuple(shape)), tuple(source_shape))


def index_add(x, dim: int, index, source, *, alpha=1) -> Tensor:
    """torch.index_add: x with alpha * source added at `index` along `dim` (repeats accumulate)."""
    x, source = F._pair(x, source)
    dim, where = _dim_index("index_add", x, dim, index, source.shape)
    return I.scatter_add(x, dim, where, source if alpha == 1 else source * alpha)


def index_copy(x, dim: int, index, source) -> Tensor:
    """torch.index_copy: x with `source` written at `index` along `dim`."""
    x, source = F._pair(x, source)
    dim, where = _dim_index("index_copy", x, dim, index, source.shape)
    return I.scatter(x, dim, where, source)


def index_fill(x, dim: int, index, value) -> Tensor:
    """torch.index_fill: x with `value` at `index` along `dim`."""
    x = F._lift(x)
    picked = I.index_select(x, dim, index)
    return index_copy(x, dim, index, F.full_like(picked, value) if not isinstance(value, Tensor)
                      else F.broadcast_to(F.cast(value, x.dtype), picked.shape))


def take(x, index) -> Tensor:
    """torch.take: elements of the flattened x at `index` (any shape)."""
    index = I._index_tensor("take", index)
    return F.reshape(F.getitem(F.reshape(x, -1), F.reshape(index, -1)), index.shape)


def take_along_dim(x, indices, dim=None) -> Tensor:
    """torch.take_along_dim: `np.take_along_axis` with torch's name (dim None: flattened)."""
    return I.take_along_axis(x, indices, dim)


# -- value-dependent shapes: eager values (a guarded value inside compile) -----------------
def masked_select(x, mask) -> Tensor:
    """torch.masked_select: the elements where `mask` (broadcast with x) is true, 1-d."""
    x, mask = F._lift(x), F._lift(mask)
    shape = tuple(np.broadcast_shapes(x.shape, mask.shape))
    return F.getitem(F.broadcast_to(x, shape), F.broadcast_to(mask, shape))


def masked_scatter(x, mask, source) -> Tensor:
    """torch.masked_scatter: x with the positions where `mask` is true filled, in order,
    from the leading elements of `source` (differentiable in x and source)."""
    x, mask, source = F._lift(x), F._lift(mask), F._lift(source)
    mask = F.broadcast_to(mask, x.shape)
    # the k-th true position takes source's k-th element: an index computed from the mask
    order = np.cumsum(np.asarray(mask.numpy()).reshape(-1)) - 1
    if order.size and order[-1] + 1 > source.size:
        raise op_error("masked_scatter", f"source has {source.size} elements, the mask selects "
                       f"{order[-1] + 1}", x, source)
    taken = F.reshape(F.getitem(F.reshape(source, -1), np.maximum(order, 0)), x.shape)
    return F.where(mask, taken, x)


def nonzero(x, *, as_tuple: bool = False):
    """torch.nonzero: (count, ndim) int64 indices of the nonzero elements (or one array per dim)."""
    x = F._lift(x)
    found = np.nonzero(np.asarray(x.numpy()))
    if as_tuple:
        return tuple(Tensor(i.astype(np.int64)) for i in found)
    return Tensor(np.stack(found, axis=-1).astype(np.int64).reshape(-1, x.ndim))


def argwhere(x) -> Tensor:
    """The (count, ndim) indices of the nonzero elements, as `torch.argwhere`."""
    return nonzero(x)


def unique(x, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False,
           dim=None):
    """torch.unique over the flattened input (no gradient; eager values)."""
    if dim is not None:
        raise op_error("unique", "dim= is not supported", x)
    values, inverse, counts = np.unique(np.asarray(F._lift(x).numpy()), return_inverse=True,
                                        return_counts=True)
    out = [Tensor(values)]
    if return_inverse:
        out.append(Tensor(inverse.reshape(np.shape(x)).astype(np.int64)))
    if return_counts:
        out.append(Tensor(counts.astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


# -- selection ---------------------------------------------------------------------------
def kthvalue(x, k: int, dim: int = -1, keepdim: bool = False) -> ValuesIndices:
    """torch.kthvalue: the k-th smallest value along `dim` (1-based) and its index."""
    values, indices = S.sort_with_indices(x, dim)
    x = F._lift(x)
    d = normalize_axes("kthvalue", dim, max(x.ndim, 1), x)[0]
    n = values.shape[d] if values.ndim else 1
    if not 1 <= k <= n:
        raise op_error("kthvalue", f"k={k} is out of range for a dimension of size {n}", x)
    pick = (slice(None),) * d + (slice(k - 1, k) if keepdim else k - 1,)
    if not x.ndim:
        return ValuesIndices(x, F.zeros((), dtype=np.int64))
    return ValuesIndices(F.getitem(values, pick), F.getitem(indices, pick))


def median(x, dim=None, keepdim: bool = False):
    """torch.median: the lower median; with `dim`, `(values, indices)`."""
    x = F._lift(x)
    if dim is None:
        flat = F.reshape(x, -1)
        return kthvalue(flat, (flat.shape[0] + 1) // 2, 0).values
    n = x.shape[normalize_axes("median", dim, max(x.ndim, 1), x)[0]] if x.ndim else 1
    return kthvalue(x, (n + 1) // 2, dim, keepdim)


def msort(x) -> Tensor:
    """torch.msort: sorted along the first axis."""
    return S.sort(x, 0)


def searchsorted(sorted_sequence, values, *, right: bool = False, side=None, out_int32=False,
                 sorter=None) -> Tensor:
    """torch.searchsorted: where each value would be inserted to keep the last axis sorted.

    A comparison count (no gradient): sum(seq < v) ('left') or sum(seq <= v) ('right').
    """
    seq, v = F._lift(sorted_sequence), F._lift(values)
    if sorter is not None:
        seq = I.take_along_axis(seq, sorter, -1)
    right = right or side == "right"
    if seq.ndim > 1 and seq.shape[:-1] != v.shape[:-1]:
        raise op_error("searchsorted", f"leading dims of the sequence {seq.shape} and the values "
                       f"{v.shape} differ", seq, v)
    scalar = v.ndim == 0
    if scalar:
        v = F.reshape(v, (1,))
    s = F.reshape(seq, seq.shape[:-1] + (1, seq.shape[-1])) if seq.ndim > 1 else seq
    below = F.le(s, F.reshape(v, v.shape + (1,))) if right else F.lt(s, F.reshape(v, v.shape + (1,)))
    out = F.sum(F.cast(below, np.int64), -1)
    out = F.cast(out, np.int32) if out_int32 else out
    return F.reshape(out, ()) if scalar else out


def bucketize(input, boundaries, *, out_int32: bool = False, right: bool = False) -> Tensor:
    """torch.bucketize: the bucket of each input among the 1-d `boundaries`."""
    return searchsorted(boundaries, input, right=right, out_int32=out_int32)


def logcumsumexp(x, dim: int) -> Tensor:
    """torch.logcumsumexp: log of the running sum of exp along `dim`, stably.

    Each output is a logsumexp over a masked row (entries after it are -inf),
    so every term is shifted by its own maximum: no underflow to log(0) where
    a running exp-sum would lose the small early terms (O(n^2) along `dim`).
    """
    x = F._lift(x)
    if x.ndim == 0:
        normalize_axes("logcumsumexp", dim, 1, x)
        return x
    d = normalize_axes("logcumsumexp", dim, x.ndim, x)[0]
    last = SF.movedim(x, d, -1)
    n = last.shape[-1]
    rows = F.broadcast_to(F.reshape(last, last.shape[:-1] + (1, n)), last.shape + (n,))
    masked = F.where(np.tril(np.ones((n, n), bool)), rows, np.asarray(-np.inf, x.dtype))
    return SF.movedim(F.logsumexp(masked, -1), -1, d)
