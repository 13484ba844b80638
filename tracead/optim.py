"""`ta.optim`: SGD, Adam, AdamW, RMSprop, `clip_grad_norm_` and LR schedules.

`step()` is written with tracead ops under `no_grad` and writes results with
`Tensor.assign_`, never by poking at storage. That keeps it traceable: called
inside a `ta.compile`d training step, the update becomes part of the graph
and fuses with the rest. For the same reason every value that changes
between steps lives in a Tensor, not a Python number: the step counter
(Adam's bias correction) and the learning rate. A Python float read inside a
trace is baked in as a constant, so `opt.lr = 0.01` after compiling would
otherwise be silently ignored; assigning to the lr Tensor is a new input
value and the compiled step sees it (the schedules in `lr_scheduler` rely
on this: they never cause a recompile).

The update formulas are torch's (`torch.optim`, default arguments alike).
"""
from __future__ import annotations

import numpy as np

from . import functional as F
from .state import no_grad
from .tensor import Tensor

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "clip_grad_norm_", "lr_scheduler",
           "StepLR", "CosineAnnealingLR"]


class Optimizer:
    def __init__(self, params, lr: float) -> None:
        if hasattr(params, "parameters") and callable(params.parameters):
            params = params.parameters()  # a Module is accepted too
        self.params: list[Tensor] = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        for i, p in enumerate(self.params):
            if not isinstance(p, Tensor) or not p.requires_grad:
                raise TypeError(f"{type(self).__name__}: parameter {i} is not a Tensor with requires_grad=True")
        if lr < 0:
            raise ValueError(f"{type(self).__name__}: lr must be >= 0, got {lr}")
        self._lr = Tensor(np.float64(lr))

    @property
    def lr(self) -> float:
        return float(self._lr._data)  # host-side read; a step never calls this

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr.assign_(np.float64(value))

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        raise NotImplementedError

    def _zeros(self) -> list[Tensor]:
        return [Tensor(np.zeros(p.shape, p.dtype)) for p in self.params]

    def _l2_grads(self):
        """(index, parameter, gradient + weight_decay * parameter) for each parameter that has a
        gradient (L2 regularisation folded into the gradient, as torch's SGD and RMSprop do)."""
        for i, p in enumerate(self.params):
            g = p.grad
            if g is None:
                continue
            yield i, p, (g + self.weight_decay * p if self.weight_decay else g)

    @staticmethod
    def _check(name: str, value: float, low: float = 0.0, high: float | None = None) -> float:
        value = float(value)
        if value < low or (high is not None and value >= high):
            bounds = f"in [{low}, {high})" if high is not None else f">= {low}"
            raise ValueError(f"{name} must be {bounds}, got {value}")
        return value

    @staticmethod
    def _scalar_as(value: Tensor, dtype, cache: dict) -> Tensor:
        """A float64 scalar state cast once per parameter dtype (no float64 upcasts)."""
        key = (id(value), np.dtype(dtype).str)
        if key not in cache:
            cache[key] = F.cast(value, dtype)
        return cache[key]


