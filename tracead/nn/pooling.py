"""Pooling (NCHW / NCL, torch semantics) as composites over im2col and reductions.

  max_pool2d        a gather of each window's first maximum (window_argmax,
                    plane_gather: the whole gradient goes to that one
                    element, as torch's; ops/window_max.py)
  avg_pool2d        sum over the window axes / window size
  adaptive_*        constant averaging matrices (avg) or per-output windows (max)
  max_unpool2d      scatter of the pooled values to their indices
  *_pool1d          the 2-d pools on a height-1 image
"""
from __future__ import annotations

import math

import numpy as np

from .. import functional as F
from ..errors import op_error
from ..ops.window import im2col, im2col_p
from ..ops.window_max import plane_gather, window_argmax
from ..tensor import Tensor, as_tensor
from .conv_functional import _average_matrix, _batched, _pair, _resize_2d, _unbatch

__all__ = ["max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d",
           "max_pool1d", "avg_pool1d", "adaptive_avg_pool1d", "adaptive_max_pool1d",
           "max_unpool2d", "lp_pool2d", "lp_pool1d"]


def _pool_geometry(op: str, x, kernel_size, stride, padding, dilation, ceil_mode):
    kernel = _pair(op, kernel_size, "kernel_size")
    stride = kernel if stride is None or stride == () else _pair(op, stride, "stride")
    pad, dilation = _pair(op, padding, "padding"), _pair(op, dilation, "dilation")
    if pad[0] * 2 > kernel[0] or pad[1] * 2 > kernel[1]:
        raise op_error(op, f"padding {pad} must be at most half the kernel size {kernel}", x)
    pads = []
    for size, k, s, p, d in zip(x.shape[2:], kernel, stride, pad, dilation):
        hi = p
        if ceil_mode:
            n_out = math.ceil((size + 2 * p - d * (k - 1) - 1) / s) + 1
            if (n_out - 1) * s >= size + p:  # the last window must start inside the input
                n_out -= 1
            hi = max(p, (n_out - 1) * s + d * (k - 1) + 1 - size - p)
        pads += [p, hi]
    return kernel, stride, tuple(pads), dilation


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """Max over each window, as torch.nn.functional.max_pool2d (padding counts as -inf).

    The gradient of a window goes to its first maximum in row-major order,
    as torch's. `return_indices=True` also returns, per output, the flat
    index h * W + w of that maximum in its input plane (torch's indices,
    int64, for `max_unpool2d`).
    """
    x, squeeze = _batched("max_pool2d", x, 2)
    kernel, stride, pads, dilation = _pool_geometry("max_pool2d", x, kernel_size, stride,
                                                    padding, dilation, ceil_mode)
    index = window_argmax(x, kernel=kernel, stride=stride, padding=pads, dilation=dilation)
    values = plane_gather(x, index)
    if not return_indices:
        return _unbatch(values, squeeze)
    return _unbatch(values, squeeze), _unbatch(index, squeeze)


def _as_2d(op: str, x):
    """A (N, C, L) or (C, L) input as (N, C, 1, L), and whether it was unbatched."""
    x, squeeze = _batched(op, x, 1)
    return F.reshape(x, x.shape[:2] + (1,) + x.shape[2:]), squeeze


def _from_2d(y, squeeze: bool):
    y = F.reshape(y, y.shape[:2] + y.shape[3:])
    return _unbatch(y, squeeze)


