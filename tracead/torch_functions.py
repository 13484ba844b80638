"""torch's remaining functions, as composites of tracead ops.

Joining and splitting (`cat`, `hstack`, `unbind`, `narrow`, `unfold`),
diagonals (`diag`, `diagonal`, `trace`), elementwise helpers (`lerp`,
`logaddexp`, `hypot`, `frac`, `nan_to_num`, `isposinf`, ...), `div` with
`rounding_mode`; index updates along a dim, selection and the
value-dependent functions come from `torch_selection`. All of them are
differentiable where torch's are. `functional` re-exports this module;
`torch_api` attaches the Tensor methods.
"""
from __future__ import annotations

import math

import numpy as np

from . import basic_functions as F
from . import indexing as I
from . import math_functions as M
from . import reductions as R
from . import shape_functions as SF
from .errors import op_error
from .ops.shapes import normalize_axes
from .norms import vector_norm
from .tensor import Tensor
from . import torch_selection
from .torch_selection import *  # noqa: F401,F403  (index_add, kthvalue, unique, ...)

__all__ = [
    "cat", "concat", "hstack", "vstack", "dstack", "column_stack", "atleast_1d", "atleast_2d",
    "atleast_3d", "ravel", "unbind", "narrow", "diag", "diagonal", "diag_embed", "lerp",
    "logaddexp", "logaddexp2", "hypot", "frac", "nan_to_num", "isposinf", "isneginf", "allclose",
    "true_divide", "fliplr", "flipud", "greater", "greater_equal",
    "less", "less_equal", "not_equal", "eq", "ne", "lt", "le", "gt", "ge", "negative",
    "clone", "unfold", "cdist",
] + torch_selection.__all__

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
