"""More activations for `nn.functional` (torch's names, arguments and defaults).

Each is a composite of tracead ops; at the kinks the gradient is the one
torch uses (the value of one side), so results and gradients match torch.
"""
from __future__ import annotations


import numpy as np

from .. import functional as _ops
from ..errors import op_error
from ..tensor import Tensor, as_tensor

__all__ = ["relu6", "hardtanh", "hardsigmoid", "hardswish", "celu", "selu", "mish", "softsign",
           "logsigmoid", "tanhshrink", "softshrink", "hardshrink", "threshold", "softmin", "glu",
           "prelu", "rrelu", "normalize", "cosine_similarity", "pairwise_distance",
           "pixel_shuffle", "pixel_unshuffle"]

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def hardtanh(x, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """x clamped to [min_val, max_val] (gradient 0 outside, as torch)."""
    x = as_tensor(x, op="hardtanh")
    return _ops.where((x > min_val) & (x < max_val), x,
                      _ops.where(x <= min_val, np.asarray(min_val, x.dtype),
                                 np.asarray(max_val, x.dtype)))


def relu6(x) -> Tensor:
    """min(max(x, 0), 6)."""
    return hardtanh(x, 0.0, 6.0)


def hardsigmoid(x) -> Tensor:
    """relu6(x + 3) / 6 (gradient 1/6 strictly inside (-3, 3), as torch)."""
    x = as_tensor(x, op="hardsigmoid")
    inside = (x > -3.0) & (x < 3.0)
    return _ops.where(inside, x / 6.0 + 0.5, _ops.where(x >= 3.0, np.asarray(1.0, x.dtype),
                                                        np.asarray(0.0, x.dtype)))


def hardswish(x) -> Tensor:
    """x * relu6(x + 3) / 6."""
    x = as_tensor(x, op="hardswish")
    return _ops.where(x <= -3.0, x * 0.0, _ops.where(x >= 3.0, x, x * (x + 3.0) / 6.0))


def celu(x, alpha: float = 1.0) -> Tensor:
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    x = as_tensor(x, op="celu")
    return _ops.where(x > 0, x, alpha * _ops.expm1(_ops.minimum(x, 0.0) / alpha))


def selu(x) -> Tensor:
    """scale * (max(0, x) + min(0, alpha * (exp(x) - 1))) with torch's constants."""
    x = as_tensor(x, op="selu")
    return _SELU_SCALE * _ops.where(x > 0, x, _SELU_ALPHA * _ops.expm1(_ops.minimum(x, 0.0)))


def mish(x) -> Tensor:
    """x * tanh(softplus(x))."""
    x = as_tensor(x, op="mish")
    return x * _ops.tanh(_ops.softplus(x))


def softsign(x) -> Tensor:
    """x / (1 + |x|)."""
    x = as_tensor(x, op="softsign")
    return x / (1.0 + _ops.abs(x))


def logsigmoid(x) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x), stably."""
    return -_ops.softplus(-as_tensor(x, op="logsigmoid"))


def tanhshrink(x) -> Tensor:
    """x - tanh(x)."""
    x = as_tensor(x, op="tanhshrink")
    return x - _ops.tanh(x)


def softshrink(x, lambd: float = 0.5) -> Tensor:
    """x - lambd above lambd, x + lambd below -lambd, 0 between."""
    x = as_tensor(x, op="softshrink")
    return _ops.where(x > lambd, x - lambd, _ops.where(x < -lambd, x + lambd, x * 0.0))


def hardshrink(x, lambd: float = 0.5) -> Tensor:
    """x where |x| > lambd, else 0."""
    x = as_tensor(x, op="hardshrink")
    return _ops.where((x > lambd) | (x < -lambd), x, x * 0.0)


def threshold(x, threshold: float, value: float) -> Tensor:
    """x where x > threshold, else value."""
    x = as_tensor(x, op="threshold")
    return _ops.where(x > threshold, x, np.asarray(value, x.dtype))


def softmin(x, dim=None, dtype=None) -> Tensor:
    """softmax(-x) along `dim`."""
    x = as_tensor(x, op="softmin")
    if dtype is not None:
        x = _ops.cast(x, dtype)
    return _ops.softmax(-x, axis=-1 if dim is None else dim)


def glu(x, dim: int = -1) -> Tensor:
    """a * sigmoid(b) for the two halves a, b of x along `dim`."""
    x = as_tensor(x, op="glu")
    if x.shape[dim] % 2:
        raise op_error("glu", f"dimension {dim} must have an even size, got {x.shape[dim]}", x)
    a, b = _ops.chunk(x, 2, dim)
    return a * _ops.sigmoid(b)


def prelu(x, weight) -> Tensor:
    """max(0, x) + weight * min(0, x), `weight` per channel (axis 1) or one value."""
    x, w = as_tensor(x, op="prelu"), as_tensor(weight, op="prelu")
    w = w if w.dtype == x.dtype else _ops.cast(w, x.dtype)  # torch: one dtype
    if w.size > 1 and x.ndim >= 2:
        w = _ops.reshape(w, (w.size,) + (1,) * (x.ndim - 2))
    return _ops.where(x > 0, x, w * x)


def rrelu(x, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False) -> Tensor:
    """Eval mode: leaky ReLU with slope (lower + upper) / 2 (training mode needs randomness)."""
    if training:
        raise op_error("rrelu", "training=True draws random slopes: use leaky_relu with a slope "
                       "from ta.rand instead", x)
    x = as_tensor(x, op="rrelu")
    return _ops.where(x >= 0, x, x * ((lower + upper) / 2.0))


def normalize(x, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """x / max(||x||_p along dim, eps)."""
    x = as_tensor(x, op="normalize")
    return x / _ops.maximum(_ops.vector_norm(x, p, dim, keepdims=True), eps)


def cosine_similarity(x1, x2, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """sum(x1 * x2) / (max(||x1||, eps) * max(||x2||, eps)) along `dim` (torch's clamping)."""
    x1, x2 = as_tensor(x1, op="cosine_similarity"), as_tensor(x2, op="cosine_similarity")
    n1 = _ops.maximum(_ops.vector_norm(x1, 2, dim), eps)
    n2 = _ops.maximum(_ops.vector_norm(x2, 2, dim), eps)
    return _ops.sum(x1 * x2, dim) / (n1 * n2)


def pairwise_distance(x1, x2, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """||x1 - x2 + eps||_p along the last axis."""
    x1, x2 = as_tensor(x1, op="pairwise_distance"), as_tensor(x2, op="pairwise_distance")
    return _ops.vector_norm(x1 - x2 + eps, p, -1, keepdims=keepdim)


def pixel_shuffle(x, upscale_factor: int) -> Tensor:
    """(N, C r^2, H, W) -> (N, C, H r, W r)."""
    x = as_tensor(x, op="pixel_shuffle")
    r = int(upscale_factor)
    *lead, c, h, w = x.shape
    if c % (r * r):
        raise op_error("pixel_shuffle", f"{c} channels are not divisible by {r}^2", x)
    y = _ops.reshape(x, tuple(lead) + (c // (r * r), r, r, h, w))
    n = len(lead)
    y = _ops.transpose(y, tuple(range(n)) + (n, n + 3, n + 1, n + 4, n + 2))
    return _ops.reshape(y, tuple(lead) + (c // (r * r), h * r, w * r))


def pixel_unshuffle(x, downscale_factor: int) -> Tensor:
    """(N, C, H r, W r) -> (N, C r^2, H, W)."""
    x = as_tensor(x, op="pixel_unshuffle")
    r = int(downscale_factor)
    *lead, c, h, w = x.shape
    if h % r or w % r:
        raise op_error("pixel_unshuffle", f"height {h} and width {w} must divide by {r}", x)
    y = _ops.reshape(x, tuple(lead) + (c, h // r, r, w // r, r))
    n = len(lead)
    y = _ops.transpose(y, tuple(range(n)) + (n, n + 2, n + 4, n + 1, n + 3))
    return _ops.reshape(y, tuple(lead) + (c * r * r, h // r, w // r))


