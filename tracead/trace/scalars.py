"""Python float arguments of a compiled function as runtime inputs of its graph.

While tracing, a float argument is passed to the function as a `ScalarInput`:
a stand-in (JAX's tracer, not a `float` subclass: C code such as `math.exp`
reads a float subclass's value without asking it, so a subclass could not
notice being used) holding the value and a 0-d float64 graph input. What the
function does with it decides what the compiled call depends on:

- flowing into tensor ops (`w - lr * g`, `ta.maximum(x, lr)`) it is a graph
  input, weakly typed as a Python float is in NumPy 2 (with a float32 tensor
  the result stays float32), so a new value runs the same kernels;
- arithmetic with Python numbers (`lr * 0.5`, `1 - lr`) gives another stand-in,
  computed in the graph in float64 (what Python's float arithmetic is);
- any other use (`if lr > 0.1:`, `float(lr)`, `math.exp(lr)`, a NumPy call,
  formatting, hashing, a shape or a static op parameter) gives the plain value
  and guards it, with the user's line: a call with another value re-traces.

Division, floor division and modulo by a stand-in guard (Python raises on a
zero divisor where NumPy gives inf). Outside the trace that made it (stored
somewhere and used later) a stand-in acts as its plain value.
"""
from __future__ import annotations

import math
import operator
import os
import sys

import numpy as np

from .. import state
from ..errors import _PACKAGE_DIR, _USER_FILES, SourceLoc
from . import pytree


_NUMPY_DIR = os.path.dirname(os.path.abspath(np.__file__))


def _user_line() -> SourceLoc | None:
    """The innermost frame outside tracead and NumPy (for `np.full(3, lr)`, the user's
    line, not NumPy's)."""
    frame = sys._getframe(1)
    while frame is not None:
        path = os.path.abspath(frame.f_code.co_filename)
        if not path.startswith(_NUMPY_DIR) and (not path.startswith(_PACKAGE_DIR)
                                               or path in _USER_FILES):
            return SourceLoc(frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name)
        frame = frame.f_back
    return None


