"""Padding modules: torch's ZeroPad / ConstantPad / ReflectionPad / ReplicationPad /
CircularPad 1d, 2d and 3d, over `nn.functional.pad`."""
from __future__ import annotations

from . import functional as F
from .module import Module

__all__ = []


def _padding_module(name: str, mode: str, dims: int, constant: bool):
    def __init__(self, padding, value: float = 0.0) -> None:
        Module.__init__(self)
        if isinstance(padding, int):
            padding = (padding,) * (2 * dims)
        self.padding = tuple(int(p) for p in padding)
        self.value = 0.0 if not constant or name.startswith("Zero") else float(value)

    def forward(self, x):
        return F.pad(x, self.padding, mode, self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}" + (f", value={self.value}" if constant else "")
    cls = type(name, (Module,), {"__init__": __init__, "forward": forward,
                                 "extra_repr": extra_repr, "__doc__": f"torch.nn.{name}."})
    __all__.append(name)
    return cls


for _dims in (1, 2, 3):
    for _prefix, _mode, _const in (("Zero", "constant", True), ("Constant", "constant", True),
                                   ("Reflection", "reflect", False),
                                   ("Replication", "replicate", False),
                                   ("Circular", "circular", False)):
        globals()[f"{_prefix}Pad{_dims}d"] = _padding_module(f"{_prefix}Pad{_dims}d", _mode, _dims,
                                                             _const)
