"""`Module` and the containers: parameters, buffers, train/eval, state dicts.

A `Module` registers, in assignment order, every attribute that is a Tensor
with `requires_grad=True` (a parameter), a `Module` (a child) or a
list/tuple of Modules (wrapped in a `ModuleList`), as torch.nn.Module does.
Buffers (running statistics) are tensors registered with `register_buffer`:
saved in `state_dict`, not trained.

train()/eval() flip `training`. A compiled function must not bake that
Python bool in silently, so mode-dependent layers read it through
`self.is_training()`, which under a tracer reads a 0-d bool Tensor: a value
guard, so calling `model.eval()` after compiling re-traces instead of
replaying training-mode dropout.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np

from .. import state
from ..tensor import Tensor, as_tensor

__all__ = ["Module", "ModuleList", "ModuleDict", "Sequential", "functional_call"]


class Module:
    """Base class: parameters, buffers and children found by attribute assignment."""

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "training", True)
        # Created here, outside any trace, so a compiled function reads it by reference.
        object.__setattr__(self, "_mode_flag", Tensor(np.bool_(True)))

    def __setattr__(self, name: str, value) -> None:
        if "_parameters" not in self.__dict__:
            # A subclass forgot super().__init__(); registering needs the dicts.
            Module.__init__(self)
        if name == "training":
            self._mode_flag.assign_(np.bool_(value))
        if name in self._buffers:
            self._buffers[name] = value
            object.__setattr__(self, name, value)
            return
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
        self._buffers.pop(name, None)
        self._modules.pop(name, None)
        object.__delattr__(self, name)

    def register_buffer(self, name: str, tensor) -> None:
        """A non-trained tensor saved in `state_dict` (e.g. BatchNorm's running mean)."""
        tensor = None if tensor is None else as_tensor(tensor)
        self._parameters.pop(name, None)
        self._buffers[name] = tensor
        object.__setattr__(self, name, tensor)

    # -- traversal -------------------------------------------------------------
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator["Module"]:
        return (m for _, m in self.named_modules())

    def children(self) -> Iterator["Module"]:
        return iter(self._modules.values())

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        """(dotted name, parameter) pairs; a shared parameter appears once."""
        seen: set[int] = set()
        for mod_name, module in self.named_modules(prefix):
            for name, p in module._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mod_name}.{name}" if mod_name else name), p

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        for mod_name, module in self.named_modules(prefix):
            for name, b in module._buffers.items():
                if b is not None:
                    yield (f"{mod_name}.{name}" if mod_name else name), b

    def parameters(self) -> list[Tensor]:
        return [p for _, p in self.named_parameters()]

    def buffers(self) -> list[Tensor]:
        return [b for _, b in self.named_buffers()]

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

    # -- modes -----------------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        """Training mode (dropout on, batch statistics) for this module and its children."""
        for m in self.modules():
            m.training = bool(mode)
        return self

    def eval(self) -> "Module":
        """Evaluation mode: dropout off, BatchNorm uses its running statistics."""
        return self.train(False)

    def is_training(self) -> bool:
        """`self.training`, read so that a compiled function guards on it (see the docstring)."""
        if state.current_tracer() is None:
            return self.training
        return bool(self._mode_flag)

    # -- state -----------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of the parameter and buffer values by dotted name."""
        out = {name: p.numpy() for name, p in self.named_parameters()}
        out.update((name, b.numpy()) for name, b in self.named_buffers())
        return out

    def load_state_dict(self, values: dict) -> None:
        """Assign saved values in place (so optimizers and compiled steps keep their references)."""
        targets = dict(self.named_parameters())
        targets.update(self.named_buffers())
        missing = set(targets) - set(values)
        unexpected = set(values) - set(targets)
        if missing or unexpected:
            raise KeyError(f"load_state_dict: missing {sorted(missing)}, unexpected {sorted(unexpected)}")
        for name, t in targets.items():
            value = np.asarray(values[name])
            if value.shape != t.shape:
                raise ValueError(f"load_state_dict: {name} has shape {value.shape}, the module "
                                 f"expects {t.shape}")
            t.assign_(value.astype(t.dtype))

    def save(self, path) -> None:
        """`state_dict()` to a NumPy `.npz` file."""
        np.savez(path, **self.state_dict())

    def load(self, path) -> "Module":
        """Load a file written by `save` (`load_state_dict` of its arrays)."""
        with np.load(path) as data:
            self.load_state_dict({k: data[k] for k in data.files})
        return self

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
            raise TypeError(f"{type(self).__name__} holds Modules, got {type(module).__name__}")
        self._modules[str(len(self._items))] = module
        self._items.append(module)
        return self

    def extend(self, modules) -> "ModuleList":
        for m in modules:
            self.append(m)
        return self

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self):
        return iter(self._items)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return type(self)(self._items[i]) if type(self) is ModuleList else \
                Sequential(*self._items[i])
        return self._items[i]


class Sequential(ModuleList):
    """Applies its modules in order."""

    def __init__(self, *modules: Module) -> None:
        super().__init__(modules)

    def forward(self, x):
        for m in self:
            x = m(x)
        return x


class ModuleDict(Module):
    """A dict of named modules (insertion order), registered under their keys."""

    def __init__(self, modules=None) -> None:
        super().__init__()
        for name, m in dict(modules or {}).items():
            self[name] = m

    def __setitem__(self, name: str, module: Module) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"ModuleDict holds Modules, got {type(module).__name__}")
        self._modules[str(name)] = module

    def __getitem__(self, name: str) -> Module:
        return self._modules[name]

    def __contains__(self, name: str) -> bool:
        return name in self._modules

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()


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