class ScalarInput:
    """The stand-in for a float argument during a trace (see the module docstring)."""

    __slots__ = ("value", "tensor", "tracer")

    def __init__(self, value: float, tensor, tracer) -> None:
        self.value = value  # the traced call's float
        self.tensor = tensor  # 0-d float64 Tensor: a graph input or computed from one
        self.tracer = tracer

    # -- leaving the graph: guard the value ---------------------------------------------
    def concrete(self, how: str) -> float:
        """The plain value; inside the trace that made this stand-in, also a value guard."""
        tracer = self.tracer
        if self._live():  # (also from inside a nested trace: vmap's, a compiled call's)
            self.tracer.concretize(self.tensor, f"{how} of a float argument", _user_line())
        return self.value

    def lifted(self, like=None, dtype=None):
        """The tensor an op sees: float64, `dtype`, or the weak-typed dtype next to the
        tensor `like`; the plain float outside the trace that made this stand-in."""
        if not self._live():
            return self.value
        if like is not None:
            dtype = np.result_type(like.dtype, self.value)
        if dtype is None or np.dtype(dtype) == np.float64:
            return self.tensor
        from ..functional import cast

        return cast(self.tensor, np.dtype(dtype))

    def _live(self) -> bool:
        """Is the trace that made this stand-in still running (maybe under a nested one)?"""
        tracer = self.tracer
        return tracer is not None and any(t is tracer for t in state.STATE.tracers)

    def _current(self) -> bool:
        """Is that trace the innermost one (so new graph nodes belong to it)?"""
        return self.tracer is not None and state.current_tracer() is self.tracer

    def __float__(self) -> float:
        return self.concrete("float()")

    def __int__(self) -> int:
        return int(self.concrete("int()"))

    def __index__(self):  # a float is no index: raise as float does
        raise TypeError("'float' object cannot be interpreted as an integer")

    def __bool__(self) -> bool:
        return bool(self.concrete("bool()"))

    def __hash__(self) -> int:
        return hash(self.concrete("hash()"))

    def __repr__(self) -> str:
        return repr(self.concrete("repr()"))

    def __str__(self) -> str:
        return str(self.concrete("str()"))

    def __format__(self, spec: str) -> str:
        return format(self.concrete("format()"), spec)

    def __round__(self, ndigits=None):
        return round(self.concrete("round()"), ndigits)

    def __trunc__(self) -> int:
        return int(self.concrete("math.trunc()"))

    def __floor__(self) -> int:
        return math.floor(self.concrete("math.floor()"))

    def __ceil__(self) -> int:
        return math.ceil(self.concrete("math.ceil()"))

    def __getattr__(self, name):  # float's other methods (is_integer, hex, real, ...)
        if name.startswith("__"):  # a protocol probe (NumPy's __array_interface__, ...)
            raise AttributeError(name)
        return getattr(self.concrete(f".{name}"), name)

    def __reduce__(self):  # copy / pickle: the plain value
        return (float, (self.concrete("copy"),))

    # NumPy: a stand-in among NumPy arguments is its guarded value (tensors take over).
    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.concrete("a NumPy conversion"), dtype=dtype)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if any(_is_tensor(x) for x in inputs):
            return NotImplemented
        inputs = [x.concrete(f"np.{ufunc.__name__}") if isinstance(x, ScalarInput) else x for x in inputs]
        return getattr(ufunc, method)(*inputs, **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        if any(issubclass(t, _tensor_type()) for t in types):
            return NotImplemented
        args = _plain(args, f"np.{func.__name__}")
        kwargs = _plain(kwargs, f"np.{func.__name__}")
        return func(*args, **kwargs)


def _tensor_type():
    from ..tensor import Tensor
    return Tensor


def _is_tensor(x) -> bool:
    return isinstance(x, _tensor_type())


def _plain(tree, how: str):
    """`tree` with each stand-in replaced by its guarded value (`concrete`)."""
    if not pytree.any_plain_leaf(ScalarInput, tree):
        return tree
    return pytree.map_plain(lambda x: x.concrete(how) if isinstance(x, ScalarInput) else x, tree)


_EXACT_INT = 2 ** 53


def _arith(name: str, symbol: str, reflected: bool, guard_divisor: bool = False):
    py_op = getattr(operator, name)

    def method(self, other):
        if _is_tensor(other):
            return NotImplemented  # the tensor's operator lifts the stand-in
        # Python ints beyond 2**53 are not exact in float64 (Python may raise OverflowError).
        other_in_graph = isinstance(other, ScalarInput) or type(other) is float or (
            type(other) is int and abs(other) <= _EXACT_INT)
        # In-graph arithmetic only in the stand-in's own trace; elsewhere the guarded value.
        live = self._current() and (not isinstance(other, ScalarInput) or other.tracer is self.tracer)
        if guard_divisor and other_in_graph:  # Python raises on a zero divisor, NumPy gives inf
            divisor = self if reflected else other
            other_in_graph = not isinstance(divisor, ScalarInput) and divisor != 0
        if not (live and other_in_graph):
            a = self.concrete(symbol)
            b = other.concrete(symbol) if isinstance(other, ScalarInput) else other
            return py_op(b, a) if reflected else py_op(a, b)
        from .. import functional as F

        x = self.tensor
        y = other.tensor if isinstance(other, ScalarInput) else F.as_tensor(np.float64(other))
        a, b = (y, x) if reflected else (x, y)
        out = _TENSOR_OPS[name](a, b)
        value = py_op(*((other.value if isinstance(other, ScalarInput) else other, self.value)
                        if reflected else (self.value, other.value if isinstance(other, ScalarInput)
                                           else other)))
        return ScalarInput(float(value), out, self.tracer)

    return method


def _tensor_ops():
    from .. import functional as F
    return {"add": F.add, "sub": F.sub, "mul": F.mul, "truediv": F.div}


class _LazyOps(dict):
    def __missing__(self, key):
        self.update(_tensor_ops())
        return dict.__getitem__(self, key)


_TENSOR_OPS = _LazyOps()

# `**` is guarded (Python gives a complex number or raises where NumPy gives nan or inf).
for _name, _symbol, _guard in (("add", "+", False), ("sub", "-", False), ("mul", "*", False),
                               ("truediv", "/", True)):
    setattr(ScalarInput, f"__{_name}__", _arith(_name, _symbol, False, _guard))
    setattr(ScalarInput, f"__r{_name}__", _arith(_name, _symbol, True, _guard))


def _guarded_binary(py_op, symbol: str):
    def method(self, other):
        if _is_tensor(other):
            return NotImplemented
        b = other.concrete(symbol) if isinstance(other, ScalarInput) else other
        return py_op(self.concrete(symbol), b)

    def reflected(self, other):
        if _is_tensor(other):
            return NotImplemented
        return py_op(other, self.concrete(symbol))

    return method, reflected


for _name, _op, _symbol in (("floordiv", operator.floordiv, "//"), ("mod", operator.mod, "%"),
                            ("pow", operator.pow, "**"), ("divmod", divmod, "divmod")):
    _method, _reflected = _guarded_binary(_op, _symbol)
    setattr(ScalarInput, f"__{_name}__", _method)
    setattr(ScalarInput, f"__r{_name}__", _reflected)

for _name, _symbol in (("lt", "<"), ("le", "<="), ("gt", ">"), ("ge", ">="), ("eq", "=="),
                       ("ne", "!=")):
    setattr(ScalarInput, f"__{_name}__", _guarded_binary(getattr(operator, _name), _symbol)[0])


def _neg(self):
    if not self._current():
        return -self.concrete("-")
    from .. import functional as F
    return ScalarInput(-self.value, F.neg(self.tensor), self.tracer)


def _abs(self):
    if not self._current():
        return abs(self.concrete("abs()"))
    from .. import functional as F
    return ScalarInput(abs(self.value), F.abs(self.tensor), self.tracer)


ScalarInput.__neg__ = _neg
ScalarInput.__abs__ = _abs
ScalarInput.__pos__ = lambda self: self


def plain_params(params: dict) -> dict:
    """Op parameters are static: a stand-in among them is its guarded value."""
    if not any(pytree.any_plain_leaf(ScalarInput, v) for v in params.values()):
        return params
    return {k: _plain(v, "an op parameter") for k, v in params.items()}


def plain_result(tree):
    """The traced run's result with stand-ins replaced by their values (the compiled
    call returns them as graph outputs, converted to float)."""
    leaves, spec = pytree.flatten(tree)
    if not any(isinstance(leaf, ScalarInput) for leaf in leaves):
        return tree
    return pytree.unflatten(spec, [leaf.value if isinstance(leaf, ScalarInput) else leaf
                                   for leaf in leaves])
