"""Indexed reads and writes: gather, scatter, index updates, `x[i] = v`.

Reads are composites over `getitem` with integer index arrays (their
gradient is `scatter_add`, accumulating repeated indices); writes bind the
`index_update` primitive (`ops/index_update.py`). Nothing here mutates a
NumPy array: `x[i] = v` computes the updated value functionally and rebinds
the Tensor to it (its data and its tape entry), so gradients reach both the
old value and `v`, as in torch.
"""
from __future__ import annotations

import weakref

import numpy as np

from . import basic_functions as F
from . import state
from .shapes import broadcast_shapes
from .errors import OpError, op_error
from .index_spec import index_to_param
from .ops import PRIMS
from .tensor import Tensor, as_tensor

__all__ = ["index_update", "gather", "take_along_axis", "scatter", "scatter_reduce",
           "index_select", "masked_fill", "setitem"]


def index_update(x, v, *arrays, index, mode: str = "set") -> Tensor:
    """`x` with `v` written at the param-form `index` (see `ops/index_update.py`)."""
    return F.bind(PRIMS["index_update"], x, v, *arrays, index=index, mode=mode)


def _update(x, index, v, mode: str) -> Tensor:
    x = F._lift(x)
    spec, arrays = index_to_param(x, index)
    return index_update(x, F._lift(v, x), *arrays, index=spec, mode=mode)


class _IndexUpdateRef:
    """`x.at[index]`: the functional updates of JAX (`.set .add .mul .min .max .get`)."""

    __slots__ = ("tensor", "index")

    def __init__(self, tensor: Tensor, index) -> None:
        self.tensor, self.index = tensor, index

    def get(self) -> Tensor:
        """`x[index]`."""
        return F.getitem(self.tensor, self.index)

    def set(self, values) -> Tensor:
        """A copy of `x` with `x[index] = values` (the last write wins on repeated indices)."""
        return _update(self.tensor, self.index, values, "set")

    def add(self, values) -> Tensor:
        """A copy of `x` with `values` added at `index` (repeated indices accumulate)."""
        return _update(self.tensor, self.index, values, "add")

    def mul(self, values) -> Tensor:
        """A copy of `x` multiplied by `values` at `index` (repeated indices accumulate)."""
        return _update(self.tensor, self.index, values, "mul")

    multiply = mul

    def min(self, values) -> Tensor:
        """A copy of `x` with `minimum(x[index], values)` at `index`."""
        return _update(self.tensor, self.index, values, "min")

    def max(self, values) -> Tensor:
        """A copy of `x` with `maximum(x[index], values)` at `index`."""
        return _update(self.tensor, self.index, values, "max")


class _IndexUpdateHelper:
    __slots__ = ("tensor",)

    def __init__(self, tensor: Tensor) -> None:
        self.tensor = tensor

    def __getitem__(self, index) -> _IndexUpdateRef:
        return _IndexUpdateRef(self.tensor, index)


def at(self) -> _IndexUpdateHelper:
    """JAX's functional indexed update: `x.at[idx].set(v)`, `.add(v)`, `.mul(v)`, `.min(v)`, `.max(v)`."""
    return _IndexUpdateHelper(self)


# -- x[index] = value --------------------------------------------------------------------
def setitem(x: Tensor, index, value) -> None:
    """`x[index] = value` (torch): x is rebound to the updated value; gradients flow to both."""
    grad_on = state.STATE.grad_enabled
    if grad_on and x.requires_grad and x._tape is None:
        raise OpError("a leaf Variable that requires grad is being used in an in-place operation "
                      f"(x[...] = v on a leaf of shape {x.shape}); write to a copy, use "
                      "x.at[...].set(v), or do it under ta.no_grad()")
    tracer = state.current_tracer()
    source = x
    if grad_on:  # the value before the write becomes its own tensor, holding x's tape
        source = Tensor._from_op(x._data, x._aval)
        source.requires_grad, source._tape, source._version = x.requires_grad, x._tape, x._version
        if tracer is not None:
            tracer.vars[id(source)] = tracer.var_of(x)
            tracer.keep.append(source)
    new = _update(source, index, value, "set")  # may raise: x is untouched until it succeeds
    if source is not x and x._tape is not None:
        x._tape.outputs = (weakref.ref(source),)  # x's old entry now produces `source`
    if tracer is not None:
        if id(x) in tracer.arg_index or any(t is x for t, _ in tracer.free):
            tracer.mutate(x, new)  # the compiled call writes the argument / global too
        else:
            tracer.vars[id(x)] = tracer.var_of(new)
    x._data = new._data
    x._version += 1
    if grad_on:  # under no_grad x keeps its flag and tape, as in torch
        x.requires_grad, x._tape = new.requires_grad, new._tape
        if x._tape is not None:
            x._tape.outputs = (weakref.ref(x),)
            new._tape = None


