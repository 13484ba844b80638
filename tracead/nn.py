"""`ta.nn`: modules, layers and losses for training with tracead.

Everything here is plain Python over tracead ops, so a forward pass (and the
loss) traces and compiles like any other user code. A `Module` registers, in
assignment order, every attribute that is a Tensor with `requires_grad=True`
(a parameter), a `Module` (a child) or a list/tuple of Modules (wrapped in a
`ModuleList`), as torch.nn.Module does.
"""
from __future__ import annotations

import math
from typing import Iterator

import numpy as np

from . import functional as F
from .errors import OpError, OpTypeError, describe, op_error, user_source
from .tensor import Tensor, as_tensor

__all__ = ["Module", "ModuleList", "Sequential", "Linear", "ReLU", "MLP", "functional_call",
           "mse_loss", "cross_entropy", "one_hot", "ACTIVATIONS"]


class Module:
    """Base class: parameters and children found by attribute assignment."""

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})

    def __setattr__(self, name: str, value) -> None:
        if "_parameters" not in self.__dict__:
            # A subclass forgot super().__init__(); registering needs the dicts.
            Module.__init__(self)
        params, modules = self._parameters, self._modules
        params.pop(name, None)
        modules.pop(name, None)
        if isinstance(value, (list, tuple)) and value and all(isinstance(m, Module) for m in value):
            value = ModuleList(value)
        if isinstance(value, Tensor) and value.requires_grad:
            params[name] = value
        elif isinstance(value, Module):
            modules[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        object.__delattr__(self, name)

    # -- traversal -------------------------------------------------------------
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def children(self) -> Iterator["Module"]:
        return iter(self._modules.values())

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        """(dotted name, parameter) pairs; a shared parameter appears once."""
        seen: set[int] = set()
        for mod_name, module in self.named_modules(prefix):
            for name, p in module._parameters.items():
                if id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self) -> list[Tensor]:
        return [p for _, p in self.named_parameters()]

    def param_dict(self) -> dict[str, Tensor]:
        """{dotted name: parameter}: the parameters as a pytree for `ta.grad`.

        The values are the parameter tensors themselves (not copies); pass the
        dict, or an updated one, to `functional_call`.
        """
        return dict(self.named_parameters())

    def zero_grad(self) -> None:
        """Reset every parameter's gradient to None (as torch's set_to_none)."""
        for p in self.parameters():
            p.grad = None

    # -- state -----------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of the parameter values by name."""
        return {name: p.numpy() for name, p in self.named_parameters()}

    def load_state_dict(self, values: dict) -> None:
        params = dict(self.named_parameters())
        missing = set(params) - set(values)
        unexpected = set(values) - set(params)
        if missing or unexpected:
            raise KeyError(f"load_state_dict: missing {sorted(missing)}, unexpected {sorted(unexpected)}")
        for name, p in params.items():
            p.assign_(np.asarray(values[name], dtype=p.dtype))

    # -- calling -----------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not self._modules:
            return head + ")"
        lines = [head]
        for name, child in self._modules.items():
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        return "\n".join(lines) + "\n)"


class ModuleList(Module):
    """A list of modules whose parameters are registered (names "0", "1", ...)."""

    def __init__(self, modules=()) -> None:
        super().__init__()
        object.__setattr__(self, "_items", [])
        for m in modules:
            self.append(m)

    def append(self, module: Module) -> "ModuleList":
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList holds Modules, got {type(module).__name__}")
        self._modules[str(len(self._items))] = module
        self._items.append(module)
        return self

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self):
        return iter(self._items)

    def __getitem__(self, i):
        return self._items[i]


class Sequential(ModuleList):
    """Applies its modules in order."""

    def __init__(self, *modules: Module) -> None:
        super().__init__(modules)

    def forward(self, x):
        for m in self:
            x = m(x)
        return x


class ReLU(Module):
    def forward(self, x):
        return F.relu(x)


class _Fn(Module):
    """A parameter-free module around a tracead function (for MLP activations)."""

    def __init__(self, name: str) -> None:
        super().__init__()
        if name not in ACTIVATIONS:
            raise ValueError(f"unknown activation {name!r}; choose from {sorted(ACTIVATIONS)}")
        self.name = name

    def forward(self, x):
        return ACTIVATIONS[self.name](x)

    def extra_repr(self) -> str:
        return self.name


ACTIVATIONS = {"relu": F.relu, "tanh": F.tanh, "sigmoid": F.sigmoid, "gelu": F.gelu}


def _rng(rng=None, seed=None) -> np.random.Generator:
    if rng is not None:
        return rng
    return np.random.default_rng(seed)


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
        w = _rng(rng, seed).uniform(-bound, bound, size=(self.in_features, self.out_features))
        self.weight = Tensor(w.astype(dtype), requires_grad=True)
        self.bias = Tensor(np.zeros(self.out_features, dtype), requires_grad=True) if bias else None

    def forward(self, x):
        x = as_tensor(x)
        # As torch: no silent promotion. An int64 batch would otherwise turn
        # a float32 layer's outputs (and the whole model downstream) float64.
        if x.dtype != self.weight.dtype:
            raise _layer_error(self, f"input has dtype {x.dtype} but the weight is "
                               f"{self.weight.dtype}; convert the input with "
                               f".astype(np.{self.weight.dtype})", x, type_error=True)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise _layer_error(self, f"input of shape {x.shape} does not end in "
                               f"in_features={self.in_features}", x)
        y = F.matmul(x, self.weight)
        return y + self.bias if self.bias is not None else y

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


