"""Convolution, pooling and resizing (NCHW, torch semantics) as composites.

Each is Python over the im2col / col2im primitives (`tracead/ops/window.py`),
matmul and reductions, so gradients (and second derivatives) come from
those rows' VJPs and the ops trace and compile like any other code:

  conv2d            W(O, C*kh*kw) @ im2col(x)(C*kh*kw, N*Ho*Wo) -> NCHW
  conv_transpose2d  col2im(W^T @ x): the transpose of conv2d's input map
  max_pool2d        max over the window axes of im2col(x, pad=-inf)
  avg_pool2d        sum over the window axes / window size
  adaptive_avg_pool2d, interpolate
                    constant (out, in) averaging / interpolation matrices
                    on both sides: A_h @ x @ A_w^T (exact, two matmuls)
"""
from __future__ import annotations

import math

import numpy as np

from .. import functional as F
from ..errors import op_error
from ..ops.window import col2im, im2col, im2col_p, out_size
from ..tensor import Tensor, as_tensor

__all__ = ["conv1d", "conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d",
           "adaptive_avg_pool2d", "interpolate"]


def _pair(op: str, value, name: str) -> tuple[int, int]:
    if isinstance(value, (int, np.integer)):
        return int(value), int(value)
    value = tuple(int(v) for v in value)
    if len(value) != 2:
        raise op_error(op, f"{name} must be an int or a pair, got {value}")
    return value


def _batched(op: str, x, spatial: int) -> tuple[Tensor, bool]:
    """(N, C, *spatial) input; an unbatched (C, *spatial) one gets N=1 (as torch)."""
    x = as_tensor(x, op=op)
    if x.ndim == spatial + 1:
        return F.reshape(x, (1,) + x.shape), True
    if x.ndim != spatial + 2:
        raise op_error(op, f"expects a {spatial + 2}-d (N, C, ...) or {spatial + 1}-d input, "
                       f"got shape {x.shape}", x)
    return x, False


def _unbatch(y: Tensor, squeeze: bool) -> Tensor:
    return F.reshape(y, y.shape[1:]) if squeeze else y


