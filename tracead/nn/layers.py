"""Linear, Embedding, Dropout, Flatten and the MLP."""
from __future__ import annotations

import math

import numpy as np

from .. import functional as ops
from ..errors import OpError, OpTypeError, describe, user_source
from ..tensor import Tensor, as_tensor
from . import functional as F
from .activation import ACTIVATIONS
from .module import Module, Sequential

__all__ = ["Linear", "Embedding", "Dropout", "Flatten", "MLP", "rng_from"]


def rng_from(rng=None, seed=None) -> np.random.Generator:
    """A generator from `rng` (a Generator) or `seed` (an int or None)."""
    if rng is not None:
        return rng
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def layer_error(layer: Module, message: str, *avals, type_error: bool = False):
    where = user_source(2)
    cls = OpTypeError if type_error else OpError
    return cls(f"{type(layer).__name__}({layer.extra_repr()}): {message} (inputs: "
               f"{describe(*avals)})" + (f" at {where}" if where else ""))


class Linear(Module):
    """y = x @ W + b, with W of shape (in_features, out_features).

    init="kaiming" (He uniform, bound sqrt(6 / fan_in), suited to ReLU) or
    "glorot" (bound sqrt(6 / (fan_in + fan_out))); the bias starts at zero.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=np.float32,
                 rng: np.random.Generator | None = None, seed: int | None = None,
                 init: str = "kaiming") -> None:
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        dtype = np.dtype(dtype)
        if init == "kaiming":
            bound = math.sqrt(6.0 / self.in_features)
        elif init == "glorot":
            bound = math.sqrt(6.0 / (self.in_features + self.out_features))
        else:
            raise ValueError(f"Linear: unknown init {init!r}; choose 'kaiming' or 'glorot'")
        w = rng_from(rng, seed).uniform(-bound, bound, size=(self.in_features, self.out_features))
        self.weight = Tensor(w.astype(dtype), requires_grad=True)
        self.bias = Tensor(np.zeros(self.out_features, dtype), requires_grad=True) if bias else None

    def forward(self, x):
        x = as_tensor(x)
        # As torch: no silent promotion. An int64 batch would otherwise turn
        # a float32 layer's outputs (and the whole model downstream) float64.
        if x.dtype != self.weight.dtype:
            raise layer_error(self, f"input has dtype {x.dtype} but the weight is "
                              f"{self.weight.dtype}; convert the input with "
                              f".astype(np.{self.weight.dtype})", x, type_error=True)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise layer_error(self, f"input of shape {x.shape} does not end in "
                              f"in_features={self.in_features}", x)
        y = ops.matmul(x, self.weight)
        return y + self.bias if self.bias is not None else y

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Embedding(Module):
    """A (num_embeddings, embedding_dim) table, N(0, 1) initialised as torch; forward picks rows."""

    def __init__(self, num_embeddings: int, embedding_dim: int, dtype=np.float32,
                 rng: np.random.Generator | None = None, seed: int | None = None) -> None:
        super().__init__()
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        w = rng_from(rng, seed).standard_normal((self.num_embeddings, self.embedding_dim))
        self.weight = Tensor(w.astype(dtype), requires_grad=True)

    def forward(self, indices):
        return F.embedding(indices, self.weight)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"


class Dropout(Module):
    """Zeroes elements with probability p in training mode (scaling the rest by 1/(1-p)).

    Randomness is explicit: the module owns an integer key Tensor (from
    `seed`, an int or a Generator; None draws one from the OS) and each call
    draws `F.uniform(key)` and advances the key with `assign_`. A compiled
    step reads the key as an input and replays the increment, so masks are
    fresh at every step, identical to an eager run from the same seed, and
    never baked into the graph. In eval mode it is the identity.
    """

    def __init__(self, p: float = 0.5, seed=None) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = float(p)
        key = rng_from(seed=seed).integers(0, 2 ** 63, dtype=np.uint64)
        # RNG state, not model state: not in state_dict (torch's generator is not either).
        self.key = Tensor(np.uint64(key))

    def forward(self, x):
        return F.dropout(x, self.p, self.is_training(), key=self.key)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Flatten(Module):
    """Flattens axes start_dim..end_dim into one (default: all but the batch axis)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)

    def forward(self, x):
        x = as_tensor(x)
        start = self.start_dim % max(x.ndim, 1)
        end = self.end_dim % max(x.ndim, 1)
        return ops.reshape(x, x.shape[:start] + (-1,) + x.shape[end + 1:])

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class _Fn(Module):
    """A parameter-free module around a named activation (for MLP)."""

    def __init__(self, name: str) -> None:
        super().__init__()
        if name not in ACTIVATIONS:
            raise ValueError(f"unknown activation {name!r}; choose from {sorted(ACTIVATIONS)}")
        self.name = name

    def forward(self, x):
        return ACTIVATIONS[self.name](x)

    def extra_repr(self) -> str:
        return self.name


class MLP(Module):
    """Linear layers of the given sizes with an activation between them (not after the last)."""

    def __init__(self, sizes, activation: str = "relu", bias: bool = True, dtype=np.float32,
                 rng: np.random.Generator | None = None, seed: int | None = None,
                 init: str = "kaiming") -> None:
        super().__init__()
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2:
            raise ValueError(f"MLP needs at least an input and an output size, got {sizes}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose from {sorted(ACTIVATIONS)}")
        rng = rng_from(rng, seed)
        layers: list[Module] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(Linear(a, b, bias=bias, dtype=dtype, rng=rng, init=init))
            if i < len(sizes) - 2:
                layers.append(_Fn(activation))
        self.sizes = sizes
        self.layers = Sequential(*layers)

    def forward(self, x):
        return self.layers(x)