def _layer_error(layer: Module, message: str, *avals, type_error: bool = False):
    where = user_source(2)
    cls = OpTypeError if type_error else OpError
    return cls(f"{type(layer).__name__}({layer.extra_repr()}): {message} (inputs: "
               f"{describe(*avals)})" + (f" at {where}" if where else ""))


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
        rng = _rng(rng, seed)
        layers: list[Module] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(Linear(a, b, bias=bias, dtype=dtype, rng=rng, init=init))
            if i < len(sizes) - 2:
                layers.append(_Fn(activation))
        self.sizes = sizes
        self.layers = Sequential(*layers)

    def forward(self, x):
        return self.layers(x)


def functional_call(module: Module, params: dict, *args, **kwargs):
    """`module(*args, **kwargs)` with the parameters named in `params` replaced.

    As torch.func.functional_call: names are those of `param_dict()`; names
    left out keep the module's own parameters. The module is restored
    afterwards (so this is not thread-safe for one module object). With it a
    JAX-style step differentiates a dict of parameters:
    `ta.grad(lambda p, x, y: loss(functional_call(model, p, x), y))(params, x, y)`.
    """
    if not isinstance(params, dict):
        raise TypeError(f"functional_call: params must be a dict of name -> tensor, "
                        f"got {type(params).__name__}")
    owners = dict(module.named_parameters())
    unknown = sorted(set(params) - set(owners))
    if unknown:
        raise KeyError(f"functional_call: unknown parameter names {unknown}; "
                       f"the module has {sorted(owners)}")
    # Every (module, attribute) holding each parameter: a shared (tied) parameter is
    # listed once by name but must be replaced everywhere it is used.
    holders: dict[int, list] = {}
    for _, owner in module.named_modules():
        for attr, p in owner._parameters.items():
            holders.setdefault(id(p), []).append((owner, attr))
    slots = [(owner, attr, owners[name], as_tensor(params[name]))
             for name in params for owner, attr in holders[id(owners[name])]]
    try:
        for owner, attr, _, value in slots:
            # Bypass Module.__setattr__: a value without requires_grad must not unregister it.
            owner._parameters[attr] = value
            object.__setattr__(owner, attr, value)
        return module(*args, **kwargs)
    finally:
        for owner, attr, old, _ in slots:
            owner._parameters[attr] = old
            object.__setattr__(owner, attr, old)


# -- losses ----------------------------------------------------------------------------
def mse_loss(pred, target) -> Tensor:
    """mean((pred - target)**2) over all elements."""
    diff = F.sub(pred, target)
    return F.mean(diff * diff)


def _int_labels(op: str, labels, shape: tuple, logits):
    """Labels as an integer NumPy array or integer Tensor of the given shape."""
    if not isinstance(labels, Tensor):
        labels = np.asarray(labels)
    if labels.dtype.kind not in "iu":
        raise op_error(op, f"labels must be integers, got dtype {labels.dtype}", logits,
                       labels, type_error=True)
    if tuple(labels.shape) != shape:
        raise op_error(op, f"labels have shape {tuple(labels.shape)}, expected {shape}",
                       logits, labels)
    return labels


def _check_label_range(op: str, labels, n_classes: int, *avals) -> None:
    """Every label in [0, n_classes): -1 would silently pick the last class.

    A label Tensor is checked with one bool ("any label out of range");
    inside `compile` that bool is a value guard that holds for every valid
    batch, so a bad batch re-traces and lands here with its values.
    """
    if labels.size == 0:
        return
    if isinstance(labels, Tensor):
        if labels._data is None:
            return  # an abstract trace (vmap) has no values to check
        # Read as unsigned, a negative label is huge: one fused reduction
        # checks both ends.
        if not bool(F.max(F.cast(labels, np.uint64) >= n_classes)):
            return
        labels = labels.numpy()
    bad = np.flatnonzero((labels < 0) | (labels >= n_classes))
    if bad.size:
        i = int(bad[0])
        raise op_error(op, f"label {labels.reshape(-1)[i]} at position {i} is out of range for "
                       f"{n_classes} classes (labels must be in [0, {n_classes}))", *avals,
                       index_error=True)


def cross_entropy(logits, labels) -> Tensor:
    """Mean over the batch of -log softmax(logits)[i, labels[i]].

    logits: (n, classes); labels: (n,) integers in [0, classes) (NumPy array
    or Tensor). Stable for large logits: it goes through `log_softmax`, which
    shifts by the row maximum.
    """
    logits = as_tensor(logits)
    if logits.ndim != 2:
        raise op_error("cross_entropy", "logits must be (batch, classes)", logits)
    n, classes = logits.shape
    labels = _int_labels("cross_entropy", labels, (n,), logits)
    _check_label_range("cross_entropy", labels, classes, logits, labels)
    if isinstance(labels, Tensor):
        # Inside `compile` the range check is a value guard, read after the
        # graph has run: clamping keeps that run in bounds so the guard (not a
        # bare IndexError from the gather) reports a bad batch. A no-op otherwise.
        labels = F.clip(labels, 0, classes - 1)
    logp = F.log_softmax(logits, axis=-1)
    picked = logp[np.arange(n), labels]
    return -F.mean(picked)


def one_hot(labels, num_classes: int, dtype=np.float32) -> np.ndarray:
    """Integer labels of any shape -> labels.shape + (num_classes,) of 0/1 (NumPy, no gradient)."""
    labels = labels.numpy() if isinstance(labels, Tensor) else np.asarray(labels)
    if labels.dtype.kind not in "iu":
        raise op_error("one_hot", f"labels must be integers, got dtype {labels.dtype}", labels,
                       type_error=True)
    _check_label_range("one_hot", labels, int(num_classes), labels)
    return np.eye(int(num_classes), dtype=dtype)[labels]
