"""Tensor constructors: arange, linspace, eye, full, full_like, rand, randn, randint.

Deterministic constructors are constants (inside `compile`, constants of the
graph). Random ones draw from an explicit source: `seed=` (the same numbers
every call, eager or compiled) or `rng=` (a `np.random.Generator`, advanced
by each call). A compiled function replays its graph and would repeat one
draw, so inside a trace `rng=` (or no source) is an error: draw outside and
pass the tensor in, as JAX's explicit keys do.
"""
from __future__ import annotations

import numbers

import numpy as np

from . import state
from .errors import op_error
from . import basic_functions as F
from .symint import is_symbolic, sizes_of
from .tensor import Tensor, as_tensor

__all__ = [
    "arange", "empty", "empty_like", "eye", "from_numpy", "full", "linspace",
    "logspace", "rand", "randint", "randn"
]


def _shape(op: str, shape) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for size in shape:
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 0:
            raise op_error(op, f"sizes must be non-negative integers, got {size!r} in {shape}",
                           type_error=True)
    return sizes_of(shape)


def _new(array: np.ndarray, requires_grad: bool) -> Tensor:
    return Tensor(array, requires_grad=requires_grad) if requires_grad else as_tensor(array)


def arange(start, stop=None, step=1, dtype=None, requires_grad: bool = False) -> Tensor:
    """Evenly spaced values in [start, stop), like `np.arange` / `torch.arange`."""
    if stop is None:
        start, stop = 0, start
    return _new(np.arange(start, stop, step, dtype=dtype), requires_grad)


def linspace(start, stop, num: int = 50, endpoint: bool = True, dtype=None,
             requires_grad: bool = False) -> Tensor:
    """`num` evenly spaced values from start to stop, like `np.linspace` (torch's `steps` is `num`)."""
    return _new(np.linspace(start, stop, int(num), endpoint=endpoint, dtype=dtype), requires_grad)


def eye(n: int, m: int | None = None, k: int = 0, dtype=np.float64,
        requires_grad: bool = False) -> Tensor:
    """The n x m identity (ones on diagonal k), like `np.eye`."""
    return _new(np.eye(int(n), None if m is None else int(m), int(k), dtype=dtype), requires_grad)


def logspace(start, stop, num: int = 50, base: float = 10.0, dtype=None,
             requires_grad: bool = False) -> Tensor:
    """base ** linspace(start, stop, num), like `np.logspace` / `torch.logspace` (steps = num)."""
    return _new(np.logspace(start, stop, int(num), base=base, dtype=dtype), requires_grad)


def empty(*shape, dtype=np.float64, requires_grad: bool = False) -> Tensor:
    """torch.empty: a new tensor of `shape` (zeros: tracead has no uninitialised memory)."""
    shape = shape[0] if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)) else shape
    return _new(np.zeros(_shape("empty", tuple(shape)), dtype=dtype), requires_grad)


def empty_like(x, dtype=None, requires_grad: bool = False) -> Tensor:
    """torch.empty_like: zeros of x's shape (and dtype unless given)."""
    return _new(np.zeros(np.shape(x), dtype=dtype or x.dtype), requires_grad)


def as_tensor(data, dtype=None) -> Tensor:
    """torch.as_tensor: `data` as a tensor (a Tensor of that dtype is returned as it is)."""
    if isinstance(data, Tensor) and (dtype is None or np.dtype(dtype) == data.dtype):
        return data
    return Tensor(data, dtype=dtype)


def from_numpy(array: np.ndarray) -> Tensor:
    """torch.from_numpy: the array as a tensor (a copy: tracead tensors own their storage)."""
    return Tensor(np.asarray(array))


def full(shape, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    """A new tensor of `shape` filled with `fill_value`, like `np.full` / `torch.full`."""
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    shape = _shape("full", shape)
    if any(map(is_symbolic, shape)):  # a dynamic-shape trace
        return F.filled(shape, fill_value, dtype, requires_grad)
    return _new(np.full(shape, fill_value, dtype=dtype), requires_grad)


def _generator(op: str, seed, rng) -> np.random.Generator:
    if seed is not None and rng is not None:
        raise op_error(op, "pass seed= or rng=, not both", type_error=True)
    if state.current_tracer() is not None and seed is None:
        raise op_error(op, "inside a compiled function randomness must be an input: a compiled "
                       "call replays its graph, so this draw would repeat on every call. Draw "
                       "outside and pass the tensor in, or pass a fixed seed=", type_error=True)
    if rng is not None:
        if not isinstance(rng, np.random.Generator):
            raise op_error(op, f"rng= must be a np.random.Generator, got {type(rng).__name__}",
                           type_error=True)
        return rng
    if seed is not None and not isinstance(seed, numbers.Integral):
        raise op_error(op, f"seed= must be an integer, got {seed!r}", type_error=True)
    return np.random.default_rng(seed)


def _float_dtype(op: str, dtype) -> np.dtype:
    dtype = np.dtype(np.float64 if dtype is None else dtype)
    if dtype not in (np.float32, np.float64):
        raise op_error(op, f"dtype must be float32 or float64, got {dtype}", type_error=True)
    return dtype


def randn(*shape, seed=None, rng=None, dtype=None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples of `shape` from `seed=` or `rng=` (see the module doc)."""
    dtype = _float_dtype("randn", dtype)
    gen = _generator("randn", seed, rng)
    return _new(gen.standard_normal(_shape("randn", shape), dtype=dtype), requires_grad)


def rand(*shape, seed=None, rng=None, dtype=None, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1) of `shape` from `seed=` or `rng=` (see the module doc)."""
    dtype = _float_dtype("rand", dtype)
    gen = _generator("rand", seed, rng)
    return _new(gen.random(_shape("rand", shape), dtype=dtype), requires_grad)


def randint(low, high=None, size=(), *, seed=None, rng=None, dtype=np.int64) -> Tensor:
    """Integers in [low, high) of shape `size` from `seed=` or `rng=`, like `Generator.integers`."""
    if high is None:
        low, high = 0, low
    size = (size,) if isinstance(size, (int, np.integer)) else tuple(size)
    gen = _generator("randint", seed, rng)
    return as_tensor(gen.integers(low, high, _shape("randint", size), dtype=dtype))
