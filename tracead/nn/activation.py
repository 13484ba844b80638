"""Activation modules: parameter-free wrappers of `nn.functional` (torch names)."""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from . import functional as F
from .module import Module

__all__ = ["ReLU", "GELU", "Tanh", "Sigmoid", "SiLU", "LeakyReLU", "ELU", "Softplus", "Softmax",
           "LogSoftmax", "Identity", "ACTIVATIONS", "ReLU6", "Hardtanh", "Hardsigmoid",
           "Hardswish", "CELU", "SELU", "Mish", "Softsign", "LogSigmoid", "Tanhshrink",
           "Softshrink", "Hardshrink", "Threshold", "Softmin", "GLU", "PReLU"]


class ReLU(Module):
    def forward(self, x):
        return F.relu(x)


class GELU(Module):
    """GELU; approximate='none' (erf, torch's default) or 'tanh'."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Tanh(Module):
    def forward(self, x):
        return F.tanh(x)


class Sigmoid(Module):
    def forward(self, x):
        return F.sigmoid(x)


class SiLU(Module):
    def forward(self, x):
        return F.silu(x)


class LeakyReLU(Module):
    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class ELU(Module):
    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        self.alpha = float(alpha)

    def forward(self, x):
        return F.elu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class Softplus(Module):
    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta, self.threshold = float(beta), float(threshold)

    def forward(self, x):
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Softmax(Module):
    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return F.softmax(x, axis=self.dim)


class LogSoftmax(Softmax):
    def forward(self, x):
        return F.log_softmax(x, axis=self.dim)


class Identity(Module):
    def forward(self, x):
        return x


def _activation(name: str, fn, *params: tuple[str, float]):
    """A module class calling `fn(x, *params)`, with torch's constructor arguments."""
    def __init__(self, *args, **kwargs) -> None:
        Module.__init__(self)
        values = dict(params)
        for (key, _), value in zip(params, args):
            values[key] = value
        for key, value in kwargs.items():
            if key not in values:
                raise TypeError(f"{name}() got an unexpected keyword argument {key!r}")
            values[key] = value
        for key, value in values.items():
            setattr(self, key, value)

    def forward(self, x):
        return fn(x, *(getattr(self, key) for key, _ in params))

    def extra_repr(self) -> str:
        return ", ".join(f"{key}={getattr(self, key)!r}" for key, _ in params)
    return type(name, (Module,), {"__init__": __init__, "forward": forward,
                                  "extra_repr": extra_repr, "__doc__": f"torch.nn.{name}."})


ReLU6 = _activation("ReLU6", F.relu6)
Hardtanh = _activation("Hardtanh", F.hardtanh, ("min_val", -1.0), ("max_val", 1.0))
Hardsigmoid = _activation("Hardsigmoid", F.hardsigmoid)
Hardswish = _activation("Hardswish", F.hardswish)
CELU = _activation("CELU", F.celu, ("alpha", 1.0))
SELU = _activation("SELU", F.selu)
Mish = _activation("Mish", F.mish)
Softsign = _activation("Softsign", F.softsign)
LogSigmoid = _activation("LogSigmoid", F.logsigmoid)
Tanhshrink = _activation("Tanhshrink", F.tanhshrink)
Softshrink = _activation("Softshrink", F.softshrink, ("lambd", 0.5))
Hardshrink = _activation("Hardshrink", F.hardshrink, ("lambd", 0.5))
Threshold = _activation("Threshold", F.threshold, ("threshold", 0.0), ("value", 0.0))
Softmin = _activation("Softmin", F.softmin, ("dim", None))
GLU = _activation("GLU", F.glu, ("dim", -1))


class PReLU(Module):
    """max(0, x) + a * min(0, x) with a learned slope per channel (`num_parameters`)."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25, dtype=np.float32) -> None:
        super().__init__()
        self.weight = Tensor(np.full(num_parameters, init, dtype), requires_grad=True)

    def forward(self, x):
        return F.prelu(x, self.weight)


# Activation names MLP accepts (lower case).
ACTIVATIONS = {"relu": F.relu, "tanh": F.tanh, "sigmoid": F.sigmoid,
               "gelu": lambda x: F.gelu(x, approximate="tanh"), "silu": F.silu}
