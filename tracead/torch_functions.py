"""torch's remaining functions, as composites of tracead ops.

Joining and splitting (`cat`, `hstack`, `unbind`, `narrow`, `unfold`),
diagonals (`diag`, `diagonal`, `trace`), elementwise helpers (`lerp`,
`logaddexp`, `hypot`, `frac`, `nan_to_num`, `isposinf`, ...), `div` with
`rounding_mode`, index updates along a dim (`index_add`, `index_copy`,
`index_fill`), selection (`kthvalue`, `median`, `msort`, `searchsorted`,
`logcumsumexp`) and the value-dependent ones that only run eagerly or as
a guarded value inside `compile` (`masked_select`, `nonzero`, `unique`).
All of them are differentiable where torch's are. `functional` re-exports
this module; `torch_api` attaches the Tensor methods.
"""
from __future__ import annotations

import math

import numpy as np

from . import basic_functions as F
from . import indexing as I
from . import math_functions as M
from . import reductions as R
from . import scans as S
from . import shape_functions as SF
from .errors import op_error
from .ops.shapes import normalize_axes
from .norms import vector_norm
from .reductions import ValuesIndices
from .tensor import Tensor

__all__ = [
    "cat", "concat", "hstack", "vstack", "dstack", "column_stack", "atleast_1d", "atleast_2d",
    "atleast_3d", "ravel", "unbind", "narrow", "diag", "diagonal", "diag_embed", "lerp",
    "logaddexp", "logaddexp2", "hypot", "frac", "nan_to_num", "isposinf", "isneginf", "allclose",
    "true_divide", "index_add", "index_copy", "index_fill", "take", "take_along_dim",
    "masked_select", "masked_scatter", "nonzero", "argwhere", "unique", "kthvalue", "median", "msort",
    "searchsorted", "bucketize", "logcumsumexp", "fliplr", "flipud", "greater", "greater_equal",
    "less", "less_equal", "not_equal", "eq", "ne", "lt", "le", "gt", "ge", "negative",
    "clone", "unfold", "cdist",
]

eq, ne, lt, le, gt, ge = F.eq, F.ne, F.lt, F.le, F.gt, F.ge
greater, greater_equal, less, less_equal, not_equal = F.gt, F.ge, F.lt, F.le, F.ne
negative = F.neg


# -- joining, splitting, views ---------------------------------------------------------
def cat(tensors, dim: int = 0, *, axis=None) -> Tensor:
    """torch.cat: the tensors joined along `dim` (as `np.concatenate`)."""
    return F.concatenate(list(tensors), dim if axis is None else axis)


concat = cat


def _at_least(x, n: int) -> Tensor:
    x = F._lift(x)
    if x.ndim >= n:
        return x
    if n == 3 and x.ndim == 2:
        return F.reshape(x, x.shape + (1,))
    if n == 3 and x.ndim == 1:
        return F.reshape(x, (1,) + x.shape + (1,))
    return F.reshape(x, (1,) * (n - x.ndim) + x.shape)


def atleast_1d(x) -> Tensor:
    """x with at least 1 dim, as `np.atleast_1d` / `torch.atleast_1d`."""
    return _at_least(x, 1)


def atleast_2d(x) -> Tensor:
    """x with at least 2 dims (new leading axes), as `np.atleast_2d`."""
    return _at_least(x, 2)


def atleast_3d(x) -> Tensor:
    """x with at least 3 dims, as `np.atleast_3d` (a matrix gets a trailing axis)."""
    return _at_least(x, 3)


def hstack(tensors) -> Tensor:
    """Joined along axis 1 (axis 0 for 1-d inputs), as `np.hstack` / `torch.hstack`."""
    ts = [atleast_1d(t) for t in tensors]
    return F.concatenate(ts, 0 if ts[0].ndim == 1 else 1)


def vstack(tensors) -> Tensor:
    """Joined along axis 0 after making each at least 2-d, as `np.vstack`."""
    return F.concatenate([atleast_2d(t) for t in tensors], 0)


