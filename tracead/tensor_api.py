"""The torch-style Tensor API on top of the op functions.

Installed once by `functional` (after its own methods): a method for every
new op (`x.sin()`, `x.cumsum(dim)`, `x.argmax(dim, keepdim)`, ...), the
operators `//`, `%`, `&`, `|`, `^`, `~`, dtype conversions (`.to`, `.float`,
`.double`, `.int`, `.long`, `.bool`), `.flatten`, `.zero_`, `.dim`, `.numel`
and a callable `.size` (an int for NumPy users, `t.size()` / `t.size(d)` for
torch users). Existing reductions gain torch's `dim=` / `keepdim=`.
"""
from __future__ import annotations

import numpy as np

from . import basic_functions as F
from . import creation, math_functions as M, norms as N, reductions as R, scans as S
from . import shape_functions as SF
from .errors import op_error
from .tensor import Tensor

METHODS = {
    **{name: getattr(M, name) for name in (
        "sin cos tan asin acos atan sinh cosh asinh acosh atanh arcsin arccos arctan arcsinh "
        "arccosh arctanh log1p expm1 log2 log10 exp2 erf erfc softplus floor ceil trunc round "
        "isnan isinf isfinite reciprocal rsqrt square clamp atan2 arctan2 copysign fmod "
        "remainder floor_divide logical_and logical_or logical_not logical_xor isclose").split()},
    **{name: getattr(R, name) for name in "prod any all amax amin nansum nanmean "
                                           "count_nonzero".split()},
    "var": R.var_method, "std": R.std_method, "norm": N.norm_method,
    **{name: getattr(S, name) for name in "argmax argmin cumsum cumprod cummax cummin argsort "
                                           "topk".split()},
}
# Existing functions that gain torch's dim= / keepdim= (max and min: see reductions).
TORCH_NAMED = ("sum", "mean", "logsumexp", "softmax", "log_softmax")


class Size(int):
    """`t.size`: the element count (an int, as NumPy's `a.size`); `t.size()` is the
    shape and `t.size(d)` one dimension, as torch's."""

    def __new__(cls, count: int, shape: tuple[int, ...]) -> "Size":
        obj = super().__new__(cls, count)
        obj.shape = shape
        return obj

    def __call__(self, dim: int | None = None):
        if dim is None:
            return self.shape
        if not -len(self.shape) <= dim < len(self.shape):
            raise IndexError(f"size({dim}): dimension out of range for a {len(self.shape)}-d tensor")
        return self.shape[dim]


def _dtype_of(op: str, target) -> np.dtype | None:
    if isinstance(target, Tensor):
        return target.dtype
    if isinstance(target, str) and target in ("cpu", "cpu:0"):
        return None  # the only device
    try:
        return np.dtype(target)
    except TypeError:
        raise op_error(op, f"cannot convert to {target!r}: expected a dtype (ta.float32, "
                       "np.int64, 'bool', ...) or 'cpu'", type_error=True) from None


def to(self, *args, dtype=None, device=None, copy: bool = False) -> Tensor:
    """This tensor as `dtype` (`t.to(ta.float32)`, `t.to(other)`); 'cpu' is accepted and changes nothing."""
    targets = [a for a in (*args, dtype) if a is not None]
    out = self
    for target in targets:
        new = _dtype_of("to", target)
        if new is not None:
            out = F.cast(out, new)
    if device is not None:
        _dtype_of("to", device)
    return F.mul(out, 1) if copy and out is self else out


def _converter(name: str, dtype):
    def convert(self) -> Tensor:
        return F.cast(self, dtype)
    convert.__name__ = name
    convert.__doc__ = f"This tensor as {np.dtype(dtype).name} (torch's `.{name}()`)."
    return convert


def zero_(self) -> Tensor:
    """Set every element to 0 in place (as `assign_`: not on the tape, replayed by `compile`)."""
    return self.assign_(np.zeros(self.shape, self.dtype))


def dim(self) -> int:
    """The number of dimensions (torch's `t.dim()`, NumPy's `a.ndim`)."""
    return self.ndim


def numel(self) -> int:
    """The number of elements (torch's `t.numel()`, NumPy's `a.size`)."""
    return int(self._aval.size)


def sort_method(self, dim: int = -1, descending: bool = False, stable: bool = True):
    """`(values, indices)` of a stable sort along `dim`, as `torch.Tensor.sort`."""
    return S.sort_with_indices(self, dim, descending, stable)


def _swap(fn):
    def reflected(self, other):
        return fn(other, self)
    return reflected


def install(functional) -> None:
    for name in TORCH_NAMED:
        wrapped = R.torch_names(getattr(functional, name))
        setattr(functional, name, wrapped)
        setattr(Tensor, name, wrapped)
    for name in ("max", "min"):
        index_fn = S.argmax if name == "max" else S.argmin
        wrapped = R._extreme_with_dim(name, getattr(functional, name), index_fn)
        setattr(functional, name, wrapped)
        setattr(Tensor, name, wrapped)
    for name, fn in METHODS.items():
        setattr(Tensor, name, fn)
    Tensor.sort = sort_method
    Tensor.to = to
    for name, dtype in (("float", np.float32), ("double", np.float64), ("int", np.int32),
                        ("long", np.int64), ("bool", np.bool_)):
        setattr(Tensor, name, _converter(name, dtype))
    Tensor.flatten, Tensor.zero_, Tensor.dim, Tensor.numel = SF.flatten, zero_, dim, numel
    Tensor.size = property(lambda self: Size(self._aval.size, self._aval.shape),
                           doc=Size.__doc__)
    for dunder, fn in (("floordiv", M.floor_divide), ("mod", M.remainder),
                       ("and", M.bitwise_and), ("or", M.bitwise_or), ("xor", M.bitwise_xor),
                       ("lshift", M.left_shift), ("rshift", M.right_shift)):
        setattr(Tensor, f"__{dunder}__", fn)
        setattr(Tensor, f"__r{dunder}__", _swap(fn))
    Tensor.__invert__ = M.bitwise_not
    Tensor.__divmod__ = lambda self, other: (M.floor_divide(self, other), M.remainder(self, other))
    _ = creation  # constructors are module functions only
