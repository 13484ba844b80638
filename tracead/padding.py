"""Padding: torch's `F.pad` (`pad`) and NumPy's `np.pad` (`np_pad`), one core.

Both spellings become per-axis (before, after) widths. Constant padding
concatenates constant blocks (the gradient is a slice); the other modes read
`x` through one integer index array per padded axis (edge / reflect /
symmetric / wrap positions), so the gradient is a `scatter_add` that sums
every copy back into the element it came from. Negative widths crop (torch:
every mode but circular).
"""
from __future__ import annotations

import numbers

import numpy as np

from . import basic_functions as F
from .errors import op_error
from .tensor import Tensor, as_tensor

__all__ = ["pad", "np_pad"]

_TORCH_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge",
                "circular": "wrap"}
_NUMPY_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")


def _source_positions(mode: str, n: int, before: int, after: int) -> np.ndarray:
    """For each output position along the axis, the input position it copies."""
    i = np.arange(-before, n + after)
    if mode == "edge":
        return np.clip(i, 0, n - 1)
    if mode == "wrap":
        return i % n
    if mode == "symmetric":
        j = i % (2 * n)
        return np.where(j >= n, 2 * n - 1 - j, j)
    if n == 1:  # reflect: a single element reflects onto itself
        return np.zeros_like(i)
    j = i % (2 * n - 2)
    return np.where(j >= n, 2 * n - 2 - j, j)


def _pad_axis(x: Tensor, axis: int, before: int, after: int, mode: str, value) -> Tensor:
    lead = (slice(None),) * axis
    if mode == "constant" and (before < 0 or after < 0):  # negative widths crop
        n = x.shape[axis]
        x = F.getitem(x, lead + (slice(-min(before, 0), n + min(after, 0)),))
        before, after = max(before, 0), max(after, 0)
    if before == 0 and after == 0:
        return x
    n = x.shape[axis]
    if mode == "constant":
        fill = as_tensor(np.asarray(value, dtype=x.dtype))
        parts = [F.broadcast_to(fill, x.shape[:axis] + (w,) + x.shape[axis + 1:])
                 for w in (before,) if w] + [x]
        parts += [F.broadcast_to(fill, x.shape[:axis] + (after,) + x.shape[axis + 1:])] if after else []
        return F.concatenate(parts, axis=axis)
    if n == 0:
        raise op_error("pad", f"cannot {mode}-pad an empty axis {axis}", x)
    # Negative widths (torch, reflect / replicate) crop: the positions below still
    # index the uncropped axis, as torch's.
    return F.getitem(x, lead + (_source_positions(mode, n, before, after),))


def _pad_widths(x: Tensor, widths, mode: str, value) -> Tensor:
    for axis, (before, after) in enumerate(widths):
        x = _pad_axis(x, axis, int(before), int(after), mode, value)
    return x


def pad(x, pad, mode: str = "constant", value=0.0) -> Tensor:
    """torch.nn.functional.pad: `pad` lists (left, right) widths from the LAST dim backwards.

    `pad=(1, 2)` pads the last dim by 1 before and 2 after; `(1, 1, 2, 0)`
    also pads the second-to-last dim by 2 before. Modes: "constant" (with
    `value`), "reflect", "replicate", "circular". Negative widths crop.
    """
    x = F._lift(x)
    value = 0.0 if value is None else value  # torch's default
    widths = [int(p) for p in pad]
    if len(widths) % 2 or len(widths) // 2 > x.ndim:
        raise op_error("pad", f"pad {tuple(widths)} must hold (left, right) pairs for at most "
                       f"{x.ndim} dims", x)
    if mode not in _TORCH_MODES:
        raise op_error("pad", f"mode must be one of {sorted(_TORCH_MODES)}, got {mode!r}", x)
    per_axis = [(0, 0)] * x.ndim
    for k in range(len(widths) // 2):
        axis = x.ndim - 1 - k
        before, after = widths[2 * k], widths[2 * k + 1]
        n = x.shape[axis]
        if mode == "reflect" and max(before, after) >= n:
            raise op_error("pad", f"reflect padding ({before}, {after}) must be smaller than the "
                           f"dim's size {n} (dim {axis})", x)
        if mode == "circular" and max(before, after) > n:
            raise op_error("pad", f"circular padding ({before}, {after}) must not exceed the "
                           f"dim's size {n} (dim {axis})", x)
        if mode == "circular" and min(before, after) < 0:
            raise op_error("pad", f"negative padding ({before}, {after}) is not supported in mode "
                           "'circular'", x)
        per_axis[axis] = (before, after)
    return _pad_widths(x, per_axis, _TORCH_MODES[mode], value)


def _numpy_widths(x: Tensor, pad_width) -> list[tuple[int, int]]:
    spec = np.asarray(pad_width, dtype=object)
    try:
        widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (x.ndim, 2))
    except ValueError:
        raise op_error("pad", f"pad_width {pad_width!r} does not fit a {x.ndim}-d tensor", x) from None
    if (widths < 0).any():
        raise op_error("pad", f"negative pad widths {spec.tolist()!r} (np.pad does not crop)", x)
    return [(int(b), int(a)) for b, a in widths]


def np_pad(x, pad_width, mode: str = "constant", constant_values=0) -> Tensor:
    """np.pad: `pad_width` is an int, a (before, after) pair or one pair per axis.

    Modes: "constant" (with `constant_values`, a scalar), "edge", "reflect",
    "symmetric", "wrap". `np.pad` on a tensor comes here.
    """
    x = F._lift(x)
    if mode not in _NUMPY_MODES:
        raise op_error("pad", f"mode must be one of {_NUMPY_MODES}, got {mode!r}", x)
    if not isinstance(constant_values, (numbers.Number, np.generic)):
        raise op_error("pad", "constant_values must be a scalar here", x)
    return _pad_widths(x, _numpy_widths(x, pad_width), mode, constant_values)