def dstack(tensors) -> Tensor:
    """Joined along axis 2 after making each at least 3-d, as `np.dstack`."""
    return F.concatenate([atleast_3d(t) for t in tensors], 2)


def column_stack(tensors) -> Tensor:
    """1-d inputs as columns, 2-d ones as they are, joined along axis 1."""
    ts = [F.reshape(F._lift(t), (-1, 1)) if F._lift(t).ndim < 2 else F._lift(t) for t in tensors]
    return F.concatenate(ts, 1)


def ravel(x) -> Tensor:
    """x flattened to 1-d, as `np.ravel` / `torch.ravel`."""
    return F.reshape(x, -1)


def unbind(x, dim: int = 0) -> tuple[Tensor, ...]:
    """torch.unbind: the slices along `dim`, that axis removed."""
    x = F._lift(x)
    dim = normalize_axes("unbind", dim, x.ndim, x)[0]
    return tuple(F.getitem(x, (slice(None),) * dim + (i,)) for i in range(x.shape[dim]))


def narrow(x, dim: int, start: int, length: int) -> Tensor:
    """torch.narrow: `length` entries from `start` along `dim`."""
    x = F._lift(x)
    dim = normalize_axes("narrow", dim, x.ndim, x)[0]
    start = int(start) + (x.shape[dim] if int(start) < 0 else 0)
    if not 0 <= start <= start + int(length) <= x.shape[dim]:
        raise op_error("narrow", f"start {start} + length {length} exceeds dimension {dim} of "
                       f"size {x.shape[dim]}", x)
    return F.getitem(x, (slice(None),) * dim + (slice(start, start + int(length)),))


