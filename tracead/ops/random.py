"""Counter-based random numbers: `uniform(key)`, a pure function of a key tensor.

tracead has no hidden RNG state inside graphs: randomness is an explicit
input, as in JAX. `uniform` maps each uint64 key to `shape` draws in [0, 1)
from NumPy's Philox bit generator seeded with that key, so the same key
gives the same numbers eagerly, in the reference interpreter and in a
compiled call (the key is a graph input, never a baked-in constant).
Callers advance their key (`key.assign_(key + 1)`) to get fresh numbers;
`nn.Dropout` does this. A key tensor of shape K gives K + shape numbers,
one independent stream per key (that is also the vmap batching rule).
"""
from __future__ import annotations

import numpy as np

from ..errors import op_error
from .prim import Aval, Prim, register


def _uniform_shape(key, *, shape, dtype):
    if key.dtype.kind not in "iu":
        raise op_error("uniform", f"the key must be an integer tensor, got {key.dtype}", key)
    if np.dtype(dtype) not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise op_error("uniform", f"dtype must be float32 or float64, got {dtype}", key)
    return Aval(tuple(key.shape) + tuple(shape), np.dtype(dtype))


def _uniform_impl(key, *, shape, dtype):
    keys = np.asarray(key).astype(np.uint64)
    out = np.empty(keys.shape + tuple(shape), np.dtype(dtype))
    for idx in np.ndindex(keys.shape):
        gen = np.random.Generator(np.random.Philox(key=int(keys[idx])))
        out[idx] = gen.random(tuple(shape), dtype=np.dtype(dtype))
    return out


uniform_p = register(Prim(
    "uniform", "opaque", _uniform_impl, _uniform_shape, differentiable=False,
    doc="key -> U[0, 1) numbers of `shape` (Philox seeded with the key): explicit randomness"))
