"""Eager Tensor: NumPy storage plus autograd bookkeeping.

Every op on a Tensor goes through `dispatch.bind`; the methods and operators
(and `backward`, `detach`) are attached by `functional`, one definition per
op, so this module needs nothing above it. This file holds only
storage, conversion and the points where a value leaves the graph
(`item`, `bool`, `numpy`, ...), which the tracer must see to guard them.
"""
from __future__ import annotations

import numpy as np

from . import state
from .errors import OpTypeError, op_error, user_source
from .prim import Aval
from .shapes import check_supported
from .symint import is_symbolic
from .trace.scalars import ScalarInput


class Tensor:
    """An n-dimensional array that can record gradients."""

    # _version counts indexed writes (`t[i] = v`), so backward can refuse a
    # tape entry that saw an older value (as torch's version counter).
    __slots__ = ("_data", "_aval", "requires_grad", "_grad", "_tape", "_version", "__weakref__")

    def __init__(self, data, dtype=None, requires_grad: bool = False) -> None:
        if isinstance(data, Tensor):
            data = data._concrete("tensor(...)")
        array = to_array(data, dtype, "tensor", copy=True)
        self._data = array
        self._aval = Aval(array.shape, array.dtype)
        self._grad: Tensor | None = None
        self._tape = None
        self._version = 0
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)
        _note_created(self)

    @classmethod
    def _from_op(cls, data, aval: Aval) -> "Tensor":
        t = object.__new__(cls)
        t._data = data
        t._aval = aval
        t.requires_grad = False
        t._grad = None
        t._tape = None
        t._version = 0
        return t

    def requires_grad_(self, flag: bool = True) -> "Tensor":
        """Set `requires_grad` in place (floating dtypes only) and return this tensor."""
        if flag and self.dtype.kind != "f":
            raise OpTypeError(
                f"requires_grad=True needs a floating dtype (float32 or float64), "
                f"got {self.dtype} tensor of shape {self.shape}"
                + (f" at {user_source(2)}" if user_source(2) else ""))
        self.requires_grad = flag
        return self

    # -- metadata ---------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        """The shape, a tuple of ints."""
        return self._aval.shape

    @property
    def dtype(self) -> np.dtype:
        """The NumPy dtype."""
        return self._aval.dtype

    @property
    def ndim(self) -> int:
        """The number of dimensions."""
        return len(self._aval.shape)

    @property
    def size(self) -> int:
        """The number of elements."""
        return self._aval.size

    @property
    def is_leaf(self) -> bool:
        """True if this tensor was not produced by a recorded op (gradients accumulate in `.grad`)."""
        return self._tape is None

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    __hash__ = object.__hash__

    # -- leaving the graph: concretisation points ---------------------------
    def _concrete(self, how: str) -> np.ndarray:
        """The NumPy value; inside a trace this records a value guard."""
        tracer = state.current_tracer()
        if tracer is not None:
            tracer.concretize(self, how)
        return self._data

    def numpy(self) -> np.ndarray:
        """A copy of the value as a NumPy array (inside `compile` this is a guarded value)."""
        return self._concrete("numpy()").copy()

    def __array__(self, dtype=None, copy=None):
        value = self._concrete("np.asarray()")
        return value.astype(dtype) if dtype is not None else value.copy()

    def item(self):
        """The value of a one-element tensor as a Python number (inside `compile`: a guarded value)."""
        if self.size != 1:
            raise ValueError(f"item(): tensor of shape {self.shape} has {self.size} elements, not 1")
        return self._concrete("item()").item()

    def tolist(self):
        """The value as nested Python lists (inside `compile`: a guarded value)."""
        return self._concrete("tolist()").tolist()

    def __bool__(self) -> bool:
        if self.size != 1:
            raise ValueError(f"bool(): truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self._concrete("bool()"))

    def __format__(self, spec: str) -> str:
        """f"{loss:.3f}" formats a one-element tensor's value, as torch does."""
        if not spec:
            return str(self)
        if self.size != 1:
            raise TypeError(f"format spec {spec!r} needs a one-element tensor, got shape "
                            f"{self.shape}; format t.numpy() instead")
        return format(self._concrete("format()").reshape(()).item(), spec)

    def __float__(self) -> float:
        return float(self._concrete("float()").reshape(()))

    def __int__(self) -> int:
        return int(self._concrete("int()").reshape(()))

    def __index__(self) -> int:
        if self.dtype.kind not in "iub":
            raise TypeError(f"only integer tensors can be used as an index, got {self.dtype}")
        return int(self._concrete("index").reshape(()))

    # -- autograd -----------------------------------------------------------
    @property
    def grad(self) -> "Tensor | None":
        """The accumulated gradient (a Tensor) after `backward()`, or None."""
        tracer = state.current_tracer()
        if tracer is not None:
            tracer.read_grad(self, self._grad)
        return self._grad

    @grad.setter
    def grad(self, value) -> None:
        tracer = state.current_tracer()
        if tracer is not None:
            tracer.write_grad(self, value)
        self._grad = value

    def assign_(self, value) -> "Tensor":
        """Replace this tensor's value in place (optimizer updates).

        Not recorded on the autograd tape. Inside a compiled function the
        tracer records the write so the compiled call replays it.
        """
        new = as_tensor(value, op="assign_")
        if new.shape != self.shape:
            # Broadcasting into the target would hide a shape bug (torch's copy_
            # broadcasts; optimizer updates never need it).
            raise op_error("assign_", f"value of shape {new.shape} for a tensor of shape "
                           f"{self.shape}", self, new)
        tracer = state.current_tracer()
        if tracer is not None:
            tracer.mutate(self, new)
        data = new._data
        self._data = data if data is None or data.dtype == self.dtype else data.astype(self.dtype)
        return self

    def __repr__(self) -> str:
        if self._data is None:
            return f"Tensor(<abstract {self.dtype}{list(self.shape)}>)"
        body = np.array2string(self._data, separator=", ", prefix="tensor(")
        extra = ", requires_grad=True" if self.requires_grad else ""
        return f"tensor({body}, dtype={self.dtype}{extra})"


def to_array(data, dtype=None, op: str = "tensor", copy: bool = False) -> np.ndarray:
    """User data as a NumPy array tracead can compute with, or an error naming `op`.

    NumPy's own messages ("unsupported dtype object" for None, "inhomogeneous
    shape" for a ragged list) name neither the op nor the user's line.
    """
    if data is None:
        raise op_error(op, "got None where a tensor, array or number was expected",
                       type_error=True)
    try:
        array = np.array(data, dtype=dtype, copy=True) if copy else np.asarray(data, dtype=dtype)
    except ValueError as exc:
        if "inhomogeneous" in str(exc):
            raise op_error(op, f"ragged nested sequence (rows of different lengths) cannot be a "
                           f"tensor: {exc}") from None
        raise op_error(op, f"cannot convert {type(data).__name__} to a tensor: {exc}") from None
    except TypeError as exc:
        raise op_error(op, f"cannot convert {type(data).__name__} to a tensor: {exc}",
                       type_error=True) from None
    check_supported(array.dtype, op, array)
    return array


def as_tensor(x, dtype=None, op: str = "tensor") -> Tensor:
    """Tensors pass through; anything else becomes a constant Tensor."""
    if isinstance(x, Tensor):
        return x
    if type(x) is ScalarInput:  # a float argument of a compiled function, being traced
        x = x.lifted(dtype=dtype)
        if isinstance(x, Tensor):
            return x
    if is_symbolic(x):
        return note_symbolic(as_tensor(x.__base_value__(), dtype, op), x)
    # Constants share memory with the caller's array: ops never write into
    # their inputs, so no copy is needed (as torch.as_tensor).
    array = to_array(x, dtype, op)
    return _note_created(Tensor._from_op(array, Aval(array.shape, array.dtype)))


def note_symbolic(t: Tensor, value) -> Tensor:
    """`t` is a constant made from a size-derived number (symint.py): a dynamic trace
    re-evaluates it for each call's sizes."""
    tracer = state.current_tracer()
    exprs = getattr(tracer, "constant_exprs", None)
    if exprs is not None:
        exprs[id(t)] = value.expr
    return t


def note_filled(t: Tensor, shape, kind: str = "fill") -> Tensor:
    """`t` is a constant of a shape with symbolic sizes, filled with one value (or, kind
    "arange", 0..n-1): a dynamic trace re-makes it at each call's sizes."""
    t._aval = Aval(tuple(shape), t.dtype)
    tracer = state.current_tracer()
    exprs = getattr(tracer, "constant_exprs", None)
    if exprs is not None:
        exprs[id(t)] = ("arange",) if kind == "arange" else (
            "fill", t._data.flat[0].item() if t._data.size else 0)
    return t


def _note_created(t: Tensor) -> Tensor:
    """Tensors made from plain data inside a trace are the trace's constants."""
    tracer = state.current_tracer()
    if tracer is not None:
        tracer.note_constant(t)
    return t


def tensor(data, dtype=None, requires_grad: bool = False) -> Tensor:
    """`ta.tensor`: a new leaf tensor holding a copy of `data`."""
    return Tensor(data, dtype=dtype, requires_grad=requires_grad)
