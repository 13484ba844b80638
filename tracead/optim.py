"""`ta.optim`: SGD (with momentum) and Adam.

`step()` is written with tracead ops under `no_grad` and writes results with
`Tensor.assign_`, never by poking at storage. That keeps it traceable: called
inside a `ta.compile`d training step, the update becomes part of the graph
and fuses with the rest. For the same reason every value that changes
between steps lives in a Tensor, not a Python number: the step counter
(Adam's bias correction) and the learning rate. A Python float read inside a
trace is baked in as a constant, so `opt.lr = 0.01` after compiling would
otherwise be silently ignored; assigning to the lr Tensor is a new input
value and the compiled step sees it.
"""
from __future__ import annotations

import numpy as np

from . import functional as F
from .state import no_grad
from .tensor import Tensor

__all__ = ["Optimizer", "SGD", "Adam"]


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

    @staticmethod
    def _scalar_as(value: Tensor, dtype, cache: dict) -> Tensor:
        """A float64 scalar state cast once per parameter dtype (no float64 upcasts)."""
        key = (id(value), np.dtype(dtype).str)
        if key not in cache:
            cache[key] = F.cast(value, dtype)
        return cache[key]


class SGD(Optimizer):
    """p -= lr * buf, buf = momentum * buf + grad (torch's form; buf starts at 0).

    With momentum=0 it is plain gradient descent and keeps no state.
    """

    def __init__(self, params, lr: float, momentum: float = 0.0) -> None:
        super().__init__(params, lr)
        if momentum < 0:
            raise ValueError(f"SGD: momentum must be >= 0, got {momentum}")
        self.momentum = float(momentum)
        self.buffers = ([Tensor(np.zeros(p.shape, p.dtype)) for p in self.params]
                        if self.momentum else None)

    def step(self) -> None:
        cache: dict = {}
        with no_grad():
            for i, p in enumerate(self.params):
                g = p.grad
                if g is None:
                    continue
                lr = self._scalar_as(self._lr, p.dtype, cache)
                if self.buffers is not None:
                    buf = self.buffers[i]
                    g = buf.assign_(self.momentum * buf + g)
                p.assign_(p - lr * g)


class Adam(Optimizer):
    """Adam (Kingma & Ba), bias-corrected:

    m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
    p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        super().__init__(params, lr)
        b1, b2 = (float(b) for b in betas)
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ValueError(f"Adam: betas must be in [0, 1), got {betas}")
        self.betas, self.eps = (b1, b2), float(eps)
        self.m = [Tensor(np.zeros(p.shape, p.dtype)) for p in self.params]
        self.v = [Tensor(np.zeros(p.shape, p.dtype)) for p in self.params]
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
                m = self.m[i].assign_(b1 * self.m[i] + (1.0 - b1) * g)
                v = self.v[i].assign_(b2 * self.v[i] + (1.0 - b2) * (g * g))
                lr_t = self._scalar_as(step_size, p.dtype, cache)
                c2_t = self._scalar_as(c2, p.dtype, cache)
                p.assign_(p - lr_t * m / (F.sqrt(v / c2_t) + self.eps))
