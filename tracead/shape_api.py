"""Tensor methods and NumPy mappings for the shape, indexing and contraction functions.

Installed once by `functional` after its own methods (the NumPy mappings by
`numpy_interop`): torch's spellings
(`x.permute(0, 2, 1)`, `x.view(-1, 4)`, `x.unsqueeze(1)`, `x.expand(...)`,
`x.mT`, `x.gather(dim, idx)`, `x[i] = v`, ...), JAX's `x.at[i].set(v)`, and
`np.einsum` / `np.pad` / `np.roll` / ... on tensors.
"""
from __future__ import annotations

import numpy as np

from . import indexing as I
from . import linalg as L
from . import padding as P
from . import shape_functions as S
from .errors import op_error
from .tensor import Tensor

METHODS = {
    "permute": S.permute, "view": S.view, "unsqueeze": S.unsqueeze, "squeeze": S.squeeze,
    "expand": S.expand, "split": S.split, "chunk": S.chunk, "flip": S.flip, "roll": S.roll,
    "repeat": S.repeat, "repeat_interleave": S.repeat_interleave, "tile": S.tile,
    "movedim": S.movedim, "moveaxis": S.moveaxis, "unflatten": S.unflatten,
    "tril": S.tril, "triu": S.triu, "gather": I.gather, "scatter": I.scatter,
    "scatter_add": I.scatter_add, "scatter_reduce": I.scatter_reduce,
    "index_select": I.index_select, "masked_fill": I.masked_fill, "dot": L.dot,
    "outer": L.outer, "inner": L.inner,
}


def expand_as(self, other) -> Tensor:
    """torch's `x.expand_as(other)`: broadcast to other's shape."""
    return S.expand(self, other.shape)


def view_as(self, other) -> Tensor:
    """torch's `x.view_as(other)`: reshaped to other's shape."""
    return S.view(self, other.shape)


def _matrix_transpose(self) -> Tensor:
    if self.ndim < 2:
        raise op_error("mT", f"needs at least 2 dims, got shape {self.shape}", self)
    return S.movedim(self, -1, -2)


def _np_repeat(a, repeats, axis=None):
    return S.repeat_interleave(a, repeats, axis)


# np.dot, np.tensordot and np.squeeze have adapters in numpy_functions already.
NUMPY_FUNCTIONS = {
    np.einsum: L.einsum, np.outer: L.outer, np.inner: L.inner,
    np.vdot: L.vdot, np.pad: P.np_pad, np.flip: S.flip,
    np.roll: lambda a, shift, axis=None: S.roll(a, shift, axis),
    np.tril: lambda m, k=0: S.tril(m, k), np.triu: lambda m, k=0: S.triu(m, k),
    np.split: S.np_split, np.array_split: S.array_split,
    np.tile: S.tile, np.repeat: _np_repeat, np.moveaxis: S.movedim,
    np.meshgrid: lambda *xs, indexing="xy": S.meshgrid(*xs, indexing=indexing),
    np.take_along_axis: I.take_along_axis,
}


def install() -> None:
    """Attach the methods (`numpy_interop` registers NUMPY_FUNCTIONS itself)."""
    for name, fn in METHODS.items():
        setattr(Tensor, name, fn)
    Tensor.flatten = S.flatten
    Tensor.expand_as, Tensor.view_as = expand_as, view_as
    Tensor.mT = property(_matrix_transpose, doc="The last two dims swapped (torch's `x.mT`).")
    Tensor.at = property(I.at, doc=I.at.__doc__)
    Tensor.__setitem__ = I.setitem
