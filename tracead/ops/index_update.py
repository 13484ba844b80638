"""index_update: a functional indexed write, `x` with `v` written at `index`.

One primitive serves JAX's `x.at[idx].set/add/mul/min/max(v)`, torch's
`x[idx] = v`, `scatter`, `scatter_reduce` and `masked_fill`. Inputs are
`(x, v, *index_arrays)`; `index` is getitem's static index param and `mode`
one of `set add mul min max`. `v` broadcasts to the indexed shape
`x[index].shape` and is cast to `x`'s dtype (as torch's index_put_).
Repeated positions: `set` keeps the last write (NumPy's assignment order),
the others accumulate (`np.add.at`, `np.multiply.at`, ...).

Gradients (each written with primitives, so they differentiate again):
  set      x: g with zeros at the written positions; v: g[index]
  add      x: g; v: g[index]
  mul      x: g times the product written at each position; v: g * x * (the
           other factors at its position), which is g * out / v where a
           position is written twice (a zero factor there gives nan, loudly)
  min/max  the cotangent goes to the winners, ties split evenly (as `max`)
"""
from __future__ import annotations

import numpy as np

from .. import lax
from ..shapes import broadcast_shapes
from ..errors import op_error
from ..prim import Aval, Prim, register
from .index import build_index

MODES = ("set", "add", "mul", "min", "max")
_ACCUMULATE = {"add": np.add, "mul": np.multiply, "min": np.minimum, "max": np.maximum}


def _impl(x, v, *arrays, index, mode):
    out = np.array(x, copy=True)
    where = build_index(index, arrays)
    v = np.asarray(v).astype(x.dtype, copy=False)
    if mode == "set":
        out[where] = v
    else:
        # ufunc.at applies every repeated index; `out[where] += v` would apply one.
        _ACCUMULATE[mode].at(out, where, np.broadcast_to(v, out[where].shape))
    return out


def indexed_shape(x, arrays, index) -> tuple[int, ...]:
    """The shape of `x[index]` (the shape `v` must broadcast to)."""
    probe = np.broadcast_to(np.empty((), x.dtype), x.shape)
    dummy = [np.zeros(a.shape, np.intp) for a in arrays]
    try:
        return tuple(probe[build_index(index, dummy)].shape)
    except IndexError as exc:
        raise op_error("index_update", f"{exc}", x, *arrays) from None


def _shape(x, v, *arrays, index, mode):
    if mode not in MODES:
        raise op_error("index_update", f"mode must be one of {MODES}, got {mode!r}", x)
    for a in arrays:
        if a.dtype.kind not in "iu":
            raise op_error("index_update", f"index arrays must be integers, got {a.dtype}", x, a)
    target = indexed_shape(x, arrays, index)
    try:
        if broadcast_shapes(v.shape, target) != target:
            raise ValueError
    except ValueError:
        raise op_error("index_update", f"value of shape {v.shape} does not broadcast to the "
                       f"indexed shape {target}", x, v) from None
    return Aval(tuple(x.shape), x.dtype)


def _update(x, v, arrays, index, mode):
    return lax.index_update(x, v, arrays, index, mode)


def _picked(t, arrays, index):
    """t[index]: v's gradient in the indexed shape (the backward walk sums it back to v's)."""
    return lax.getitem(t, arrays, index)


def _vjp(g, out, x, v, *arrays, index, mode):
    none = (None,) * len(arrays)
    if mode == "add":
        return (g, _picked(g, arrays, index)) + none
    if mode == "set":
        gx = _update(g, lax.zeros_like(v), arrays, index, "set")
        return (gx, _picked(g, arrays, index)) + none
    if mode == "mul":
        count = _update(lax.zeros_like(x), lax.ones_like(v), arrays, index, "add")
        factors = _update(lax.ones_like(x), v, arrays, index, "mul")  # the product written per position
        gx = g * factors
        vb = lax.broadcast_to(v, lax.getitem(x, arrays, index).shape)
        single = lax.getitem(g * x, arrays, index)
        shared = lax.getitem(g * out, arrays, index) / vb
        once = lax.getitem(count, arrays, index) == 1
        return (gx, lax.where(once, single, shared)) + none
    # min / max: the output equals the winners; ties share the cotangent.
    wins_x = lax.cast(x == out, g.dtype)
    vb = lax.broadcast_to(v, lax.getitem(x, arrays, index).shape)
    wins_v = lax.cast(lax.getitem(out, arrays, index) == vb, g.dtype)
    winners = wins_x + _update(lax.zeros_like(x), wins_v, arrays, index, "add")
    share = g / winners
    return (share * wins_x, _picked(share, arrays, index) * wins_v) + none


index_update_p = register(Prim(
    "index_update", "index", _impl, _shape, _vjp, arity=-1, indexed_write=True,
    doc="x with v written at index (mode set/add/mul/min/max), a functional indexed write"))
