"""Sliding-window primitives: im2col and its transpose col2im (NCHW).

Convolution, transposed convolution and average pooling are composites over
these two and matmul / reductions (`tracead/nn/conv_functional.py`; max
pooling has its own rows, `window_max.py`):

  im2col  (N, C, H, W) -> (N, C, kh, kw, Ho, Wo): cols[n, c, i, j, y, x] =
          xpad[n, c, y*sh + i*dh, x*sw + j*dw], where xpad is x padded by
          (top, bottom, left, right) with `pad_value` (0 for convolution,
          -inf for max pooling).
  col2im  the transpose: every column entry is added back to the pixel it
          was read from (overlapping windows accumulate; padding is dropped).

Each is linear in its input (up to the constant padding), so each is the
other's VJP and second derivatives come for free. The kernel axes sit
between channels and output positions, so a pooling is one reduction over
axes (2, 3). With `layout="gemm"` the columns are (C, kh, kw, N, Ho, Wo)
instead: a convolution is then one GEMM `W(O, C*kh*kw) @ cols(C*kh*kw,
N*Ho*Wo)` over the whole batch with no transposed copy (see LAYOUTS).
Both are kernel boundaries for the fusion pass; their impls are compiled
loops (`window_loops.py`), with NumPy references here.
"""
from __future__ import annotations

import numpy as np

from .. import lax
from ..errors import op_error
from . import window_loops
from .prim import Aval, Prim, register


def out_size(size: int, k: int, stride: int, lo: int, hi: int, dilation: int) -> int:
    """Output positions along one axis (floor division, as torch)."""
    return (size + lo + hi - dilation * (k - 1) - 1) // stride + 1


def _check(op: str, x, kernel, stride, padding, dilation) -> tuple[int, int]:
    if x.ndim != 4:
        raise op_error(op, f"expects an (N, C, H, W) input, got {x.ndim}-d", x)
    if min(kernel) < 1 or min(stride) < 1 or min(dilation) < 1 or min(padding) < 0:
        raise op_error(op, f"kernel {kernel}, stride {stride} and dilation {dilation} must be "
                       f">= 1 and padding {padding} >= 0", x)
    (kh, kw), (sh, sw), (pt, pb, pl, pr), (dh, dw) = kernel, stride, padding, dilation
    return out_size(x.shape[2], kh, sh, pt, pb, dh), out_size(x.shape[3], kw, sw, pl, pr, dw)


def _windows(kernel, stride, dilation, out_hw):
    """(i, j, row slice, column slice) of the padded image read by kernel tap (i, j)."""
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = kernel, stride, dilation, out_hw
    for i in range(kh):
        rows = slice(i * dh, i * dh + sh * (ho - 1) + 1, sh)
        for j in range(kw):
            yield i, j, rows, slice(j * dw, j * dw + sw * (wo - 1) + 1, sw)


# Column layouts: "image" (N, C, kh, kw, Ho, Wo), the windows of each image, and
# "gemm" (C, kh, kw, N, Ho, Wo), which reshapes for free into the (C*kh*kw, N*Ho*Wo)
# right operand of a convolution's one GEMM over the whole batch (and col2im then
# reads that GEMM's cotangent as it lies, with no transposed copy either way).
LAYOUTS = {"image": (0, 1, 2, 3, 4, 5), "gemm": (1, 2, 3, 0, 4, 5)}


def _layout(op: str, layout: str, *avals) -> tuple[int, ...]:
    if layout not in LAYOUTS:
        raise op_error(op, f"layout must be one of {tuple(LAYOUTS)}, got {layout!r}", *avals)
    return LAYOUTS[layout]


def _im2col_shape(x, *, kernel, stride, padding, dilation, pad_value, layout="image"):
    perm = _layout("im2col", layout, x)
    ho, wo = _check("im2col", x, kernel, stride, padding, dilation)
    if ho < 1 or wo < 1:
        raise op_error("im2col", f"kernel {kernel} with dilation {dilation} is larger than the "
                       f"padded input {x.shape[2:]} (padding {padding})", x)
    shape = (x.shape[0], x.shape[1]) + tuple(kernel) + (ho, wo)
    return Aval(tuple(shape[p] for p in perm), x.dtype)


