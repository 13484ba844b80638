"""3-d convolution and pooling (N, C, D, H, W), as torch's, by unrolling the depth axis.

Each output depth slice is a sum (conv3d), sum (avg_pool3d) or maximum
(max_pool3d) of the 2-d op over the kernel's depth taps, so these reuse the
im2col / GEMM path of the 2-d ops and their gradients. The graph grows with
output depth x kernel depth: meant for small volumes (video and 3-d medical
models want a direct kernel, not provided).
"""
from __future__ import annotations

import numpy as np

from .. import functional as F
from ..errors import op_error
from ..tensor import Tensor, as_tensor
from .conv_functional import conv2d
from .pooling import avg_pool2d, max_pool2d

__all__ = ["conv3d", "avg_pool3d", "max_pool3d"]


def _triple(op: str, value, name: str) -> tuple[int, int, int]:
    if isinstance(value, (int, np.integer)):
        return (int(value),) * 3
    value = tuple(int(v) for v in value)
    if len(value) != 3:
        raise op_error(op, f"{name} must be an int or a triple, got {value}")
    return value


def _volume(op: str, x) -> tuple[Tensor, bool]:
    x = as_tensor(x, op=op)
    if x.ndim == 4:
        return F.reshape(x, (1,) + x.shape), True
    if x.ndim != 5:
        raise op_error(op, f"expects an (N, C, D, H, W) or (C, D, H, W) input, got {x.shape}", x)
    return x, False


def _pad_depth(x: Tensor, before: int, after: int, value) -> Tensor:
    if not before and not after:
        return x
    def block(n: int) -> Tensor:
        return F.full(x.shape[:2] + (n,) + x.shape[3:], value, dtype=x.dtype)
    parts = ([block(before)] if before else []) + [x] + ([block(after)] if after else [])
    return F.concatenate(parts, axis=2)


def _depth_out(op: str, d: int, k: int, s: int, p: int, dil: int, x) -> int:
    out = (d + 2 * p - dil * (k - 1) - 1) // s + 1
    if out < 1:
        raise op_error(op, f"kernel depth {k} (dilation {dil}) does not fit depth {d} + "
                       f"padding {p}", x)
    return out


def conv3d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups: int = 1) -> Tensor:
    """3-d cross-correlation, as torch.nn.functional.conv3d (int or triple padding, or 'valid')."""
    x, squeeze = _volume("conv3d", x)
    weight = as_tensor(weight, op="conv3d")
    if weight.ndim != 5:
        raise op_error("conv3d", f"weight must be (out, in/groups, kd, kh, kw), got {weight.shape}",
                       x, weight)
    (sd, sh, sw), (dd, dh, dw) = _triple("conv3d", stride, "stride"), _triple("conv3d", dilation, "dilation")
    pd, ph, pw = (0, 0, 0) if padding == "valid" else _triple("conv3d", padding, "padding")
    kd = weight.shape[2]
    xp = _pad_depth(x, pd, pd, 0.0)
    slices = []
    for od in range(_depth_out("conv3d", x.shape[2], kd, sd, pd, dd, x)):
        taps = [conv2d(xp[:, :, od * sd + k * dd], weight[:, :, k], None, (sh, sw), (ph, pw),
                       (dh, dw), groups) for k in range(kd)]
        total = taps[0]
        for t in taps[1:]:
            total = total + t
        slices.append(total)
    y = F.stack(slices, axis=2)
    if bias is not None:
        y = y + F.reshape(as_tensor(bias, op="conv3d"), (-1, 1, 1, 1))
    return F.reshape(y, y.shape[1:]) if squeeze else y


def _pool3d_taps(op: str, x, kernel_size, stride, padding, dilation=1):
    x, squeeze = _volume(op, x)
    kernel = _triple(op, kernel_size, "kernel_size")
    stride = kernel if stride is None else _triple(op, stride, "stride")
    pad, dil = _triple(op, padding, "padding"), _triple(op, dilation, "dilation")
    n_out = _depth_out(op, x.shape[2], kernel[0], stride[0], pad[0], dil[0], x)
    return x, squeeze, kernel, stride, pad, dil, n_out


def max_pool3d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False) -> Tensor:
    """Max over each 3-d window, as torch.nn.functional.max_pool3d (no ceil_mode)."""
    if ceil_mode:
        raise op_error("max_pool3d", "ceil_mode=True is not supported", x)
    x, squeeze, k, s, p, d, n_out = _pool3d_taps("max_pool3d", x, kernel_size, stride, padding,
                                                 dilation)
    xp = _pad_depth(x, p[0], p[0], -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min)
    slices = []
    for od in range(n_out):
        taps = [max_pool2d(xp[:, :, od * s[0] + i * d[0]], k[1:], s[1:], p[1:], d[1:])
                for i in range(k[0])]
        best = taps[0]
        for t in taps[1:]:
            best = F.maximum(best, t)
        slices.append(best)
    y = F.stack(slices, axis=2)
    return F.reshape(y, y.shape[1:]) if squeeze else y


def avg_pool3d(x, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override=None) -> Tensor:
    """Mean over each 3-d window, as torch.nn.functional.avg_pool3d (no ceil_mode)."""
    if ceil_mode:
        raise op_error("avg_pool3d", "ceil_mode=True is not supported", x)
    x, squeeze, k, s, p, _, n_out = _pool3d_taps("avg_pool3d", x, kernel_size, stride, padding)

    def window_sums(v: Tensor, fill_pad: float) -> Tensor:
        vp = _pad_depth(v, p[0], p[0], fill_pad)
        out = []
        for od in range(n_out):
            taps = [avg_pool2d(vp[:, :, od * s[0] + i], k[1:], s[1:], p[1:], divisor_override=1)
                    for i in range(k[0])]
            total = taps[0]
            for t in taps[1:]:
                total = total + t
            out.append(total)
        return F.stack(out, axis=2)

    total = window_sums(x, 0.0)
    if divisor_override is not None:
        y = total / float(divisor_override)
    elif count_include_pad:
        y = total / float(k[0] * k[1] * k[2])
    else:  # count the real cells of each window (a constant)
        ones = Tensor(np.ones((1, 1) + x.shape[2:], x.dtype))
        y = total / window_sums(ones, 0.0)
    return F.reshape(y, y.shape[1:]) if squeeze else y
