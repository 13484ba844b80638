"""`ta.nn.functional` (`F`): activations, layers as functions, convolution, losses.

torch.nn.functional's names, arguments and defaults. All of it is Python
over tracead ops, so it traces and compiles with the rest of a step.
"""
from __future__ import annotations

import math

import numpy as np

from .. import functional as _ops
from .. import lax, state
from ..errors import op_error
from ..padding import pad  # noqa: F401  (torch's F.pad)
from ..tensor import Tensor, as_tensor
from .activation_functional import *  # noqa: F401,F403  (relu6, selu, mish, hardswish, ...)
from .conv_functional import (conv1d, conv2d, conv_transpose1d, conv_transpose2d, fold,  # noqa: F401
                              interpolate, unfold, upsample)
from .volume import avg_pool3d, conv3d, max_pool3d  # noqa: F401
from .pooling import (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_max_pool1d,  # noqa: F401
                      adaptive_max_pool2d, avg_pool1d, avg_pool2d, lp_pool1d, lp_pool2d,
                      max_pool1d, max_pool2d, max_unpool2d)
from .loss import *  # noqa: F401,F403  (cross_entropy, nll_loss, mse_loss, kl_div, ...)

relu, tanh, sigmoid = _ops.relu, _ops.tanh, _ops.sigmoid
softmax, log_softmax = _ops.softmax, _ops.log_softmax


# -- activations ------------------------------------------------------------------------
def gelu(x, approximate: str = "none") -> Tensor:
    """GELU: x * Phi(x) (approximate='none', with erf) or the tanh form (approximate='tanh')."""
    x = as_tensor(x, op="gelu")
    if approximate == "tanh":
        return _ops.gelu(x)
    if approximate != "none":
        raise op_error("gelu", f"approximate must be 'none' or 'tanh', got {approximate!r}", x)
    return 0.5 * x * (1.0 + _ops.erf(x * (1.0 / math.sqrt(2.0))))


def silu(x) -> Tensor:
    """x * sigmoid(x) (swish)."""
    x = as_tensor(x, op="silu")
    return x * _ops.sigmoid(x)


def leaky_relu(x, negative_slope: float = 0.01) -> Tensor:
    x = as_tensor(x, op="leaky_relu")
    return _ops.where(x > 0, x, x * negative_slope)


def elu(x, alpha: float = 1.0) -> Tensor:
    x = as_tensor(x, op="elu")
    # exp of the clamped input: exp(large x) in the unused branch would overflow to inf * 0 = nan gradients.
    return _ops.where(x > 0, x, alpha * (_ops.exp(_ops.minimum(x, 0.0)) - 1.0))


