"""OpInfo cases of the torch-breadth ops: bit operations, singular values and
matrix norms, torch's composites (torch_functions), activations, pooling,
padding, resizing and the weighted losses.

Appended to `opinfo.CASES`, so `test_ops.py` checks each in every mode:
forward vs a NumPy reference written here (f32/f64), VJP vs central
differences, float32 vs float64 gradients, second derivatives where smooth.
References are hand-written NumPy (torch's documented formulas), not torch.
"""
from __future__ import annotations

import math

import numpy as np

import tracead as ta
from tracead import nn
from tracead.ops import PRIMS
from opinfo import BINARY_SMALL, REDUCE, UNARY, OpCase, _args, _with

F = nn.functional


def _ints(fn):
    """fn on the "ints" domain's values as int64 (the domain stores them as floats)."""
    return lambda *xs: fn(*(ta.cast(x, np.int64) if isinstance(x, ta.Tensor) else
                            np.asarray(x).astype(np.int64) for x in xs))


def _svd(part):
    return lambda x: np.linalg.svd(x, full_matrices=False)[part].astype(x.dtype)


def _log_softmax(z):
    s = z - z.max(axis=1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=1, keepdims=True))


LABELS = np.array([2, 0, 3])
CLASS_W = np.array([1.0, 2.0, 0.5, 3.0])


def _ce_weighted_ref(z, smoothing=0.0, ignore=None):
    """torch's weighted cross-entropy, mean reduction, from its documented formula."""
    logp = _log_softmax(z.astype(np.float64))
    w = CLASS_W
    keep = np.ones(len(LABELS), bool) if ignore is None else LABELS != ignore
    rows = np.arange(len(LABELS))
    wy = w[LABELS] * keep
    nll = -(wy * logp[rows, LABELS]).sum() / wy.sum()
    smooth = -((logp * w).sum(axis=1) * keep).sum() / wy.sum()
    return np.asarray((1 - smoothing) * nll + smoothing / z.shape[1] * smooth, z.dtype)


def _logcumsumexp_ref(x):
    return np.logaddexp.accumulate(x, axis=-1)


def _max_pool_ref(x, k=2):
    n, c, h, w = x.shape
    return x[:, :, :h // k * k, :w // k * k].reshape(n, c, h // k, k, w // k, k).max(axis=(3, 5))


def _lerp_ref(a, b):
    return a + 0.3 * (b - a)


def _hardswish(x):
    return x * np.clip(x + 3, 0, 6) / 6


def _selu(x):
    alpha, scale = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
    return (scale * np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))).astype(x.dtype)


def _bilinear_ref(x, oh, ow):
    """torch's bilinear (align_corners=False) by direct formula."""
    def weights(n_in, n_out):
        m = np.zeros((n_out, n_in))
        for i in range(n_out):
            pos = max((i + 0.5) * n_in / n_out - 0.5, 0.0)
            lo = min(int(math.floor(pos)), n_in - 1)
            hi = min(lo + 1, n_in - 1)
            m[i, lo] += 1 - (pos - lo)
            m[i, hi] += pos - lo
        return m
    a, b = weights(x.shape[2], oh), weights(x.shape[3], ow)
    return np.einsum("ih,nchw,jw->ncij", a, x, b).astype(x.dtype)


def _conv3d_ref(x, w):
    """Direct 3-d cross-correlation (no padding, stride 1)."""
    n, c, d, h, wd = x.shape
    o, _, kd, kh, kw = w.shape
    out = np.zeros((n, o, d - kd + 1, h - kh + 1, wd - kw + 1), x.dtype)
    for i, j, k in np.ndindex(out.shape[2:]):
        patch = x[:, :, i:i + kd, j:j + kh, k:k + kw]
        out[:, :, i, j, k] = np.einsum("ncdhw,ocdhw->no", patch, w)
    return out


def _linear_1d_ref(x, n_out):
    n_in = x.shape[-1]
    m = np.zeros((n_out, n_in))
    for i in range(n_out):
        pos = max((i + 0.5) * n_in / n_out - 0.5, 0.0)
        lo = min(int(math.floor(pos)), n_in - 1)
        m[i, lo] += 1 - (pos - lo)
        m[i, min(lo + 1, n_in - 1)] += pos - lo
    return (x @ m.T).astype(x.dtype)