# -- torch's gather / scatter family --------------------------------------------------------
def _axis(op: str, x: Tensor, dim: int) -> int:
    if x.ndim == 0:
        if dim not in (0, -1):
            raise op_error(op, f"dim {dim} out of range for a 0-d tensor", x)
        return 0
    return F.normalize_axes(op, dim, x.ndim, x)[0]


def _index_tensor(op: str, index) -> Tensor:
    index = index if isinstance(index, Tensor) else as_tensor(np.asarray(index))
    if index.dtype.kind not in "iu":
        raise op_error(op, f"index must be an integer tensor, got {index.dtype}", index)
    return index


def _check_range(op: str, x: Tensor, dim: int, index: Tensor) -> None:
    """torch refuses indices outside [0, size); NumPy would wrap negatives silently.

    Checked wherever the values are known (eager, the traced call, constants);
    a tensor index of a later compiled call is not re-checked.
    """
    values = index._data
    if values is None or values.size == 0:
        return
    size = x.shape[dim] if x.ndim else 1
    low, high = int(values.min()), int(values.max())
    if low < 0 or high >= size:
        bad = low if low < 0 else high
        raise op_error(op, f"index {bad} is out of bounds for dimension {dim} with size {size}",
                       x, index, index_error=True)


def _along(x: Tensor, dim: int, index: Tensor, other_sizes) -> tuple:
    """A NumPy index picking `index` along `dim` and position i along every other axis."""
    nd = max(x.ndim, 1)
    items = []
    for d in range(nd):
        if d == dim:
            items.append(index)
        else:
            shape = [1] * nd
            shape[d] = other_sizes[d]
            items.append(np.arange(other_sizes[d]).reshape(shape))
    return tuple(items)


def _check_gather(op: str, x: Tensor, dim: int, index: Tensor, src: Tensor | None = None) -> None:
    if index.ndim != max(x.ndim, 1) and not (x.ndim == 0 and index.ndim == 0):
        raise op_error(op, f"index has {index.ndim} dims but the input has {x.ndim}", x, index)
    for d in range(index.ndim):
        if d != dim and index.shape[d] > x.shape[d]:
            raise op_error(op, f"index size {index.shape[d]} exceeds the input's size "
                           f"{x.shape[d]} in dim {d}", x, index)
        if src is not None and src.ndim and index.shape[d] > src.shape[d]:
            raise op_error(op, f"index size {index.shape[d]} exceeds src's size {src.shape[d]} in "
                           f"dim {d}", index, src)


def gather(x, dim: int, index) -> Tensor:
    """`out[i][j] = x[index[i][j]][j]` for dim=0 (torch.gather); the output has index's shape."""
    x, index = F._lift(x), _index_tensor("gather", index)
    if x.ndim == 0:
        _check_range("gather", x, 0, index)
        return F.reshape(F.getitem(F.reshape(x, 1), index), index.shape)
    dim = _axis("gather", x, dim)
    _check_gather("gather", x, dim, index)
    _check_range("gather", x, dim, index)
    return F.getitem(x, _along(x, dim, index, index.shape))


def take_along_axis(arr, indices, axis: int | None) -> Tensor:
    """`np.take_along_axis`: values at `indices` along `axis` (None: of the flattened input)."""
    arr, indices = F._lift(arr), _index_tensor("take_along_axis", indices)
    if axis is None:
        arr = F.reshape(arr, -1)
        axis = 0
    if indices.ndim != arr.ndim:
        raise op_error("take_along_axis", f"indices has {indices.ndim} dims but arr has "
                       f"{arr.ndim}", arr, indices)
    axis = _axis("take_along_axis", arr, axis)
    return F.getitem(arr, _along(arr, axis, indices, arr.shape))


def _src_for(op: str, x: Tensor, index: Tensor, src, dim: int) -> Tensor:
    """src cropped to index's shape (torch reads src only where index is defined)."""
    if not isinstance(src, Tensor) and np.ndim(src) == 0:
        return F._lift(src, x)
    src = F._lift(src, x)
    if src.ndim != index.ndim:
        raise op_error(op, f"src has {src.ndim} dims but index has {index.ndim}", src, index)
    _check_gather(op, x, dim, index, src)
    if src.shape != index.shape:
        src = F.getitem(src, tuple(slice(0, n) for n in index.shape))
    return src


def _scatter_parts(op, x, dim, index, src):
    """(x, NumPy index of the written positions, src cropped to index's shape)."""
    x, index = F._lift(x), _index_tensor(op, index)
    dim = _axis(op, x, dim)
    if x.ndim == 0:  # torch treats a 0-d tensor as one element along dim 0
        x, index = F.reshape(x, 1), F.reshape(index, -1)
        if isinstance(src, Tensor) or np.ndim(src):
            src = F.reshape(F._lift(src, x), -1)
    _check_gather(op, x, dim, index)
    _check_range(op, x, dim, index)
    return x, _along(x, dim, index, index.shape), _src_for(op, x, index, src, dim)


