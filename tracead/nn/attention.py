"""MultiheadAttention (torch's layout, batch_first option and causal masking)."""
from __future__ import annotations

import math

import numpy as np

from .. import functional as ops
from ..tensor import Tensor, as_tensor
from . import functional as F
from .layers import Linear, layer_error, rng_from
from .module import Module

__all__ = ["MultiheadAttention"]


class MultiheadAttention(Module):
    """Multi-head attention: packed Q/K/V projection, per-head softmax(QK^T/sqrt(d))V, output Linear.

    in_proj_weight is (3E, E) Glorot-uniform and in_proj_bias zero, as torch;
    out_proj is an `nn.Linear` (tracead's (in, out) weight layout). forward
    returns (output, weights averaged over heads or None), like torch.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 batch_first: bool = False, dtype=np.float32,
                 rng: np.random.Generator | None = None, seed: int | None = None) -> None:
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim {embed_dim} is not divisible by "
                             f"num_heads {num_heads}")
        self.embed_dim, self.num_heads = int(embed_dim), int(num_heads)
        self.head_dim, self.dropout, self.batch_first = embed_dim // num_heads, float(dropout), batch_first
        rng = rng_from(rng, seed)
        bound = math.sqrt(6.0 / (embed_dim + 3 * embed_dim))
        self.in_proj_weight = Tensor(rng.uniform(-bound, bound, (3 * embed_dim, embed_dim))
                                     .astype(dtype), requires_grad=True)
        self.in_proj_bias = (Tensor(np.zeros(3 * embed_dim, dtype), requires_grad=True)
                             if bias else None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dtype, rng=rng, init="glorot")
        if bias:
            self.out_proj.bias.assign_(np.zeros(embed_dim, dtype))
        # RNG state, not model state (not in state_dict, as torch's generator is not).
        self.dropout_key = Tensor(np.uint64(rng.integers(0, 2 ** 63)))

    def _heads(self, x: Tensor, which: int) -> Tensor:
        """(B, L, E) -> (B, heads, L, head_dim) projection number `which` of Q, K, V."""
        e = self.embed_dim
        w = self.in_proj_weight[which * e:(which + 1) * e]
        y = ops.matmul(x, ops.transpose(w))
        if self.in_proj_bias is not None:
            y = y + self.in_proj_bias[which * e:(which + 1) * e]
        b, n = x.shape[:2]
        return ops.transpose(ops.reshape(y, (b, n, self.num_heads, self.head_dim)), (0, 2, 1, 3))

    def forward(self, query, key, value, key_padding_mask=None, need_weights: bool = True,
                attn_mask=None, average_attn_weights: bool = True, is_causal: bool = False):
        q, k, v = (as_tensor(t) for t in (query, key, value))
        if q.ndim != 3 or q.shape[-1] != self.embed_dim:
            raise layer_error(self, f"expects (batch, seq, {self.embed_dim}) inputs "
                              f"(batch_first={self.batch_first})", q)
        if not self.batch_first:  # (L, B, E) -> (B, L, E)
            q, k, v = (ops.transpose(t, (1, 0, 2)) for t in (q, k, v))
        qh, kh, vh = self._heads(q, 0), self._heads(k, 1), self._heads(v, 2)
        L, S = q.shape[1], k.shape[1]
        scores = ops.matmul(qh, ops.swapaxes(kh, -1, -2)) * (1.0 / math.sqrt(self.head_dim))
        if is_causal and attn_mask is None:
            attn_mask = ~np.tril(np.ones((L, S), bool))
        if attn_mask is not None:  # torch: True = masked out; float = added
            mask = attn_mask if isinstance(attn_mask, Tensor) else np.asarray(attn_mask)
            if mask.dtype == np.bool_:
                scores = ops.where(mask, np.asarray(-np.inf, scores.dtype), scores)
            else:
                scores = scores + mask
        if key_padding_mask is not None:  # (B, S), True = padding
            pad = np.asarray(key_padding_mask, bool)[:, None, None, :]
            scores = ops.where(pad, np.asarray(-np.inf, scores.dtype), scores)
        weights = ops.softmax(scores, axis=-1)
        if self.dropout and self.is_training():
            weights = F.dropout(weights, self.dropout, True, key=self.dropout_key)
        out = ops.matmul(weights, vh)                                    # (B, H, L, d)
        out = ops.reshape(ops.transpose(out, (0, 2, 1, 3)), (q.shape[0], L, self.embed_dim))
        out = self.out_proj(out)
        if not self.batch_first:
            out = ops.transpose(out, (1, 0, 2))
        if not need_weights:
            return out, None
        return out, (ops.mean(weights, axis=1) if average_attn_weights else weights)

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, batch_first={self.batch_first}"