def softplus(x, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (as torch)."""
    x = as_tensor(x, op="softplus")
    z = x * beta
    smooth = (_ops.log(1.0 + _ops.exp(-_ops.abs(z))) + _ops.maximum(z, 0.0)) / beta
    return _ops.where(z > threshold, x, smooth)


# -- layers as functions -------------------------------------------------------------------
def linear(x, weight, bias=None) -> Tensor:
    """x @ weight.T + bias with torch's (out, in) weight layout."""
    y = _ops.matmul(x, _ops.transpose(as_tensor(weight, op="linear")))
    return y if bias is None else y + bias


def embedding(indices, weight) -> Tensor:
    """Rows of `weight` (num, dim) picked by integer `indices` of any shape."""
    weight = as_tensor(weight, op="embedding")
    idx = indices if isinstance(indices, Tensor) else np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise op_error("embedding", f"indices must be integers, got {idx.dtype}", weight, idx,
                       type_error=True)
    if not isinstance(idx, Tensor) and idx.size and (idx.min() < 0 or idx.max() >= weight.shape[0]):
        raise op_error("embedding", f"index out of range for {weight.shape[0]} embeddings",
                       weight, idx, index_error=True)
    return weight[idx]


_DEFAULT_KEY = Tensor(np.uint64(0))


def manual_seed(seed: int) -> None:
    """Reset the key `dropout` uses when it is not given one."""
    _DEFAULT_KEY.assign_(np.uint64(seed))


def next_key(key: Tensor | None = None) -> Tensor:
    """The current value of `key` (default: the module key), advancing it by one.

    The key is a Tensor created outside any compiled function, so a compiled
    step reads it by reference and replays the increment: every call draws
    new numbers, reproducibly, in eager and compiled runs alike.
    """
    key = _DEFAULT_KEY if key is None else key
    current = _ops.stop_gradient(key) * 1  # a value, not the mutable tensor itself
    with state.no_grad():
        key.assign_(key + np.uint64(1))
    return current


def uniform(key, shape, dtype=np.float32) -> Tensor:
    """U[0, 1) numbers of `shape`, a pure function of the integer `key` (see ops/random.py)."""
    return lax.uniform(as_tensor(key), shape, dtype)


def dropout(x, p: float = 0.5, training: bool = True, key: Tensor | None = None) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p) when training.

    The mask comes from `uniform(key)`, where `key` is an integer Tensor that
    this call advances (default: a module-wide key, see `manual_seed`). No
    hidden state: the same key gives the same mask eagerly and compiled.
    """
    x = as_tensor(x, op="dropout")
    if not 0.0 <= p <= 1.0:
        raise op_error("dropout", f"p must be in [0, 1], got {p}", x)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    noise = uniform(next_key(key), x.shape, x.dtype if x.dtype.kind == "f" else np.float32)
    return _ops.where(noise >= p, x * (1.0 / (1.0 - p)), _ops.zeros_like(x))


def layer_norm(x, normalized_shape, weight=None, bias=None, eps: float = 1e-5) -> Tensor:
    """Normalise over the trailing `normalized_shape` axes (biased variance, as torch)."""
    x = as_tensor(x, op="layer_norm")
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if x.shape[x.ndim - len(shape):] != shape:
        raise op_error("layer_norm", f"input shape {x.shape} does not end in {shape}", x)
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    centred = x - _ops.mean(x, axes, keepdims=True)
    var = _ops.mean(centred * centred, axes, keepdims=True)
    y = centred / _ops.sqrt(var + eps)
    if weight is not None:
        y = y * weight
    return y if bias is None else y + bias


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalisation over every axis but the channel axis 1 (N, C[, ...]).

    Training: normalise with the batch statistics and update the running ones
    in place (`assign_`, so a compiled step replays the update; the running
    variance is the unbiased one, as torch). Eval: use the running statistics.
    """
    x = as_tensor(x, op="batch_norm")
    if x.ndim < 2:
        raise op_error("batch_norm", f"expects (N, C[, ...]) input, got shape {x.shape}", x)
    c = x.shape[1]
    axes = (0,) + tuple(range(2, x.ndim))
    bshape = (1, c) + (1,) * (x.ndim - 2)
    if training:
        count = x.size // c
        if count <= 1:
            raise op_error("batch_norm", f"expected more than 1 value per channel when training, "
                           f"got input of shape {x.shape}", x)
        mean = _ops.mean(x, axes, keepdims=True)
        centred = x - mean
        var = _ops.mean(centred * centred, axes, keepdims=True)
        if running_mean is not None:
            with state.no_grad():
                m = _ops.reshape(_ops.stop_gradient(mean), (c,))
                v = _ops.reshape(_ops.stop_gradient(var), (c,)) * (count / (count - 1))
                running_mean.assign_((1.0 - momentum) * running_mean + momentum * m)
                running_var.assign_((1.0 - momentum) * running_var + momentum * v)
        y = centred / _ops.sqrt(var + eps)
    else:
        if running_mean is None:
            raise op_error("batch_norm", "eval mode needs running statistics", x)
        y = (x - _ops.reshape(running_mean, bshape)) / _ops.sqrt(_ops.reshape(running_var, bshape) + eps)
    if weight is not None:
        y = y * _ops.reshape(weight, bshape)
    return y if bias is None else y + _ops.reshape(bias, bshape)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 dropout_key: Tensor | None = None) -> Tensor:
    """softmax(Q K^T * scale + mask) V over the last two axes (..., L, E), as torch.

    attn_mask: a bool mask (True = attend) or an additive float mask,
    broadcastable to (..., L, S). is_causal: position i attends to j <= i.
    scale defaults to 1/sqrt(E).
    """
    q, k, v = (as_tensor(t, op="scaled_dot_product_attention") for t in (query, key, value))
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise op_error("scaled_dot_product_attention", "query/key feature sizes or key/value "
                       "lengths differ", q, k, v)
    if is_causal and attn_mask is not None:
        raise op_error("scaled_dot_product_attention", "give attn_mask or is_causal, not both", q)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    scores = _ops.matmul(q, _ops.swapaxes(k, -1, -2)) * scale
    L, S = q.shape[-2], k.shape[-2]
    if is_causal:
        attn_mask = np.tril(np.ones((L, S), bool))
    if attn_mask is not None:
        mask = attn_mask if isinstance(attn_mask, Tensor) else np.asarray(attn_mask)
        if mask.dtype == np.bool_:
            scores = _ops.where(mask, scores, np.asarray(-np.inf, scores.dtype))
        else:
            scores = scores + mask
    weights = _ops.softmax(scores, axis=-1)
    if dropout_p:
        weights = dropout(weights, dropout_p, True, dropout_key)
    return _ops.matmul(weights, v)