def _reflect_pad_ref(x):
    return np.pad(x, ((0, 0), (0, 0), (2, 1)), mode="reflect")


TORCH_CASES: list[OpCase] = [
    # -- bit operations on integers (no gradient) ------------------------------------------
    OpCase("bitwise_and", _ints(lambda a, b: a & b), _ints(np.bitwise_and),
           _with(BINARY_SMALL, "ints"), differentiable=False),
    OpCase("bitwise_or_xor", _ints(lambda a, b: (a | b) ^ (b & 3)),
           _ints(lambda a, b: (a | b) ^ (b & 3)), _with(BINARY_SMALL[1:], "ints"),
           prim="bitwise_or", differentiable=False),
    OpCase("bitwise_xor", _ints(ta.bitwise_xor), _ints(np.bitwise_xor),
           _with(BINARY_SMALL[1:], "ints"), differentiable=False),
    OpCase("bitwise_not", _ints(lambda a: ~a), _ints(np.invert), _with(UNARY[::2], "ints"),
           differentiable=False),
    OpCase("left_shift", _ints(lambda a, b: a << ta.abs(b)), _ints(lambda a, b: a << np.abs(b)),
           _with(BINARY_SMALL[1:], "ints"), differentiable=False),
    OpCase("right_shift", _ints(lambda a, b: (a * 7) >> ta.abs(b)),
           _ints(lambda a, b: (a * 7) >> np.abs(b)), _with(BINARY_SMALL[1:], "ints"),
           differentiable=False),
    # -- singular values and the norms built on them ---------------------------------------------
    OpCase("svdvals", ta.linalg.svdvals, lambda x: np.linalg.svd(x, compute_uv=False),
           (_args((3, 2)), _args((2, 2, 3))), smooth=False),
    OpCase("svd_u", lambda x: ta.functional.bind(PRIMS["svd_u"], x), _svd(0), (_args((3, 2)),),
           differentiable=False),
    OpCase("svd_vh", lambda x: ta.functional.bind(PRIMS["svd_vh"], x), _svd(2), (_args((2, 3)),),
           differentiable=False),
    OpCase("spectral_nuclear_norms",
           lambda x: ta.linalg.norm(x, 2) + ta.linalg.norm(x, -2) * 2 + ta.linalg.norm(x, "nuc") * 3,
           lambda x: np.linalg.norm(x, 2) + np.linalg.norm(x, -2) * 2 + np.linalg.norm(x, "nuc") * 3,
           (_args((3, 2)),), prim="svdvals", smooth=False),
    OpCase("matrix_norm_batched", lambda x: ta.linalg.matrix_norm(x, ord=2, dim=(0, 2)),
           lambda x: np.linalg.norm(np.moveaxis(x, 1, 0), 2, axis=(1, 2)), (_args((3, 2, 4)),),
           prim="svdvals", smooth=False),
    # -- torch_functions composites -------------------------------------------------------------
    OpCase("lerp", lambda a, b: ta.lerp(a, b, 0.3), _lerp_ref, (_args((2, 3), (2, 3)),)),
    OpCase("logaddexp", ta.logaddexp, np.logaddexp, (_args((2, 3), (1, 3)),)),
    OpCase("hypot", ta.hypot, np.hypot, (_args((2, 3), (2, 3), domain="away0"),)),
    OpCase("logcumsumexp", lambda x: ta.logcumsumexp(x, -1), _logcumsumexp_ref, REDUCE[:1]),
    OpCase("kthvalue_median", lambda x: ta.kthvalue(x, 2, dim=1).values + ta.median(x),
           lambda x: np.sort(x, 1)[:, 1] + np.sort(x, None)[(x.size - 1) // 2], (_args((3, 4)),),
           prim="argsort", smooth=False),
    OpCase("diag_diagonal", lambda x: ta.diag(ta.diagonal(x, 1)) + x.trace(),
           lambda x: np.diag(np.diagonal(x, 1)) + np.trace(x), (_args((3, 4)),), prim="getitem"),
    OpCase("unfold_narrow", lambda x: x.unfold(1, 2, 1).sum(-1) + ta.narrow(x, 1, 0, 3),
           lambda x: x[:, :-1] + x[:, 1:] + x[:, :3], (_args((2, 4)),), prim="getitem"),
    OpCase("cat_hstack_unbind", lambda a, b: ta.cat([a, b], dim=1) + ta.hstack(ta.unbind(
           ta.stack([b, a], dim=0))), lambda a, b: np.concatenate([a, b], 1) + np.hstack([b, a]),
           (_args((2, 3), (2, 3)),), prim="concatenate"),
    OpCase("index_add_copy", lambda x, s: ta.index_add(x, 0, np.array([2, 0, 2]), s)
           + ta.index_copy(x, 0, np.array([1, 0, 2]), s),
           lambda x, s: _index_add_copy_ref(x, s), (_args((3, 2), (3, 2)),), prim="index_update"),
    OpCase("kron_cross", lambda a, b: ta.kron(a, b).sum()
           + ta.cross(ta.concatenate([a, b[:, :1]], 1), b[:, :3], dim=1).sum(),
           lambda a, b: np.kron(a, b).sum() + np.cross(np.concatenate([a, b[:, :1]], 1),
                                                       b[:, :3], axis=1).sum(),
           (_args((2, 2), (2, 3)),), prim="mul"),
    OpCase("div_trunc", lambda a, b: ta.div(a, b, rounding_mode="trunc"),
           lambda a, b: np.trunc(a / b), (_args((2, 3), (2, 3), domain="away0"),),
           prim="trunc", smooth=False),
    # -- activations --------------------------------------------------------------------------------
    OpCase("hardswish", F.hardswish, _hardswish, (_args((2, 3)),), smooth=False),
    OpCase("selu_mish", lambda x: F.selu(x) + F.mish(x),
           lambda x: _selu(x) + x * np.tanh(np.logaddexp(x, x.dtype.type(0))), (_args((2, 3)),),
           prim="expm1"),
    OpCase("hardtanh_relu6", lambda x: F.hardtanh(x, -0.5, 0.5) + F.relu6(4 * x),
           lambda x: np.clip(x, -0.5, 0.5) + np.clip(4 * x, 0, 6), (_args((2, 3)),), smooth=False),
    # -- pooling, padding, resizing ------------------------------------------------------------------
    OpCase("max_pool2d", lambda x: F.max_pool2d(x, 2), _max_pool_ref, (_args((1, 2, 4, 5)),),
           prim="window_argmax", smooth=False),
    OpCase("reflect_pad_1d", lambda x: F.pad(x, (2, 1), mode="reflect"), _reflect_pad_ref,
           (_args((1, 2, 4)),), prim="getitem"),
    OpCase("bilinear", lambda x: F.interpolate(x, size=(3, 5), mode="bilinear"),
           lambda x: _bilinear_ref(x, 3, 5), (_args((1, 2, 4, 3)),), prim="matmul"),
    OpCase("conv3d", lambda x, w: F.conv3d(x, w), _conv3d_ref, (_args((1, 2, 3, 3, 4), (2, 2, 2, 2, 2)),),
           prim="im2col"),
    OpCase("avg_pool3d", lambda x: F.avg_pool3d(x, 2, stride=1),
           lambda x: np.mean(np.stack([x[:, :, i:i + 2, j:j + 2, k:k + 2] for i, j, k in
                                       np.ndindex(2, 2, 2)]), 0), (_args((1, 1, 3, 3, 3)),),
           prim="im2col"),
    OpCase("interpolate_linear", lambda x: F.interpolate(x, size=7, mode="linear"),
           lambda x: _linear_1d_ref(x, 7), (_args((1, 2, 4)),), prim="matmul"),
    # -- weighted losses ----------------------------------------------------------------------------
    OpCase("cross_entropy_weighted", lambda z: F.cross_entropy(z, LABELS, weight=CLASS_W),
           _ce_weighted_ref, (_args((3, 4)),), prim="getitem"),
    OpCase("cross_entropy_weighted_smoothed_ignored",
           lambda z: F.cross_entropy(z, LABELS, weight=CLASS_W, label_smoothing=0.2,
                                     ignore_index=0),
           lambda z: _ce_weighted_ref(z, 0.2, 0), (_args((3, 4)),), prim="getitem"),
]


def _index_add_copy_ref(x, s):
    added = x.copy()
    np.add.at(added, np.array([2, 0, 2]), s)
    copied = x.copy()
    copied[np.array([1, 0, 2])] = s
    return added + copied

