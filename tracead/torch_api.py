"""torch's spellings on top of everything else: Tensor methods and argument forms.

Installed last by `functional`: the arithmetic methods (`x.add(y, alpha=)`,
`x.mul`, `x.div(y, rounding_mode=)`, comparisons `x.eq(y)` ...), the
methods of `torch_functions` (`x.unbind()`, `x.diag()`, ...), metadata
(`x.type()`, `x.element_size()`, `x.new_zeros(...)`), torch's forms of
existing functions (`transpose(x, 0, 1)` swaps two dims, `stack(..., dim=)`,
`sum(x, dtype=)`, `max(x, other)` is `maximum`, `cumsum(x, dim=)` of a 0-d
tensor stays 0-d) and the torch-only `sort(x, dim=)` result `(values,
indices)`. NumPy spellings keep NumPy's meaning: the keyword decides.
"""
from __future__ import annotations

import functools

import numpy as np

from . import basic_functions as B
from . import creation, linalg as L, math_functions as M, scans as S, torch_functions as TF
from .errors import op_error
from .reductions import torch_names
from .tensor import Tensor

_UNSET = object()


def add(a, b, *, alpha=1) -> Tensor:
    """a + alpha * b (torch.add)."""
    return B.add(a, b if alpha == 1 else B.mul(b, alpha))


def sub(a, b, *, alpha=1) -> Tensor:
    """a - alpha * b (torch.sub)."""
    return B.sub(a, b if alpha == 1 else B.mul(b, alpha))


def div(a, b, *, rounding_mode=None) -> Tensor:
    """a / b; rounding_mode 'trunc' rounds toward zero, 'floor' down (torch.div).

    Integer inputs keep their dtype when rounded, as torch's; true division
    of integers gives a float, as NumPy's (float64).
    """
    if rounding_mode is None:
        return B.div(a, b)
    if rounding_mode == "floor":
        return M.floor_divide(a, b)
    if rounding_mode != "trunc":
        raise op_error("div", f"rounding_mode must be None, 'trunc' or 'floor', got "
                       f"{rounding_mode!r}", type_error=False)
    a, b = B._pair(a, b)
    if a.dtype.kind in "iu" and b.dtype.kind in "iu":
        q = M.floor_divide(a, b)
        # floor is one below trunc where the signs differ and the division is inexact
        fix = M.logical_and(B.ne(B.lt(a, 0), B.lt(b, 0)), B.ne(M.remainder(a, b), 0))
        return B.where(fix, q + 1, q)
    return M.trunc(B.div(a, b))


def transpose(x, *axes, **kwargs) -> Tensor:
    """Two ints swap those dims (torch's `transpose(x, 0, 1)`); one tuple, or three or
    more ints, permute (NumPy's, also as `axes=`); none reverse the axes."""
    if "axes" in kwargs:
        axes = (kwargs.pop("axes"),)
    if kwargs:
        raise op_error("transpose", f"unexpected arguments {sorted(kwargs)}", type_error=True)
    if len(axes) == 2 and all(isinstance(a, (int, np.integer)) for a in axes):
        return B.swapaxes(x, int(axes[0]), int(axes[1]))
    if len(axes) == 1:
        axes = axes[0]
    return B.transpose(x, None if axes == () else axes)


def _with_dtype(fn):
    @functools.wraps(fn)
    def wrapper(x, *args, dtype=None, **kwargs):
        if dtype is not None:
            x = B.cast(x, dtype)
        return fn(x, *args, **kwargs)
    return wrapper


def _extreme_or_elementwise(fn, elementwise):
    """torch.max(x, other) / min(x, other) with a tensor `other` is the elementwise max."""
    @functools.wraps(fn)
    def op(x, *args, **kwargs):
        if args and isinstance(args[0], (Tensor, np.ndarray)) and not kwargs:
            return elementwise(x, args[0])
        other = kwargs.pop("other", None)
        if other is not None:
            return elementwise(x, other)
        return fn(x, *args, **kwargs)
    return op


def sort(x, axis=-1, descending: bool = False, stable: bool = True, *, dim=_UNSET):
    """`np.sort`'s values, or with torch's `dim=` torch.sort's `(values, indices)`."""
    if dim is not _UNSET:
        return S.sort_with_indices(x, dim, descending, stable)
    return S.sort(x, axis, descending, stable)


def _scan_keeping_0d(name: str, fn):
    @functools.wraps(fn)
    def op(x, axis=None, dtype=None, *, dim=_UNSET, **kwargs):
        if dim is not _UNSET:
            x = B._lift(x)
            out = fn(x, dim, dtype, **kwargs)
            return B.reshape(out, ()) if x.ndim == 0 else out  # torch keeps a 0-d input 0-d
        return fn(x, axis, dtype, **kwargs)
    return op


cumsum = _scan_keeping_0d("cumsum", S.cumsum)
cumprod = _scan_keeping_0d("cumprod", S.cumprod)


def _method_scan(fn):
    def method(self, dim=None, dtype=None):
        return fn(self, dim=dim, dtype=dtype) if dim is not None else fn(self, None, dtype)
    method.__name__, method.__doc__ = fn.__name__, f"torch's `Tensor.{fn.__name__}(dim)`."
    return method


