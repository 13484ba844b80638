"""Convolution, pooling and resizing (NCHW, torch semantics) as composites.

Each is Python over the im2col / col2im primitives (`tracead/ops/window.py`),
matmul and reductions, so gradients (and second derivatives) come from
those rows' VJPs and the ops trace and compile like any other code:

  conv2d            W(O, C*kh*kw) @ im2col(x)(C*kh*kw, N*Ho*Wo) -> NCHW
  conv_transpose2d  col2im(W^T @ x): the transpose of conv2d's input map
  interpolate       constant (out, in) interpolation matrices on both
                    sides: A_h @ x @ A_w^T (exact, two matmuls)

Pooling is in `pooling.py`.
"""
from __future__ import annotations

import math

import numpy as np

from .. import functional as F
from ..errors import op_error
from ..ops.window import col2im, im2col, out_size
from ..tensor import Tensor, as_tensor

__all__ = ["conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "interpolate", "upsample",
           "unfold", "fold"]


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
    k = cg * kh * kw
    if groups == 1:
        # One GEMM over the whole batch, (O, K) @ (K, N*Ho*Wo), rather than N small ones
        # broadcasting the weight: the weight gradient is then one GEMM too, instead of
        # an (N, O, K) stack of products summed over N. im2col writes the columns in
        # that GEMM's layout, so the reshape is a view (and so is its cotangent's).
        cols = im2col(x, kernel=(kh, kw), stride=stride, padding=pads, dilation=dilation,
                      layout="gemm")
        ho, wo = cols.shape[4:]
        y = F.matmul(F.reshape(weight, (o, k)), F.reshape(cols, (k, n * ho * wo)))
        if bias is not None:
            y = y + F.reshape(as_tensor(bias, op="conv2d"), (o, 1))
        y = F.transpose(F.reshape(y, (o, n, ho, wo)), (1, 0, 2, 3))
        return _unbatch(y, squeeze)
    cols = im2col(x, kernel=(kh, kw), stride=stride, padding=pads, dilation=dilation)
    ho, wo = cols.shape[4:]
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


def _interp_matrix(n_in: int, n_out: int, mode: str, align_corners: bool, scale) -> np.ndarray:
    """(n_out, n_in): the weights each output takes from the inputs along one axis."""
    m = np.zeros((n_out, n_in))
    # torch uses 1/scale_factor for the source coordinate when a scale was given.
    ratio = (1.0 / scale) if scale is not None else n_in / n_out
    if mode == "area":
        return _average_matrix(n_in, n_out)
    if mode in ("nearest", "nearest-exact"):
        offset = 0.5 if mode == "nearest-exact" else 0.0
        src = np.floor((np.arange(n_out) + offset) * ratio).astype(np.int64)
        m[np.arange(n_out), np.minimum(src, n_in - 1)] = 1.0
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


_LINEAR_MODES = {"linear": 1, "bilinear": 2, "trilinear": 3}


def interpolate(x, size=None, scale_factor=None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor=None,
                antialias: bool = False) -> Tensor:
    """Resize the spatial axes of an (N, C, L), (N, C, H, W) or (N, C, D, H, W) input,
    as torch.nn.functional.interpolate.

    Modes: 'nearest', 'nearest-exact', 'area' (any rank), 'linear' (3-d
    input), 'bilinear' (4-d), 'trilinear' (5-d); align_corners False by
    default, as torch. Each axis is one matmul with a constant (out, in)
    weight matrix, so the gradient is exact.
    """
    x = as_tensor(x, op="interpolate")
    spatial = x.ndim - 2
    if spatial not in (1, 2, 3):
        raise op_error("interpolate", f"expects an (N, C, ...) input with 1 to 3 spatial dims, "
                       f"got shape {x.shape}", x)
    modes = ("nearest", "nearest-exact", "area") + tuple(_LINEAR_MODES)
    if mode not in modes:
        raise op_error("interpolate", f"mode must be one of {modes}, got {mode!r}", x)
    if mode in _LINEAR_MODES and _LINEAR_MODES[mode] != spatial:
        raise op_error("interpolate", f"mode {mode!r} needs {_LINEAR_MODES[mode] + 2}-d input, "
                       f"got shape {x.shape}", x)
    if mode not in _LINEAR_MODES and align_corners is not None:
        raise op_error("interpolate", "align_corners only applies to the linear modes", x)
    if antialias:
        raise op_error("interpolate", "antialias=True is not supported", x)
    if (size is None) == (scale_factor is None):
        raise op_error("interpolate", "give exactly one of size and scale_factor", x)
    sizes = x.shape[2:]
    if size is not None:
        out = (int(size),) * spatial if np.ndim(size) == 0 else tuple(int(s) for s in size)
        scales = (None,) * spatial
    else:
        scales = (float(scale_factor),) * spatial if np.ndim(scale_factor) == 0 \
            else tuple(float(s) for s in scale_factor)
        out = tuple(int(math.floor(n * s)) for n, s in zip(sizes, scales))
        if recompute_scale_factor:
            scales = (None,) * spatial
    if len(out) != spatial or len(scales) != spatial:
        raise op_error("interpolate", f"size / scale_factor must have {spatial} entries", x)
    y = x
    for k, (n_in, n_out, scale) in enumerate(zip(sizes, out, scales)):
        weights = _interp_matrix(n_in, n_out, mode, bool(align_corners), scale)
        moved = F.movedim(y, 2 + k, -1)
        moved = F.matmul(moved, Tensor(weights.T.astype(x.dtype)))
        y = F.movedim(moved, -1, 2 + k)
    return y


