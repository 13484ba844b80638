"""Training state as flat NumPy arrays: gather, restore, and `.npz` files.

A replica's state is its model's parameters (`Module.state_dict`) plus every
Tensor its optimizer keeps between steps (Adam's `m`, `v` and step counter
`t`, SGD's momentum buffers, the learning rate), found by walking the
optimizer's attributes: any Tensor attribute, or list/tuple of Tensors, other
than `params` is state. That covers `ta.optim` and any optimizer written the
same way, without each optimizer having to list its own state.

Keys are "model.<parameter name>", "optimizer.<attribute>[.<index>]" and
"step" (how many training steps the state has seen).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..nn import Module
from ..optim import Optimizer
from ..tensor import Tensor

STEP_KEY = "step"


def _optimizer_tensors(optimizer: Optimizer) -> dict[str, Tensor]:
    found: dict[str, Tensor] = {}
    for name, value in vars(optimizer).items():
        if name == "params":
            continue
        if isinstance(value, Tensor):
            found[name] = value
        elif isinstance(value, (list, tuple)) and value and all(isinstance(v, Tensor) for v in value):
            found.update((f"{name}.{i}", v) for i, v in enumerate(value))
    return found


def gather_state(model: Module, optimizer: Optimizer, step: int) -> dict[str, np.ndarray]:
    """Copies of everything a replica needs to continue training from `step`."""
    state = {f"model.{k}": v for k, v in model.state_dict().items()}
    state.update((f"optimizer.{k}", t.numpy()) for k, t in _optimizer_tensors(optimizer).items())
    state[STEP_KEY] = np.asarray(step, dtype=np.int64)
    return state


def restore_state(model: Module, optimizer: Optimizer, state: dict) -> int:
    """Load `state` (from `gather_state`) into model and optimizer; returns its step."""
    model.load_state_dict({k[len("model."):]: v for k, v in state.items() if k.startswith("model.")})
    tensors = _optimizer_tensors(optimizer)
    saved = {k[len("optimizer."):]: v for k, v in state.items() if k.startswith("optimizer.")}
    if set(saved) != set(tensors):
        raise KeyError(f"optimizer state: missing {sorted(set(tensors) - set(saved))}, "
                       f"unexpected {sorted(set(saved) - set(tensors))} (is it the same optimizer?)")
    for name, t in tensors.items():
        value = np.asarray(saved[name], dtype=t.dtype)
        if value.shape != t.shape:
            raise ValueError(f"optimizer state {name!r}: shape {value.shape}, expected {t.shape}")
        t.assign_(value)
    return int(state[STEP_KEY])


def save(path: str | os.PathLike, state: dict[str, np.ndarray]) -> Path:
    """Write `state` to `path` (.npz) atomically: a reader never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        np.savez(f, **state)
    os.replace(tmp, path)
    return path


def load(path: str | os.PathLike) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as archive:
        state = {k: archive[k] for k in archive.files}
    if STEP_KEY not in state:
        raise ValueError(f"{path}: not a tracead.distributed checkpoint (no {STEP_KEY!r} entry)")
    return state