def max_pool1d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """Max over each window of an (N, C, L) input, as torch.nn.functional.max_pool1d."""
    x2, squeeze = _as_2d("max_pool1d", x)
    one = lambda v, default: (default, int(v if np.ndim(v) == 0 else v[0]))  # noqa: E731
    out = max_pool2d(x2, one(kernel_size, 1), None if stride is None else one(stride, 1),
                     one(padding, 0), one(dilation, 1), ceil_mode, return_indices)
    if return_indices:
        return _from_2d(out[0], squeeze), _from_2d(out[1], squeeze)
    return _from_2d(out, squeeze)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override=None) -> Tensor:
    """Mean over each window, as torch.nn.functional.avg_pool2d."""
    x, squeeze = _batched("avg_pool2d", x, 2)
    kernel, stride, pads, _ = _pool_geometry("avg_pool2d", x, kernel_size, stride, padding, 1,
                                             ceil_mode)
    cols = im2col(x, kernel=kernel, stride=stride, padding=pads, dilation=(1, 1))
    total = F.sum(cols, axis=(2, 3))
    if divisor_override is not None:
        return _unbatch(total / float(divisor_override), squeeze)
    # Window sizes (a constant): torch counts symmetric padding when
    # count_include_pad, but never the extra ceil_mode cells past it.
    h, w = x.shape[2:]
    ph, pw = pads[0], pads[2]
    ones = np.zeros((1, 1, h + 2 * ph, w + 2 * pw))
    ones[..., (0 if count_include_pad else ph):h + (2 * ph if count_include_pad else ph),
         (0 if count_include_pad else pw):w + (2 * pw if count_include_pad else pw)] = 1.0
    ones = np.pad(ones, ((0, 0), (0, 0), (0, pads[1] - ph), (0, pads[3] - pw)))
    counts = im2col_p.apply([ones], dict(kernel=kernel, stride=stride, padding=(0, 0, 0, 0),
                                         dilation=(1, 1), pad_value=0.0)).sum(axis=(2, 3))
    return _unbatch(total / counts.astype(x.dtype), squeeze)