# -- Tensor metadata and constructors ------------------------------------------------------
def type_(self, dtype=None):
    """torch's `x.type(dtype)`: this tensor as `dtype`; with no argument, the dtype's name."""
    return str(self.dtype) if dtype is None else B.cast(self, dtype)


def _new(fill):
    def make(self, *size, dtype=None, requires_grad: bool = False) -> Tensor:
        """A new tensor of `size` filled with the constant, in this tensor's dtype by default."""
        shape = size[0] if len(size) == 1 and isinstance(size[0], (tuple, list)) else size
        return creation.full(tuple(shape), fill, dtype=dtype or self.dtype,
                             requires_grad=requires_grad)
    return make


def new_full(self, size, fill_value, *, dtype=None, requires_grad: bool = False) -> Tensor:
    """A new tensor of `size` filled with `fill_value`, in this tensor's dtype by default."""
    return creation.full(tuple(size), fill_value, dtype=dtype or self.dtype,
                         requires_grad=requires_grad)


def new_tensor(self, data, *, dtype=None, requires_grad: bool = False) -> Tensor:
    """`data` as a new tensor, in this tensor's dtype by default."""
    return Tensor(np.asarray(data, dtype=dtype or self.dtype), requires_grad=requires_grad)


def where_method(self, condition, other) -> Tensor:
    """torch's `x.where(condition, other)`: x where condition, else other."""
    return B.where(condition, self, other)


def t(self) -> Tensor:
    """torch's `x.t()`: the transpose of a matrix (a 0-d or 1-d tensor as it is)."""
    if self.ndim > 2:
        raise op_error("t", f"expects a tensor of at most 2 dims, got shape {self.shape}", self)
    return B.transpose(self)


def contiguous(self, *args, **kwargs) -> Tensor:
    """torch's `x.contiguous()`: this tensor (tracead has no strided views)."""
    return self


def reshape_as(self, other) -> Tensor:
    """This tensor reshaped to other's shape."""
    return B.reshape(self, other.shape)


def element_size(self) -> int:
    """Bytes per element."""
    return self.dtype.itemsize


def is_floating_point(self) -> bool:
    """Whether the dtype is a float."""
    return self.dtype.kind == "f"


def nelement(self) -> int:
    """The number of elements (torch's `nelement`, = `numel()`)."""
    return int(self._aval.size)


def half(self) -> Tensor:
    """float16: rejected with a clear error (NumPy computes it in float16, Numba has none)."""
    return B.cast(self, np.float16)


def trace(self) -> Tensor:
    """The sum of the main diagonal (torch's `x.trace()`)."""
    return B.sum(TF.diagonal(self))


METHODS = {
    "add": add, "sub": sub, "mul": B.mul, "multiply": B.mul, "div": div, "divide": div,
    "true_divide": TF.true_divide, "neg": B.neg, "negative": B.neg,
    "eq": B.eq, "ne": B.ne, "lt": B.lt, "le": B.le, "gt": B.gt, "ge": B.ge,
    "greater": B.gt, "greater_equal": B.ge, "less": B.lt, "less_equal": B.le,
    "not_equal": B.ne, "where": where_method, "t": t, "type": type_,
    "new_zeros": _new(0), "new_ones": _new(1), "new_empty": _new(0), "new_full": new_full,
    "new_tensor": new_tensor, "contiguous": contiguous, "clone": TF.clone,
    "reshape_as": reshape_as, "element_size": element_size,
    "is_floating_point": is_floating_point, "nelement": nelement, "half": half,
    "cumsum": _method_scan(cumsum), "cumprod": _method_scan(cumprod),
    "mm": L.mm, "bmm": L.bmm, "mv": L.mv, "kron": L.kron, "cross": L.cross,
    "masked_scatter": TF.masked_scatter,
    **{name: getattr(TF, name) for name in (
        "unbind narrow diag diagonal lerp logaddexp logaddexp2 hypot frac nan_to_num isposinf "
        "isneginf allclose index_add index_copy index_fill take take_along_dim masked_select "
        "nonzero argwhere unique kthvalue median msort logcumsumexp fliplr flipud unfold "
        "ravel").split()},
}


def install(functional) -> None:
    """Attach the methods and swap in the torch-aware forms of existing functions."""
    for name, fn in METHODS.items():
        setattr(Tensor, name, fn)
    Tensor.bitwise_and, Tensor.bitwise_or = M.bitwise_and, M.bitwise_or
    Tensor.bitwise_xor, Tensor.bitwise_not = M.bitwise_xor, M.bitwise_not
    Tensor.transpose = transpose
    Tensor.trace = trace
    Tensor.sum = _with_dtype(Tensor.sum)
    Tensor.mean = _with_dtype(Tensor.mean)
    Tensor.max = _extreme_or_elementwise(Tensor.max, B.maximum)
    Tensor.min = _extreme_or_elementwise(Tensor.min, B.minimum)
    replaced = {
        "add": add, "sub": sub, "div": div, "transpose": transpose, "sort": sort,
        "stack": torch_names(B.stack), "concatenate": torch_names(B.concatenate),
        "sum": _with_dtype(functional.sum), "mean": _with_dtype(functional.mean),
        "max": _extreme_or_elementwise(functional.max, B.maximum),
        "min": _extreme_or_elementwise(functional.min, B.minimum),
        "cumsum": cumsum, "cumprod": cumprod,
    }
    for name, fn in replaced.items():
        setattr(functional, name, fn)
