"""LayerNorm and BatchNorm1d / BatchNorm2d (torch names, defaults and semantics)."""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from . import functional as F
from .layers import layer_error
from .module import Module

__all__ = ["LayerNorm", "BatchNorm1d", "BatchNorm2d"]


class LayerNorm(Module):
    """Normalise over the trailing `normalized_shape`; weight 1 and bias 0 to start."""

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, dtype=np.float32) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps = tuple(int(s) for s in shape), float(eps)
        self.weight = Tensor(np.ones(shape, dtype), requires_grad=True) if elementwise_affine else None
        self.bias = (Tensor(np.zeros(shape, dtype), requires_grad=True)
                     if elementwise_affine and bias else None)

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}"


class _BatchNorm(Module):
    """Running statistics are buffers updated with `assign_` in training mode.

    A compiled training step replays those writes, so `running_mean` /
    `running_var` / `num_batches_tracked` advance exactly as eagerly.
    momentum=None is the cumulative average (1 / num_batches_tracked), as torch.
    """

    ndims: tuple[int, ...] = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, dtype=np.float32) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = int(num_features), float(eps), momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        c = self.num_features
        self.weight = Tensor(np.ones(c, dtype), requires_grad=True) if affine else None
        self.bias = Tensor(np.zeros(c, dtype), requires_grad=True) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(c, dtype)))
            self.register_buffer("running_var", Tensor(np.ones(c, dtype)))
            self.register_buffer("num_batches_tracked", Tensor(np.int64(0)))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def forward(self, x):
        x = F.as_tensor(x)
        if x.ndim not in self.ndims or x.shape[1] != self.num_features:
            raise layer_error(self, f"expects {' or '.join(f'{d}-d' for d in self.ndims)} input "
                              f"with {self.num_features} channels on axis 1", x)
        training = self.is_training() or not self.track_running_stats
        momentum = self.momentum
        if training and self.track_running_stats:
            with F.state.no_grad():
                n = self.num_batches_tracked.assign_(self.num_batches_tracked + 1)
            if momentum is None:
                momentum = 1.0 / F._ops.cast(n, x.dtype)
        return F.batch_norm(x, self.running_mean if self.track_running_stats else None,
                            self.running_var, self.weight, self.bias, training,
                            0.0 if momentum is None else momentum, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class BatchNorm1d(_BatchNorm):
    """Over (N, C) or (N, C, L) inputs."""

    ndims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Over (N, C, H, W) inputs."""

    ndims = (4,)
