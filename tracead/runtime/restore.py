"""Put back the tensors a function touched: for tools that run it more than once.

`explain` and `profile` call the user's function (traced, eagerly, compiled)
several times; a training step would move the parameters and `.grad`s each
time. The tracer notes every tensor from outside the function that the traced
run reads or writes, before it writes it (`Tracer.snapshot`), and the tool
restores them afterwards, so the program's state is as the tool found it.
Python-level state the function changes (counters, lists it appends to) is
not restored.
"""
from __future__ import annotations

import contextlib

import numpy as np

from ..tensor import Tensor
from ..trace import pytree


class StateSnapshot:
    """The value, `.grad` and requires_grad of each noted tensor, as first noted."""

    def __init__(self) -> None:
        self.saved: dict[int, tuple] = {}

    def note(self, tensor) -> None:
        if id(tensor) in self.saved:
            return
        data = tensor._data
        copy = None if data is None else np.array(data, copy=True)
        self.saved[id(tensor)] = (tensor, data, copy, tensor._aval, tensor._grad, tensor.requires_grad)

    def restore(self) -> None:
        for tensor, data, copy, aval, grad, requires_grad in self.saved.values():
            if copy is not None and data.flags.writeable and not np.array_equal(data, copy, equal_nan=True):
                np.copyto(data, copy)  # someone wrote into the array itself
            tensor._data, tensor._aval, tensor._grad = data, aval, grad
            tensor.requires_grad = requires_grad


@contextlib.contextmanager
def preserved_state(compiled, args, kwargs, snapshot: StateSnapshot | None = None):
    """Calls of `compiled` with these arguments inside the block are undone at its end.

    A call either runs an existing variant, whose free inputs (found along their
    paths for these arguments) and tensor arguments are noted up front, or traces,
    and the tracer notes what it touches."""
    snapshot = snapshot if snapshot is not None else StateSnapshot()
    leaves, _ = pytree.flatten_args(args, kwargs)
    for leaf in leaves:
        if isinstance(leaf, Tensor):
            snapshot.note(leaf)
    for variant in list(compiled.order):
        failure = variant.last_failure
        free = variant.free_tensors(leaves)
        variant.last_failure = failure  # looking is not a call: keep the reported reason
        if isinstance(free, tuple):
            for t in free:
                snapshot.note(t)
    previous, compiled.snapshot = compiled.snapshot, snapshot
    try:
        yield snapshot
    finally:
        compiled.snapshot = previous
        snapshot.restore()
