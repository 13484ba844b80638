"""Vector and matrix norms: `norm` (NumPy's and torch's), `vector_norm`, `matrix_norm`.

Three spellings, one core:
  np.linalg.norm / torch.linalg.norm   ord=, axis= / dim=: an int axis (or a
      1-d input) is a vector norm, a pair of axes (or a 2-d input) a matrix norm;
  torch.norm / Tensor.norm             p=, dim=: a number p is a vector norm over
      all the given dims ('fro' likewise; 'nuc' is the matrix norm);
  torch.linalg.vector_norm / matrix_norm.
Matrix norms: 'fro', 'nuc', 1, -1, 2, -2, inf, -inf. The spectral (2, -2) and
nuclear ones reduce the singular values (`lax.svdvals`, differentiable once).
Gradients at a zero vector are 0 (as torch), not nan.
`functional`, `linalg` and the Tensor methods re-export these.
"""
from __future__ import annotations

import math

import numpy as np

from . import basic_functions as F
from . import lax
from .errors import op_error
from .ops.shapes import normalize_axes
from .reductions import _UNSET
from .tensor import Tensor

__all__ = ["norm", "vector_norm", "matrix_norm"]

MATRIX_ORDS = ("fro", "nuc", 1, -1, 2, -2, math.inf, -math.inf)


def _float(x: Tensor) -> Tensor:
    return x if x.dtype.kind == "f" else F.cast(x, np.float64)


def _safe_root(total: Tensor, p: float) -> Tensor:
    """total ** (1/p) with gradient 0 (not nan) where total == 0, as torch's norms."""
    zero = F.eq(total, 0)
    safe = F.where(zero, F.ones_like(total), total)
    root = F.sqrt(safe) if p == 2 else F.pow(safe, 1.0 / p)
    return F.where(zero, F.zeros_like(root), root)


def _vector(x: Tensor, ord, axes: tuple, keepdims: bool) -> Tensor:
    x = _float(x)
    if ord == math.inf:
        return F.max(F.abs(x), axes, keepdims)
    if ord == -math.inf:
        return F.min(F.abs(x), axes, keepdims)
    if ord == 0:  # a count; "+ 0 * x" gives torch's zero gradient instead of none
        return F.sum(F.cast(F.ne(x, 0), x.dtype) + 0.0 * x, axes, keepdims)
    if ord == 1:
        return F.sum(F.abs(x), axes, keepdims)
    if ord == 2:
        return _safe_root(F.sum(x * x, axes, keepdims), 2)
    if not isinstance(ord, (int, float, np.integer, np.floating)) or isinstance(ord, bool):
        raise op_error("norm", f"unsupported vector norm ord={ord!r}", x)
    if ord < 0:  # (sum |x|^p)^(1/p) with p < 0: a zero element gives 0, as NumPy
        return F.pow(F.sum(F.pow(F.abs(x), float(ord)), axes, keepdims), 1.0 / ord)
    return _safe_root(F.sum(F.pow(F.abs(x), float(ord)), axes, keepdims), ord)


def _drop(x: Tensor, out: Tensor, axes: tuple, keepdims: bool) -> Tensor:
    """`out` reduced with keepdims=True over `axes`, reshaped as asked."""
    if keepdims:
        return out
    return F.reshape(out, tuple(d for i, d in enumerate(x.shape) if i not in axes))


def _matrix(x: Tensor, ord, pair: tuple[int, int], keepdims: bool) -> Tensor:
    row, col = pair
    if row == col:
        raise op_error("norm", f"the two axes of a matrix norm must differ, got {pair}", x)
    x = _float(x)
    if ord == "fro":
        return _safe_root(F.sum(x * x, pair, keepdims), 2)
    if ord in (1, -1):  # max (min) over columns of the column sums of |x|
        sums = F.sum(F.abs(x), row, keepdims=True)
        out = (F.max if ord == 1 else F.min)(sums, col, keepdims=True)
        return _drop(x, out, pair, keepdims)
    if ord in (math.inf, -math.inf):  # max (min) over rows of the row sums
        sums = F.sum(F.abs(x), col, keepdims=True)
        out = (F.max if ord == math.inf else F.min)(sums, row, keepdims=True)
        return _drop(x, out, pair, keepdims)
    if ord in (2, -2, "nuc"):
        rest = tuple(i for i in range(x.ndim) if i not in pair)
        s = lax.svdvals(F.transpose(x, rest + (row, col)))              # (..., k)
        pick = {2: F.max, -2: F.min, "nuc": F.sum}[ord]
        out = pick(s, -1)
        if keepdims:
            shape = tuple(1 if i in pair else d for i, d in enumerate(x.shape))
            out = F.reshape(out, shape)
        return out
    raise op_error("norm", f"matrix norm ord={ord!r} is not supported (supported: "
                   "'fro', 'nuc', 1, -1, 2, -2, inf, -inf)", x)