def scatter(x, dim: int, index, src=None, *, value=None, reduce: str | None = None) -> Tensor:
    """torch.scatter: a copy of `x` with `out[index[i][j]][j] = src[i][j]` (dim=0); `value=` a scalar.

    `reduce="add"` / `"multiply"` accumulate instead (torch's legacy spelling).
    Repeated indices: the last write wins (torch leaves it unspecified).
    """
    if (src is None) == (value is None):
        raise op_error("scatter", "pass exactly one of src and value=")
    x0 = F._lift(x)
    out_x, where, src = _scatter_parts("scatter", x0, dim, index, value if src is None else src)
    mode = {None: "set", "add": "add", "multiply": "mul"}.get(reduce)
    if mode is None:
        raise op_error("scatter", f"reduce must be 'add' or 'multiply', got {reduce!r}", x0)
    return F.reshape(_update(out_x, where, src, mode), x0.shape)


def scatter_add(x, dim: int, index, src) -> Tensor:
    """torch.scatter_add: a copy of `x` with `src` added at `index` along `dim` (repeats accumulate)."""
    return scatter(x, dim, index, src, reduce="add")


_REDUCE_MODES = {"sum": "add", "prod": "mul", "amax": "max", "amin": "min", "mean": "add"}


def _identity(mode: str, dtype) -> float | int:
    dtype = np.dtype(dtype)
    if mode in ("add", "set"):
        return 0
    if mode == "mul":
        return 1
    if dtype.kind == "f":
        return -np.inf if mode == "max" else np.inf
    info = np.iinfo(dtype) if dtype.kind in "iu" else None
    if info is None:
        return mode == "min"  # bool
    return info.min if mode == "max" else info.max


def scatter_reduce(x, dim: int, index, src, reduce: str, *, include_self: bool = True) -> Tensor:
    """torch.scatter_reduce: `src` reduced into `x` at `index` along `dim`.

    `reduce` is "sum", "prod", "mean", "amax" or "amin"; with
    `include_self=False` the positions written start from the reduction's
    identity instead of `x` (untouched positions keep `x`).
    """
    if reduce not in _REDUCE_MODES:
        raise op_error("scatter_reduce", f"reduce must be one of {sorted(_REDUCE_MODES)}, "
                       f"got {reduce!r}")
    x0 = F._lift(x)
    base, where, src = _scatter_parts("scatter_reduce", x0, dim, index, src)
    mode = _REDUCE_MODES[reduce]
    start = base if include_self else _update(base, where, _identity(mode, base.dtype), "set")
    out = _update(start, where, src, mode)
    if reduce == "mean":
        if base.dtype.kind != "f":
            raise op_error("scatter_reduce", "reduce='mean' needs a floating dtype", x0)
        count = _update(F.zeros_like(base), where, F.ones_like(src), "add")
        total = count + 1 if include_self else count
        out = F.where(count > 0, out / F.maximum(total, 1), base)
    return F.reshape(out, x0.shape)


def index_select(x, dim: int, index) -> Tensor:
    """torch.index_select: the entries at the 1-d `index` along `dim`."""
    x, index = F._lift(x), _index_tensor("index_select", index)
    if index.ndim > 1:
        raise op_error("index_select", f"index must be 0-d or 1-d, got shape {index.shape}", x, index)
    if x.ndim == 0:
        _check_range("index_select", x, 0, index)
        return F.reshape(F.getitem(F.reshape(x, 1), F.reshape(index, -1)), index.shape)
    dim = _axis("index_select", x, dim)
    _check_range("index_select", x, dim, index)
    return F.getitem(x, (slice(None),) * dim + (F.reshape(index, -1),))


def masked_fill(x, mask, value) -> Tensor:
    """torch.masked_fill: `value` where `mask` (broadcast to x's shape) is true, else `x`."""
    x, mask = F._lift(x), F._lift(mask)
    if mask.dtype != np.bool_:
        raise op_error("masked_fill", f"mask must be bool, got {mask.dtype}", x, mask)
    try:
        if broadcast_shapes(mask.shape, x.shape) != x.shape:
            raise ValueError
    except ValueError:
        raise op_error("masked_fill", f"mask of shape {mask.shape} does not broadcast to "
                       f"{x.shape}", x, mask) from None
    value = F._lift(value, x)
    if value.ndim:
        raise op_error("masked_fill", "value must be a scalar or 0-d tensor", x, value)
    return F.where(mask, F.cast(value, x.dtype), x)