def upsample(x, size=None, scale_factor=None, mode: str = "nearest", align_corners=None) -> Tensor:
    """torch's deprecated name of `interpolate`."""
    return interpolate(x, size, scale_factor, mode, align_corners)


def conv_transpose1d(x, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups: int = 1, dilation=1) -> Tensor:
    """Transposed 1-d convolution, as torch: x (N, C_in, L), weight (C_in, C_out // groups, k)."""
    x, squeeze = _batched("conv_transpose1d", x, 1)
    weight = as_tensor(weight, op="conv_transpose1d")
    one = lambda v, pad: (pad, int(v if np.ndim(v) == 0 else v[0]))  # noqa: E731
    y = conv_transpose2d(F.reshape(x, x.shape[:2] + (1,) + x.shape[2:]),
                         F.reshape(weight, weight.shape[:2] + (1,) + weight.shape[2:]), bias,
                         one(stride, 1), one(padding, 0), one(output_padding, 0), groups,
                         one(dilation, 1))
    return _unbatch(F.reshape(y, y.shape[:2] + y.shape[3:]), squeeze)


def unfold(x, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """torch.nn.functional.unfold: the sliding blocks as columns, (N, C * kh * kw, L)."""
    x, squeeze = _batched("unfold", x, 2)
    kernel, dilation = _pair("unfold", kernel_size, "kernel_size"), _pair("unfold", dilation, "dilation")
    (ph, pw), stride = _pair("unfold", padding, "padding"), _pair("unfold", stride, "stride")
    cols = im2col(x, kernel=kernel, stride=stride, padding=(ph, ph, pw, pw), dilation=dilation)
    n, c, kh, kw, ho, wo = cols.shape
    return _unbatch(F.reshape(cols, (n, c * kh * kw, ho * wo)), squeeze)


def fold(x, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """torch.nn.functional.fold: columns (N, C * kh * kw, L) summed back into (N, C, H, W)."""
    x = as_tensor(x, op="fold")
    squeeze = x.ndim == 2
    if squeeze:
        x = F.reshape(x, (1,) + x.shape)
    kernel, dilation = _pair("fold", kernel_size, "kernel_size"), _pair("fold", dilation, "dilation")
    (ph, pw), stride = _pair("fold", padding, "padding"), _pair("fold", stride, "stride")
    h, w = _pair("fold", output_size, "output_size")
    ho = out_size(h, kernel[0], stride[0], ph, ph, dilation[0])
    wo = out_size(w, kernel[1], stride[1], pw, pw, dilation[1])
    n, ckk, length = x.shape
    if ckk % (kernel[0] * kernel[1]) or length != ho * wo:
        raise op_error("fold", f"input of shape {x.shape} does not match {ho * wo} blocks of "
                       f"kernel {kernel}", x)
    cols = F.reshape(x, (n, ckk // (kernel[0] * kernel[1])) + kernel + (ho, wo))
    y = col2im(cols, image=(h, w), kernel=kernel, stride=stride, padding=(ph, ph, pw, pw),
               dilation=dilation)
    return _unbatch(y, squeeze)


def out_shape_1d(size: int, k: int, stride: int, padding: int, dilation: int) -> int:
    """Output length of a convolution along one axis (for layer shape checks)."""
    return out_size(size, k, stride, padding, padding, dilation)