class SGD(Optimizer):
    """torch.optim.SGD: g += wd p; buf = momentum buf + (1 - dampening) g (buf = g at the
    first step); g = g + momentum buf (nesterov) or buf; p -= lr g.

    With momentum=0 it is plain gradient descent and keeps no state.
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False) -> None:
        super().__init__(params, lr)
        self.momentum = self._check("SGD: momentum", momentum)
        self.dampening = float(dampening)
        self.weight_decay = self._check("SGD: weight_decay", weight_decay)
        if nesterov and (self.momentum == 0 or self.dampening != 0):
            raise ValueError("SGD: nesterov needs momentum > 0 and dampening 0")
        self.nesterov = bool(nesterov)
        self.buffers = self._zeros() if self.momentum else None
        # Only dampening needs to know the first step (buf = g, not (1 - d) g).
        self.t = Tensor(np.float64(0)) if self.momentum and self.dampening else None

    def step(self) -> None:
        cache: dict = {}
        with no_grad():
            first = None
            if self.t is not None:
                first = F.eq(self.t.assign_(self.t + 1.0), 1.0)
            for i, p, g in self._l2_grads():
                lr = self._scalar_as(self._lr, p.dtype, cache)
                if self.buffers is not None:
                    buf = self.buffers[i]
                    new = self.momentum * buf + (1.0 - self.dampening) * g
                    if first is not None:
                        new = F.where(first, g, new)
                    buf = buf.assign_(new)
                    g = g + self.momentum * buf if self.nesterov else buf
                p.assign_(p - lr * g)


class Adam(Optimizer):
    """Adam (Kingma & Ba), bias-corrected, as torch.optim.Adam:

    g += wd p (L2 penalty; AdamW decouples it instead)
    m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
    p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
    """

    decoupled = False

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr)
        b1, b2 = (float(b) for b in betas)
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ValueError(f"{type(self).__name__}: betas must be in [0, 1), got {betas}")
        self.betas, self.eps = (b1, b2), float(eps)
        self.weight_decay = self._check(f"{type(self).__name__}: weight_decay", weight_decay)
        self.m = self._zeros()
        self.v = self._zeros()
        self.t = Tensor(np.float64(0))  # a Tensor so a compiled step counts too

    def step(self) -> None:
        b1, b2 = self.betas
        cache: dict = {}
        with no_grad():
            t = self.t.assign_(self.t + 1.0)
            # Bias corrections in float64 once, then one cast per dtype.
            c1 = 1.0 - F.pow(np.float64(b1), t)
            c2 = 1.0 - F.pow(np.float64(b2), t)
            step_size = self._lr / c1
            for i, p in enumerate(self.params):
                g = p.grad
                if g is None:
                    continue
                if self.weight_decay and self.decoupled:
                    lr = self._scalar_as(self._lr, p.dtype, cache)
                    p = p.assign_(p * (1.0 - lr * self.weight_decay))
                elif self.weight_decay:
                    g = g + self.weight_decay * p
                m = self.m[i].assign_(b1 * self.m[i] + (1.0 - b1) * g)
                v = self.v[i].assign_(b2 * self.v[i] + (1.0 - b2) * (g * g))
                lr_t = self._scalar_as(step_size, p.dtype, cache)
                c2_t = self._scalar_as(c2, p.dtype, cache)
                p.assign_(p - lr_t * m / (F.sqrt(v / c2_t) + self.eps))


class AdamW(Adam):
    """Adam with decoupled weight decay (torch.optim.AdamW): p *= 1 - lr wd before the Adam step."""

    decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.01) -> None:
        super().__init__(params, lr, betas, eps, weight_decay)


class RMSprop(Optimizer):
    """torch.optim.RMSprop: sq = a sq + (1-a) g^2; avg = sqrt(sq [- mean_g^2]) + eps;
    p -= lr g / avg (or through a momentum buffer)."""

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False) -> None:
        super().__init__(params, lr)
        self.alpha = self._check("RMSprop: alpha", alpha)
        self.eps = float(eps)
        self.weight_decay = self._check("RMSprop: weight_decay", weight_decay)
        self.momentum = self._check("RMSprop: momentum", momentum)
        self.centered = bool(centered)
        self.square_avg = self._zeros()
        self.grad_avg = self._zeros() if centered else None
        self.buffers = self._zeros() if self.momentum else None

    def step(self) -> None:
        a = self.alpha
        cache: dict = {}
        with no_grad():
            for i, p, g in self._l2_grads():
                sq = self.square_avg[i].assign_(a * self.square_avg[i] + (1.0 - a) * (g * g))
                if self.centered:
                    ga = self.grad_avg[i].assign_(a * self.grad_avg[i] + (1.0 - a) * g)
                    avg = F.sqrt(sq - ga * ga) + self.eps
                else:
                    avg = F.sqrt(sq) + self.eps
                lr = self._scalar_as(self._lr, p.dtype, cache)
                if self.buffers is not None:
                    buf = self.buffers[i].assign_(self.momentum * self.buffers[i] + g / avg)
                    p.assign_(p - lr * buf)
                else:
                    p.assign_(p - lr * g / avg)


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0) -> Tensor:
    """Scale the gradients in place so their joint norm is at most `max_norm` (torch's formula).

    Returns the total norm before clipping. The scale min(1, max_norm /
    (norm + 1e-6)) is a tensor, so it traces: no host read, no guard.
    """
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    elif hasattr(parameters, "parameters") and callable(parameters.parameters):
        parameters = parameters.parameters()
    params = [p for p in parameters if p.grad is not None]
    if not params:
        return Tensor(np.float64(0.0))
    norm_type = float(norm_type)
    with no_grad():
        grads = [p.grad for p in params]
        dtype = np.result_type(*(g.dtype for g in grads))
        if norm_type == np.inf:
            total = F.max(F.stack([F.cast(F.max(F.abs(g)), dtype) for g in grads]))
        else:
            parts = [F.cast(F.sum(F.abs(g) ** norm_type), dtype) for g in grads]
            total = F.sum(F.stack(parts)) ** (1.0 / norm_type)
        scale = F.minimum(max_norm / (total + 1e-6), 1.0)
        for p in params:
            p.grad = p.grad * F.cast(scale, p.grad.dtype)
    return total


from . import lr_scheduler  # noqa: E402  (schedules need Optimizer above)
from .lr_scheduler import CosineAnnealingLR, StepLR  # noqa: E402