def unfold(x, dimension: int, size: int, step: int) -> Tensor:
    """torch's `Tensor.unfold`: windows of `size` every `step` along `dimension`, as a new last axis."""
    x = F._lift(x)
    d = normalize_axes("unfold", dimension, max(x.ndim, 1), x)[0]
    n = x.shape[d] if x.ndim else 1
    if size > n or step <= 0 or size < 0:
        raise op_error("unfold", f"size {size} / step {step} do not fit dimension {d} of size {n}", x)
    starts = np.arange((n - size) // step + 1) * step
    idx = starts[:, None] + np.arange(size)[None, :]
    y = F.getitem(x if x.ndim else F.reshape(x, 1), (slice(None),) * d + (idx,))
    return SF.movedim(y, d + 1, -1)


def fliplr(x) -> Tensor:
    """x reversed along axis 1, as `np.fliplr`."""
    return SF.flip(x, 1)


def flipud(x) -> Tensor:
    """x reversed along axis 0, as `np.flipud`."""
    return SF.flip(x, 0)


def clone(x) -> Tensor:
    """A new tensor with x's value (gradient flows through, as torch.clone)."""
    x = F._lift(x)
    return F.where(True, x, x)


# -- diagonals -------------------------------------------------------------------------
def diagonal(x, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """torch.diagonal / np.diagonal: the diagonal of dims (dim1, dim2), moved to the end."""
    x = F._lift(x)
    d1, d2 = (normalize_axes("diagonal", d, x.ndim, x)[0] for d in (dim1, dim2))
    n1, n2 = x.shape[d1], x.shape[d2]
    rows = np.arange(max(0, -offset), min(n1, n2 - offset)) if n2 - offset > 0 else np.arange(0)
    rows = rows[rows < n1]
    cols = rows + offset
    rest = [i for i in range(x.ndim) if i not in (d1, d2)]
    moved = F.transpose(x, tuple(rest) + (d1, d2))
    lead = (slice(None),) * len(rest)
    return F.getitem(moved, lead + (rows, cols))


def diag(x, diagonal: int = 0) -> Tensor:
    """torch.diag / np.diag: a 1-d input as a diagonal matrix, or a matrix's diagonal."""
    x = F._lift(x)
    if x.ndim == 2:
        return globals()["diagonal"](x, diagonal)
    if x.ndim != 1:
        raise op_error("diag", f"expects a 1-d or 2-d input, got shape {x.shape}", x)
    n = x.shape[0] + abs(diagonal)
    rows = np.arange(x.shape[0]) + max(0, -diagonal)
    out = F.zeros(n, n, dtype=x.dtype)
    return I.index_update(out, x, rows, rows + diagonal, index=(("a", 0), ("a", 1)))


def diag_embed(x, offset: int = 0) -> Tensor:
    """torch.diag_embed (last two dims): each last-axis vector as a diagonal matrix."""
    x = F._lift(x)
    n = x.shape[-1] + abs(offset)
    rows = np.arange(x.shape[-1]) + max(0, -offset)
    mask = np.zeros((x.shape[-1], n, n), x.dtype)
    mask[np.arange(x.shape[-1]), rows, rows + offset] = 1
    return F.sum(F.reshape(x, x.shape + (1, 1)) * mask, -3)


# -- elementwise -----------------------------------------------------------------------
def lerp(start, end, weight) -> Tensor:
    """torch.lerp: start + weight * (end - start)."""
    start, end = F._pair(start, end)
    return start + weight * (end - start)


def logaddexp(a, b) -> Tensor:
    """log(exp(a) + exp(b)) without overflow, as `np.logaddexp` / `torch.logaddexp`."""
    a, b = F._pair(a, b)
    m = F.maximum(a, b)
    # inf - inf would be nan where both are +-inf: shift by 0 there instead.
    safe = F.where(F.eq(F.abs(m), math.inf), F.zeros_like(m), F.stop_gradient(m))
    return F.log(F.exp(a - safe) + F.exp(b - safe)) + safe


def logaddexp2(a, b) -> Tensor:
    """log2(2**a + 2**b), as `np.logaddexp2`."""
    ln2 = math.log(2.0)
    return logaddexp(F._lift(a) * ln2, F._lift(b) * ln2) / ln2


def hypot(a, b) -> Tensor:
    """sqrt(a**2 + b**2), as `np.hypot` / `torch.hypot`."""
    a, b = F._pair(a, b)
    return F.sqrt(a * a + b * b)


def frac(x) -> Tensor:
    """x - trunc(x), with x's sign, as `torch.frac`."""
    return x - M.trunc(x)


def nan_to_num(x, nan: float = 0.0, posinf=None, neginf=None) -> Tensor:
    """NaN -> `nan`, +inf -> `posinf` (default the dtype's max), -inf -> `neginf` (min)."""
    x = F._lift(x)
    if x.dtype.kind != "f":
        return x
    info = np.finfo(x.dtype)
    hi = info.max if posinf is None else posinf
    lo = info.min if neginf is None else neginf
    y = F.where(F.ne(x, x), np.asarray(nan, x.dtype), x)
    y = F.where(F.eq(x, math.inf), np.asarray(hi, x.dtype), y)
    return F.where(F.eq(x, -math.inf), np.asarray(lo, x.dtype), y)


def isposinf(x) -> Tensor:
    """True where x is +inf."""
    return F.eq(F._lift(x), math.inf)


def isneginf(x) -> Tensor:
    """True where x is -inf."""
    return F.eq(F._lift(x), -math.inf)


def allclose(a, b, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False) -> bool:
    """Whether every element is close (a Python bool, as torch.allclose / np.allclose)."""
    return bool(R.all(M.isclose(a, b, rtol, atol, equal_nan)))


def true_divide(a, b) -> Tensor:
    """a / b (torch.true_divide)."""
    return F.div(a, b)


def cdist(x1, x2, p: float = 2.0) -> Tensor:
    """torch.cdist: the p-norm distance between each row of x1 (..., P, M) and of x2 (..., R, M)."""
    x1, x2 = F._pair(x1, x2)
    diff = F.expand_dims(x1, -2) - F.expand_dims(x2, -3)
    return vector_norm(diff, p, -1)


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