def _im2col_impl(x, *, kernel, stride, padding, dilation, pad_value, layout="image"):
    shape = _im2col_shape(x, kernel=kernel, stride=stride, padding=padding, dilation=dilation,
                          pad_value=pad_value).shape
    perm = LAYOUTS[layout]
    if x.dtype in window_loops.DTYPES:
        out = np.empty(tuple(shape[p] for p in perm), x.dtype)
        window_loops.im2col(x, out, kernel, stride, padding, dilation, pad_value,
                            layout == "gemm")
        return out
    out = im2col_numpy(x, shape, stride, padding, dilation, pad_value)
    return np.ascontiguousarray(out.transpose(perm))


def im2col_numpy(x, shape, stride, padding, dilation, pad_value):
    """The reference: kh*kw strided copies out of a padded copy of x."""
    kernel = shape[2:4]
    pt, pb, pl, pr = padding
    if any(padding):
        x = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)), constant_values=pad_value)
    out = np.empty(shape, x.dtype)
    for i, j, rows, cols in _windows(kernel, stride, dilation, shape[4:]):
        out[:, :, i, j] = x[:, :, rows, cols]
    return out


def _im2col_vjp(g, out, x, *, kernel, stride, padding, dilation, pad_value, layout="image"):
    return (col2im(g, image=x.shape[2:], kernel=kernel, stride=stride, padding=padding,
                   dilation=dilation, layout=layout),)


def _col2im_shape(cols, *, image, kernel, stride, padding, dilation, layout="image"):
    perm = _layout("col2im", layout, cols)
    if cols.ndim != 6:
        raise op_error("col2im", f"expects 6-d columns in the {layout!r} layout", cols)
    shape = [0] * 6
    for axis, p in enumerate(perm):
        shape[p] = cols.shape[axis]  # back to (N, C, kh, kw, Ho, Wo)
    if tuple(shape[2:4]) != tuple(kernel):
        raise op_error("col2im", f"expects {kernel[0]}x{kernel[1]} windows in the {layout!r} "
                       f"layout, got columns of shape {cols.shape}", cols)
    n, c = shape[:2]
    probe = Aval((n, c) + tuple(image), cols.dtype)
    expect = _im2col_shape(probe, kernel=kernel, stride=stride, padding=padding,
                           dilation=dilation, pad_value=0.0, layout=layout).shape
    if tuple(cols.shape) != expect:
        raise op_error("col2im", f"columns of shape {cols.shape} do not match an image "
                       f"{tuple(image)} (expected {expect})", cols)
    return Aval((n, c) + tuple(image), cols.dtype)


def _col2im_impl(cols, *, image, kernel, stride, padding, dilation, layout="image"):
    if cols.dtype in window_loops.DTYPES:
        return window_loops.col2im(cols, image, kernel, stride, padding, dilation,
                                   layout == "gemm")
    cols = cols.transpose(np.argsort(LAYOUTS[layout]))  # an "image"-ordered view
    return col2im_numpy(cols, image, stride, padding, dilation)


def col2im_numpy(cols, image, stride, padding, dilation):
    """The reference: kh*kw strided adds into a padded image, cropped."""
    n, c, kh, kw = cols.shape[:4]
    kernel = (kh, kw)
    pt, pb, pl, pr = padding
    h, w = image
    out = np.zeros((n, c, h + pt + pb, w + pl + pr), cols.dtype)
    for i, j, rows, cs in _windows(kernel, stride, dilation, cols.shape[4:]):
        out[:, :, rows, cs] += cols[:, :, i, j]
    return np.ascontiguousarray(out[:, :, pt:pt + h, pl:pl + w])


def _col2im_vjp(ct, out, cols, *, image, kernel, stride, padding, dilation, layout="image"):
    return (im2col(ct, kernel=kernel, stride=stride, padding=padding, dilation=dilation,
                   layout=layout),)


im2col, col2im = lax.im2col, lax.col2im  # the bind wrappers live in the primitive layer


im2col_p = register(Prim(
    "im2col", "opaque", _im2col_impl, _im2col_shape, _im2col_vjp,
    doc="(N, C, H, W) -> (N, C, kh, kw, Ho, Wo) sliding windows (convolution, pooling)"))
col2im_p = register(Prim(
    "col2im", "opaque", _col2im_impl, _col2im_shape, _col2im_vjp,
    doc="im2col's transpose: window entries added back to their pixels"))