def _conv_padding(op: str, padding, kernel, dilation, stride) -> tuple[int, int, int, int]:
    """(top, bottom, left, right); 'same' pads the extra pixel at the end (as torch)."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding != "same":
            raise op_error(op, f"padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
        if stride != (1, 1):
            raise op_error(op, f"padding='same' needs stride 1, got stride {stride}")
        pads = []
        for k, d in zip(kernel, dilation):
            total = d * (k - 1)
            pads += [total // 2, total - total // 2]
        return tuple(pads)
    ph, pw = _pair(op, padding, "padding")
    return (ph, ph, pw, pw)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups: int = 1) -> Tensor:
    """2-d cross-correlation, as torch.nn.functional.conv2d.

    x: (N, C, H, W) or (C, H, W); weight: (O, C // groups, kh, kw); bias: (O,).
    padding: int, pair, 'valid' or 'same' (stride 1).
    """
    x, squeeze = _batched("conv2d", x, 2)
    weight = as_tensor(weight, op="conv2d")
    if weight.ndim != 4:
        raise op_error("conv2d", f"weight must be (out, in/groups, kh, kw), got {weight.shape}",
                       x, weight)
    if x.dtype != weight.dtype:
        raise op_error("conv2d", f"input dtype {x.dtype} differs from weight dtype {weight.dtype}",
                       x, weight, type_error=True)
    n, c, _, _ = x.shape
    o, cg, kh, kw = weight.shape
    if groups < 1 or c % groups or o % groups or cg != c // groups:
        raise op_error("conv2d", f"{c} input channels with groups={groups} do not match a weight "
                       f"of shape {weight.shape}", x, weight)
    stride, dilation = _pair("conv2d", stride, "stride"), _pair("conv2d", dilation, "dilation")
    pads = _conv_padding("conv2d", padding, (kh, kw), dilation, stride)
    cols = im2col(x, kernel=(kh, kw), stride=stride, padding=pads, dilation=dilation)
    ho, wo = cols.shape[4:]
    k = cg * kh * kw
    if groups == 1:
        # One GEMM over the whole batch, (O, K) @ (K, N*Ho*Wo), rather than N small ones
        # broadcasting the weight: the weight gradient is then one GEMM too, instead of
        # an (N, O, K) stack of products summed over N.
        cols = F.reshape(F.transpose(cols, (1, 2, 3, 0, 4, 5)), (k, n * ho * wo))
        y = F.matmul(F.reshape(weight, (o, k)), cols)
        if bias is not None:
            y = y + F.reshape(as_tensor(bias, op="conv2d"), (o, 1))
        y = F.transpose(F.reshape(y, (o, n, ho, wo)), (1, 0, 2, 3))
        return _unbatch(y, squeeze)
    w = F.reshape(weight, (groups, o // groups, k))
    y = F.reshape(F.matmul(w, F.reshape(cols, (n, groups, k, ho * wo))), (n, o, ho, wo))
    if bias is not None:
        y = y + F.reshape(as_tensor(bias, op="conv2d"), (o, 1, 1))
    return _unbatch(y, squeeze)


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups: int = 1) -> Tensor:
    """1-d cross-correlation, as torch.nn.functional.conv1d: x (N, C, L), weight (O, C // groups, k)."""
    x, squeeze = _batched("conv1d", x, 1)
    weight = as_tensor(weight, op="conv1d")
    if weight.ndim != 3:
        raise op_error("conv1d", f"weight must be (out, in/groups, k), got {weight.shape}", x, weight)
    one = lambda v: (1, int(v if isinstance(v, (int, np.integer)) else v[0]))
    pad = padding if isinstance(padding, str) else (0, one(padding)[1])
    y = conv2d(F.reshape(x, x.shape[:2] + (1,) + x.shape[2:]),
               F.reshape(weight, weight.shape[:2] + (1,) + weight.shape[2:]), bias,
               stride=one(stride), padding=pad, dilation=one(dilation), groups=groups)
    y = F.reshape(y, y.shape[:2] + y.shape[3:])
    return _unbatch(y, squeeze)


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups: int = 1, dilation=1) -> Tensor:
    """Transposed convolution, as torch.nn.functional.conv_transpose2d.

    x: (N, C_in, H, W); weight: (C_in, C_out // groups, kh, kw). Output size
    (H - 1) * stride - 2 * padding + dilation * (kh - 1) + output_padding + 1.
    """
    x, squeeze = _batched("conv_transpose2d", x, 2)
    weight = as_tensor(weight, op="conv_transpose2d")
    if weight.ndim != 4 or weight.shape[0] != x.shape[1] or x.shape[1] % groups:
        raise op_error("conv_transpose2d", f"weight must be (in={x.shape[1]}, out/groups, kh, kw) "
                       f"with groups={groups}, got {weight.shape}", x, weight)
    if x.dtype != weight.dtype:
        raise op_error("conv_transpose2d", f"input dtype {x.dtype} differs from weight dtype "
                       f"{weight.dtype}", x, weight, type_error=True)
    n, cin, h, w = x.shape
    _, og, kh, kw = weight.shape
    stride, dilation = _pair("conv_transpose2d", stride, "stride"), _pair("conv_transpose2d", dilation, "dilation")
    (ph, pw), (oph, opw) = _pair("conv_transpose2d", padding, "padding"), _pair(
        "conv_transpose2d", output_padding, "output_padding")
    if oph >= max(stride[0], dilation[0]) or opw >= max(stride[1], dilation[1]):
        raise op_error("conv_transpose2d", f"output_padding {(oph, opw)} must be smaller than "
                       f"stride {stride} or dilation {dilation}", x, weight)
    hout = (h - 1) * stride[0] - 2 * ph + dilation[0] * (kh - 1) + oph + 1
    wout = (w - 1) * stride[1] - 2 * pw + dilation[1] * (kw - 1) + opw + 1
    cg, k = cin // groups, og * kh * kw
    wt = F.transpose(F.reshape(weight, (groups, cg, k)), (0, 2, 1))        # (g, k, cg)
    cols = F.matmul(wt, F.reshape(x, (n, groups, cg, h * w)))             # (n, g, k, h*w)
    cols = F.reshape(cols, (n, groups * og, kh, kw, h, w))
    y = col2im(cols, image=(hout, wout), kernel=(kh, kw), stride=stride,
               padding=(ph, ph, pw, pw), dilation=dilation)
    if bias is not None:
        y = y + F.reshape(as_tensor(bias, op="conv_transpose2d"), (groups * og, 1, 1))
    return _unbatch(y, squeeze)


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


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False) -> Tensor:
    """Max over each window, as torch.nn.functional.max_pool2d (padding counts as -inf).

    The gradient of a window goes to its maximum (split evenly between tied
    maxima, a valid subgradient; torch picks one of them).
    """
    x, squeeze = _batched("max_pool2d", x, 2)
    kernel, stride, pads, dilation = _pool_geometry("max_pool2d", x, kernel_size, stride,
                                                    padding, dilation, ceil_mode)
    (kh, kw), (h, w) = kernel, x.shape[2:]
    if not any(pads) and dilation == (1, 1) and stride == kernel and h % kh == 0 and w % kw == 0:
        # Windows that tile the image: a reshape (a view, no im2col copy, and no col2im
        # in the gradient) and a max over the two window axes.
        tiles = F.reshape(x, x.shape[:2] + (h // kh, kh, w // kw, kw))
        return _unbatch(F.max(tiles, axis=(3, 5)), squeeze)
    fill = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    cols = im2col(x, kernel=kernel, stride=stride, padding=pads, dilation=dilation, pad_value=fill)
    return _unbatch(F.max(cols, axis=(2, 3)), squeeze)


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
    counts = im2col_p.impl(ones, kernel=kernel, stride=stride, padding=(0, 0, 0, 0),
                           dilation=(1, 1), pad_value=0.0).sum(axis=(2, 3))
    return _unbatch(total / counts.astype(x.dtype), squeeze)


def _average_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in): row i averages [floor(i*n_in/n_out), ceil((i+1)*n_in/n_out)) (torch's windows)."""
    m = np.zeros((n_out, n_in))
    for i in range(n_out):
        lo, hi = (i * n_in) // n_out, -((-(i + 1) * n_in) // n_out)
        m[i, lo:hi] = 1.0 / (hi - lo)
    return m


def _resize_2d(x: Tensor, rows: np.ndarray, cols: np.ndarray) -> Tensor:
    """rows @ x @ cols.T over the last two axes, with constant matrices in x's dtype."""
    rows, cols = Tensor(rows.astype(x.dtype)), Tensor(cols.T.astype(x.dtype))
    return F.matmul(F.matmul(rows, x), cols)


def adaptive_avg_pool2d(x, output_size) -> Tensor:
    """Average pooling to a fixed output size, as torch.nn.functional.adaptive_avg_pool2d."""
    x, squeeze = _batched("adaptive_avg_pool2d", x, 2)
    if isinstance(output_size, (int, np.integer)):
        output_size = (output_size, output_size)
    h, w = x.shape[2:]
    oh, ow = [h if output_size[0] is None else int(output_size[0]),
              w if output_size[1] is None else int(output_size[1])]
    return _unbatch(_resize_2d(x, _average_matrix(h, oh), _average_matrix(w, ow)), squeeze)


def _interp_matrix(n_in: int, n_out: int, mode: str, align_corners: bool, scale) -> np.ndarray:
    m = np.zeros((n_out, n_in))
    # torch uses 1/scale_factor for the source coordinate when a scale was given.
    ratio = (1.0 / scale) if scale is not None else n_in / n_out
    if mode == "nearest":
        src = np.minimum(np.floor(np.arange(n_out) * ratio).astype(np.int64), n_in - 1)
        m[np.arange(n_out), src] = 1.0
        return m
    if align_corners:
        pos = np.arange(n_out) * ((n_in - 1) / (n_out - 1) if n_out > 1 else 0.0)
    else:
        pos = np.maximum((np.arange(n_out) + 0.5) * ratio - 0.5, 0.0)
    lo = np.minimum(np.floor(pos).astype(np.int64), n_in - 1)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = pos - lo
    np.add.at(m, (np.arange(n_out), lo), 1.0 - frac)
    np.add.at(m, (np.arange(n_out), hi), frac)
    return m


def interpolate(x, size=None, scale_factor=None, mode: str = "nearest",
                align_corners: bool | None = None) -> Tensor:
    """Resize the last two axes of an (N, C, H, W) input, as torch.nn.functional.interpolate.

    mode 'nearest' or 'bilinear' (align_corners False by default, as torch).
    """
    x = as_tensor(x, op="interpolate")
    if x.ndim != 4:
        raise op_error("interpolate", f"expects an (N, C, H, W) input, got shape {x.shape}", x)
    if mode not in ("nearest", "bilinear"):
        raise op_error("interpolate", f"mode must be 'nearest' or 'bilinear', got {mode!r}", x)
    if mode == "nearest" and align_corners is not None:
        raise op_error("interpolate", "align_corners only applies to 'bilinear'", x)
    if (size is None) == (scale_factor is None):
        raise op_error("interpolate", "give exactly one of size and scale_factor", x)
    h, w = x.shape[2:]
    if size is not None:
        (oh, ow), scales = _pair("interpolate", size, "size"), (None, None)
    else:
        scales = (scale_factor, scale_factor) if isinstance(scale_factor, (int, float)) \
            else tuple(scale_factor)
        oh, ow = int(math.floor(h * scales[0])), int(math.floor(w * scales[1]))
    corners = bool(align_corners)
    rows = _interp_matrix(h, oh, mode, corners, scales[0])
    cols = _interp_matrix(w, ow, mode, corners, scales[1])
    return _resize_2d(x, rows, cols)


def out_shape_1d(size: int, k: int, stride: int, padding: int, dilation: int) -> int:
    """Output length of a convolution along one axis (for layer shape checks)."""
    return out_size(size, k, stride, padding, padding, dilation)
