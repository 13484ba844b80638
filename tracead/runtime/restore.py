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

import numpy as np


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