def avg_pool1d(x, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """Mean over each window of an (N, C, L) input, as torch.nn.functional.avg_pool1d."""
    x2, squeeze = _as_2d("avg_pool1d", x)
    one = lambda v, default: (default, int(v if np.ndim(v) == 0 else v[0]))  # noqa: E731
    y = avg_pool2d(x2, one(kernel_size, 1), None if stride is None else one(stride, 1),
                   one(padding, 0), ceil_mode, count_include_pad)
    return _from_2d(y, squeeze)


def lp_pool2d(x, norm_type: float, kernel_size, stride=None, ceil_mode: bool = False) -> Tensor:
    """(sum of x**p over each window) ** (1/p), as torch.nn.functional.lp_pool2d."""
    x = as_tensor(x, op="lp_pool2d")
    kh, kw = _pair("lp_pool2d", kernel_size, "kernel_size")
    y = avg_pool2d(F.pow(x, float(norm_type)), (kh, kw), stride, 0, ceil_mode)
    y = F.sign(y) * F.relu(F.abs(y)) * (kh * kw)
    return F.pow(y, 1.0 / float(norm_type))


def lp_pool1d(x, norm_type: float, kernel_size, stride=None, ceil_mode: bool = False) -> Tensor:
    """(sum of x**p over each window) ** (1/p) of an (N, C, L) input."""
    x = as_tensor(x, op="lp_pool1d")
    k = int(kernel_size if np.ndim(kernel_size) == 0 else kernel_size[0])
    y = avg_pool1d(F.pow(x, float(norm_type)), k, stride, 0, ceil_mode)
    return F.pow(F.sign(y) * F.relu(F.abs(y)) * k, 1.0 / float(norm_type))


def _output_size(op: str, x: Tensor, output_size, spatial: int) -> tuple[int, ...]:
    if isinstance(output_size, (int, np.integer)):
        output_size = (int(output_size),) * spatial
    sizes = tuple(x.shape[2 + i] if s is None else int(s) for i, s in enumerate(output_size))
    if len(sizes) != spatial:
        raise op_error(op, f"output_size must have {spatial} entries, got {output_size}", x)
    return sizes


def adaptive_avg_pool2d(x, output_size) -> Tensor:
    """Average pooling to a fixed output size, as torch.nn.functional.adaptive_avg_pool2d."""
    x, squeeze = _batched("adaptive_avg_pool2d", x, 2)
    oh, ow = _output_size("adaptive_avg_pool2d", x, output_size, 2)
    h, w = x.shape[2:]
    return _unbatch(_resize_2d(x, _average_matrix(h, oh), _average_matrix(w, ow)), squeeze)


def adaptive_avg_pool1d(x, output_size) -> Tensor:
    """Average pooling of an (N, C, L) input to a fixed length."""
    x2, squeeze = _as_2d("adaptive_avg_pool1d", x)
    size = int(output_size if np.ndim(output_size) == 0 else output_size[0])
    return _from_2d(adaptive_avg_pool2d(x2, (1, size)), squeeze)


def _windows(n_in: int, n_out: int) -> list[tuple[int, int]]:
    """torch's adaptive windows [floor(i n_in / n_out), ceil((i + 1) n_in / n_out))."""
    return [((i * n_in) // n_out, -((-(i + 1) * n_in) // n_out)) for i in range(n_out)]


def adaptive_max_pool2d(x, output_size, return_indices: bool = False):
    """Max pooling to a fixed output size, as torch.nn.functional.adaptive_max_pool2d."""
    x, squeeze = _batched("adaptive_max_pool2d", x, 2)
    oh, ow = _output_size("adaptive_max_pool2d", x, output_size, 2)
    h, w = x.shape[2:]
    rows, values, indices = [], [], []
    for r0, r1 in _windows(h, oh):
        row_v, row_i = [], []
        for c0, c1 in _windows(w, ow):
            v, i = max_pool2d(x[:, :, r0:r1, c0:c1], (r1 - r0, c1 - c0), return_indices=True)
            row_v.append(v)
            # the index within the window's plane -> the index in x's plane
            row_i.append(F.floor_divide(i, c1 - c0) * w + r0 * w + F.remainder(i, c1 - c0) + c0)
        rows.append((row_v, row_i))
    values = F.concatenate([F.concatenate(v, axis=3) for v, _ in rows], axis=2)
    if not return_indices:
        return _unbatch(values, squeeze)
    indices = F.concatenate([F.concatenate(i, axis=3) for _, i in rows], axis=2)
    return _unbatch(values, squeeze), _unbatch(indices, squeeze)


def adaptive_max_pool1d(x, output_size, return_indices: bool = False):
    """Max pooling of an (N, C, L) input to a fixed length."""
    x2, squeeze = _as_2d("adaptive_max_pool1d", x)
    size = int(output_size if np.ndim(output_size) == 0 else output_size[0])
    out = adaptive_max_pool2d(x2, (1, size), return_indices)
    if return_indices:
        return _from_2d(out[0], squeeze), _from_2d(out[1], squeeze)
    return _from_2d(out, squeeze)


def max_unpool2d(x, indices, kernel_size, stride=None, padding=0, output_size=None) -> Tensor:
    """The inverse of max_pool2d(return_indices=True): each value at its index, zeros elsewhere."""
    x, squeeze = _batched("max_unpool2d", x, 2)
    indices = as_tensor(indices, op="max_unpool2d")
    if squeeze:
        indices = F.reshape(indices, (1,) + indices.shape)
    kernel = _pair("max_unpool2d", kernel_size, "kernel_size")
    stride = kernel if stride is None else _pair("max_unpool2d", stride, "stride")
    pad = _pair("max_unpool2d", padding, "padding")
    n, c, h, w = x.shape
    if output_size is not None:
        oh, ow = (int(s) for s in tuple(output_size)[-2:])
    else:
        oh = (h - 1) * stride[0] - 2 * pad[0] + kernel[0]
        ow = (w - 1) * stride[1] - 2 * pad[1] + kernel[1]
    flat = F.reshape(x, (n, c, h * w))
    out = F.scatter(F.zeros(n, c, oh * ow, dtype=x.dtype), 2,
                    F.reshape(indices, (n, c, h * w)), flat)
    return _unbatch(F.reshape(out, (n, c, oh, ow)), squeeze)