def _pick(op: str, numpy_value, torch_value, numpy_name: str, torch_name: str):
    if torch_value is _UNSET:
        return numpy_value
    if numpy_value is not None and numpy_value is not False:
        raise op_error(op, f"got both {torch_name}= and {numpy_name}=", type_error=True)
    return torch_value


def _axes_of(op: str, x: Tensor, axis) -> tuple[int, ...]:
    if isinstance(axis, list):
        axis = tuple(axis)
    return normalize_axes(op, axis, x.ndim, x)


def norm(x, ord=None, axis=None, keepdims: bool = False, *, dim=_UNSET, keepdim=_UNSET,
         p=_UNSET, dtype=None) -> Tensor:
    """A vector or matrix norm, as `np.linalg.norm` / `torch.linalg.norm` (ord=, axis= / dim=).

    Without ord and axis: the 2-norm of all elements. An int axis (or a 1-d
    input): a vector norm (any number, inf, -inf; 0 counts nonzeros); a pair
    of axes (or a 2-d input with ord given): a matrix norm ('fro', 'nuc', 1,
    -1, 2, -2, inf, -inf). With torch.norm's `p=` a number is a vector norm
    over all of `dim` (all axes when None), 'fro' the Frobenius norm and
    'nuc' the nuclear norm of the pair `dim`.
    """
    x = F._lift(x)
    if dtype is not None:
        x = F.cast(x, dtype)
    axis = _pick("norm", axis, dim, "axis", "dim")
    keepdims = bool(_pick("norm", keepdims, keepdim, "keepdims", "keepdim"))
    if p is not _UNSET:  # torch.norm: p over all of dim
        if ord is not None:
            raise op_error("norm", "got both p= and ord=", x, type_error=True)
        if p == "nuc":
            return matrix_norm(x, "nuc", (-2, -1) if axis is None else axis, keepdims)
        axes = _axes_of("norm", x, axis)
        return _vector(x, 2 if p in ("fro", None) else p, axes, keepdims)
    if axis is None:
        if ord is None:
            return _vector(x, 2, _axes_of("norm", x, None), keepdims)
        if x.ndim not in (1, 2):
            raise op_error("norm", f"ord={ord!r} without axis needs a 1-d or 2-d input", x)
        axis = tuple(range(x.ndim))
    axes = _axes_of("norm", x, axis)
    if isinstance(axis, (tuple, list)) and len(axis) == 2:  # in the caller's (row, col) order
        pair = tuple(normalize_axes("norm", a, x.ndim, x)[0] for a in axis)
        return _matrix(x, "fro" if ord is None else ord, pair, keepdims)
    if len(axes) != 1:
        raise op_error("norm", f"axis must be an int or a pair of ints, got {axis!r}", x)
    if isinstance(ord, str):
        raise op_error("norm", f"ord={ord!r} is a matrix norm; pass two axes", x)
    return _vector(x, 2 if ord is None else ord, axes, keepdims)


def norm_method(self, p="fro", dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    """torch's `Tensor.norm`: the p-norm over all of `dim` (all axes when None)."""
    return norm(self, p=p, dim=dim, keepdim=keepdim, dtype=dtype)


def vector_norm(x, ord=2, axis=None, keepdims: bool = False, *, dim=_UNSET, keepdim=_UNSET,
                dtype=None) -> Tensor:
    """The vector ord-norm over `axis` / `dim` (None: all elements), as
    `torch.linalg.vector_norm`: any number, inf or -inf (0 counts nonzeros)."""
    x = F._lift(x)
    if dtype is not None:
        x = F.cast(x, dtype)
    axis = _pick("vector_norm", axis, dim, "axis", "dim")
    keepdims = bool(_pick("vector_norm", keepdims, keepdim, "keepdims", "keepdim"))
    return _vector(x, ord, _axes_of("vector_norm", x, axis), keepdims)


def matrix_norm(x, ord="fro", axis=None, keepdims: bool = False, *, dim=_UNSET,
                keepdim=_UNSET, dtype=None) -> Tensor:
    """A matrix norm over the pair `axis` / `dim` (default the last two), as
    `torch.linalg.matrix_norm`: 'fro', 'nuc', 1, -1, 2, -2, inf, -inf."""
    x = F._lift(x)
    if dtype is not None:
        x = F.cast(x, dtype)
    axis = _pick("matrix_norm", axis, dim, "axis", "dim")
    axis = (-2, -1) if axis is None else tuple(axis)
    keepdims = bool(_pick("matrix_norm", keepdims, keepdim, "keepdims", "keepdim"))
    if len(axis) != 2:
        raise op_error("matrix_norm", f"needs a pair of axes, got {axis!r}", x)
    pair = tuple(normalize_axes("matrix_norm", a, x.ndim, x)[0] for a in axis)
    return _matrix(x, ord, pair, keepdims)
