"""Max-pooling primitives: the first maximum of each window, and a gather /
scatter-add pair by plane index (NCHW).

  window_argmax  (N, C, H, W) -> int64 (N, C, Ho, Wo): the plane index
                 r * W + s of each window's first maximum in row-major order
                 (a NaN counts as the maximum; padding never wins). These
                 are torch's max-pool indices; no gradient.
  plane_gather   (x (N, C, H, W), index (N, C, Ho, Wo)) -> x[n, c].flat[index]
  plane_scatter  (g (N, C, Ho, Wo), index) -> (N, C, H, W) zeros with g added
                 at index (repeated indices accumulate): plane_gather's
                 transpose, and each is the other's VJP.

max_pool2d is plane_gather(x, window_argmax(x)): the gradient goes to the
first maximum only, as torch's. With im2col, argmax and take_along_axis it
was the window copies, an argmax over a middle axis, a fancy-index gather
and np.add.at; here each is one compiled pass (`window_loops.py`).
"""
from __future__ import annotations

import numpy as np

from .. import lax
from ..errors import op_error
from . import window_loops
from .prim import Aval, Prim, register
from .window import _im2col_shape


def _argmax_shape(x, *, kernel, stride, padding, dilation):
    cols = _im2col_shape(x, kernel=kernel, stride=stride, padding=padding, dilation=dilation,
                         pad_value=0.0)
    # (A window of padding only has no maximum: its index is -1, which plane_gather
    # refuses. max_pool2d's padding is at most half the kernel, so none is.)
    return Aval(tuple(x.shape[:2]) + tuple(cols.shape[4:]), np.dtype(np.int64))


def _argmax_impl(x, *, kernel, stride, padding, dilation):
    out_hw = _argmax_shape(x, kernel=kernel, stride=stride, padding=padding,
                           dilation=dilation).shape[2:]
    return window_loops.window_argmax(x, out_hw, kernel, stride, padding, dilation)


def _check_index(op: str, index, batch) -> None:
    if index.ndim != 4 or tuple(index.shape[:2]) != tuple(batch) or index.dtype.kind not in "iu":
        raise op_error(op, f"expects an integer (N, C, Ho, Wo) index with N, C = {tuple(batch)}",
                       index)


def _gather_shape(x, index):
    if x.ndim != 4:
        raise op_error("plane_gather", f"expects an (N, C, H, W) input, got {x.ndim}-d", x)
    _check_index("plane_gather", index, x.shape[:2])
    return Aval(tuple(index.shape), x.dtype)


def _gather_impl(x, index):
    if x.dtype in window_loops.DTYPES:
        return window_loops.plane_gather(x, index)
    flat = x.reshape(x.shape[:2] + (-1,))
    window_loops.check_plane_index("plane_gather", index, x.shape[2:])
    return np.take_along_axis(flat, index.reshape(index.shape[:2] + (-1,)), 2).reshape(index.shape)


def _gather_vjp(g, out, x, index):
    return (plane_scatter(g, index, image=x.shape[2:]), None)


def _scatter_shape(g, index, *, image):
    if g.ndim != 4 or tuple(g.shape) != tuple(index.shape):
        raise op_error("plane_scatter", "expects values and index of one (N, C, Ho, Wo) shape",
                       g, index)
    _check_index("plane_scatter", index, g.shape[:2])
    return Aval(tuple(g.shape[:2]) + tuple(image), g.dtype)


def _scatter_impl(g, index, *, image):
    if g.dtype in window_loops.DTYPES:
        return window_loops.plane_scatter(g, index, image)
    window_loops.check_plane_index("plane_scatter", index, image)
    out = np.zeros(g.shape[:2] + tuple(image), g.dtype)
    n, c = g.shape[:2]
    planes = out.reshape(n, c, -1)
    np.add.at(planes, (np.arange(n)[:, None, None], np.arange(c)[None, :, None],
                       index.reshape(n, c, -1)), g.reshape(n, c, -1))
    return out


def _scatter_vjp(ct, out, g, index, *, image):
    return (plane_gather(ct, index), None)


window_argmax, plane_gather, plane_scatter = lax.window_argmax, lax.plane_gather, lax.plane_scatter

window_argmax_p = register(Prim(
    "window_argmax", "opaque", _argmax_impl, _argmax_shape, differentiable=False,
    doc="plane index of each window's first maximum (max pooling, torch's indices)"))
plane_gather_p = register(Prim(
    "plane_gather", "opaque", _gather_impl, _gather_shape, _gather_vjp, arity=2,
    doc="x[n, c].flat[index]: the values at plane indices"))
plane_scatter_p = register(Prim(
    "plane_scatter", "opaque", _scatter_impl, _scatter_shape, _scatter_vjp, arity=2,
    doc="plane_gather's transpose: values added into zero planes at their indices"))
