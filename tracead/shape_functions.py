"""Shape functions with torch and NumPy spellings, as composites of movement ops.

Every function here is exact Python over `reshape`, `transpose`,
`broadcast_to`, `concatenate`, `getitem` and `where`, so each needs no rule
of its own: it differentiates, compiles, batches under `vmap` and fuses like
the primitives it is made of. `pad` is in `padding.py`.
"""
from __future__ import annotations

import numbers

import numpy as np

from . import basic_functions as F
from .errors import op_error
from .symint import sizes_of
from .tensor import Tensor

__all__ = ["flip", "roll", "tril", "triu", "split", "array_split", "chunk", "squeeze",
           "unsqueeze", "flatten", "unflatten", "view", "repeat", "tile", "repeat_interleave",
           "expand", "permute", "movedim", "moveaxis", "meshgrid"]


def _axes(op: str, x: Tensor, dims) -> tuple[int, ...]:
    """dims (None, an int or a sequence) as non-negative axes in the order given."""
    if dims is None:
        return tuple(range(x.ndim))
    dims = (dims,) if isinstance(dims, numbers.Integral) else tuple(dims)
    out = [F.normalize_axes(op, d, x.ndim, x)[0] for d in dims]
    if len(set(out)) != len(out):
        raise op_error(op, f"repeated dim in {dims}", x)
    return tuple(out)


def _shape_args(shape) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return sizes_of(shape)


def flip(x, dims=None) -> Tensor:
    """`x` reversed along `dims` (torch.flip; `np.flip(x, axis)`; None: every axis)."""
    x = F._lift(x)
    axes = _axes("flip", x, dims)
    if not axes:
        return x
    return F.getitem(x, tuple(slice(None, None, -1) if d in axes else slice(None)
                              for d in range(x.ndim)))


def roll(x, shifts, dims=None) -> Tensor:
    """Elements shifted cyclically by `shifts` along `dims` (torch.roll / np.roll; None: flattened)."""
    x = F._lift(x)
    if dims is None:
        if not isinstance(shifts, numbers.Integral):
            shifts = int(np.sum(shifts))
        return F.reshape(roll(F.reshape(x, -1), shifts, 0), x.shape)
    shifts = (shifts,) if isinstance(shifts, numbers.Integral) else tuple(shifts)
    dims = (dims,) if isinstance(dims, numbers.Integral) else tuple(dims)
    if len(shifts) != len(dims):
        raise op_error("roll", f"{len(shifts)} shifts for {len(dims)} dims", x)
    for shift, d in zip(shifts, dims):
        d = F.normalize_axes("roll", d, x.ndim, x)[0]
        n = x.shape[d]
        k = int(shift) % n if n else 0
        if k:
            lead = (slice(None),) * d
            x = F.concatenate([F.getitem(x, lead + (slice(n - k, None),)),
                               F.getitem(x, lead + (slice(0, n - k),))], axis=d)
    return x


def _triangle(op: str, x, k: int, lower: bool) -> Tensor:
    x = F._lift(x)
    if x.ndim < 2:
        raise op_error(op, f"needs at least 2 dims, got shape {x.shape}", x)
    rows, cols = x.shape[-2:]
    mask = (np.tri(rows, cols, k, dtype=bool) if lower
            else ~np.tri(rows, cols, k - 1, dtype=bool))
    return F.where(mask, x, F.zeros_like(x))


def tril(x, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two dims (torch.tril / np.tril); above `diagonal` is 0."""
    return _triangle("tril", x, int(diagonal), True)


def triu(x, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two dims (torch.triu / np.triu); below `diagonal` is 0."""
    return _triangle("triu", x, int(diagonal), False)


def _pieces(x: Tensor, axis: int, bounds) -> list[Tensor]:
    lead = (slice(None),) * axis
    return [F.getitem(x, lead + (slice(a, b),)) for a, b in zip(bounds[:-1], bounds[1:])]


def _axis1(op: str, x: Tensor, axis: int) -> int:
    if x.ndim == 0:
        raise op_error(op, "a 0-d tensor cannot be split", x)
    return F.normalize_axes(op, axis, x.ndim, x)[0]


def split(x, split_size_or_sections, dim: int = 0) -> tuple[Tensor, ...]:
    """torch.split: pieces of `split_size` along `dim` (the last may be smaller), or of the listed sizes.

    For NumPy's `np.split(x, indices_or_sections, axis)` use `array_split` or
    `np.split` on a tensor (an int there means equal sections, not a size).
    """
    x = F._lift(x)
    axis = _axis1("split", x, dim)
    n = x.shape[axis]
    if isinstance(split_size_or_sections, numbers.Integral):
        size = int(split_size_or_sections)
        if size <= 0 and n:
            raise op_error("split", f"split_size must be positive, got {size}", x)
        bounds = list(range(0, n, size)) + [n] if n else [0, 0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n or any(s < 0 for s in sizes):
            raise op_error("split", f"sizes {sizes} do not add up to {n} along dim {dim}", x)
        bounds = list(np.cumsum([0] + sizes))
    return tuple(_pieces(x, axis, bounds))


def array_split(x, indices_or_sections, axis: int = 0) -> list[Tensor]:
    """np.array_split: `sections` nearly equal pieces (the first ones larger), or cut at `indices`."""
    x = F._lift(x)
    axis = _axis1("array_split", x, axis)
    n = x.shape[axis]
    if isinstance(indices_or_sections, numbers.Integral):
        sections = int(indices_or_sections)
        if sections <= 0:
            raise op_error("array_split", f"number of sections must be positive, got {sections}", x)
        each, extra = divmod(n, sections)
        sizes = [each + 1] * extra + [each] * (sections - extra)
        bounds = list(np.cumsum([0] + sizes))
    else:  # cut points, sliced as NumPy does (negative and out-of-range cuts included)
        bounds = [0] + [int(i) for i in indices_or_sections] + [n]
    return _pieces(x, axis, bounds)


def np_split(x, indices_or_sections, axis: int = 0) -> list[Tensor]:
    """np.split: like `array_split`, but equal sections are required."""
    x = F._lift(x)
    if isinstance(indices_or_sections, numbers.Integral):
        n = x.shape[_axis1("split", x, axis)]
        if indices_or_sections <= 0 or n % int(indices_or_sections):
            raise op_error("split", f"array split does not result in an equal division "
                           f"({n} into {indices_or_sections})", x)
    return array_split(x, indices_or_sections, axis)


def chunk(x, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """torch.chunk: at most `chunks` pieces of ceil(n / chunks) along `dim` (fewer if it divides so)."""
    x = F._lift(x)
    axis = _axis1("chunk", x, dim)
    if int(chunks) <= 0:
        raise op_error("chunk", f"chunks must be positive, got {chunks}", x)
    n = x.shape[axis]
    size = -(-n // int(chunks)) if n else 0
    if size == 0:  # torch: an empty dim gives `chunks` empty pieces
        return tuple(_pieces(x, axis, [0] * (int(chunks) + 1)))
    return split(x, size, axis)


def squeeze(x, dim=None) -> Tensor:
    """`x` without its size-1 dims (or only `dim`, an int or tuple; torch leaves a non-1 dim alone)."""
    x = F._lift(x)
    axes = _axes("squeeze", x, dim)
    keep = tuple(n for d, n in enumerate(x.shape) if not (d in axes and n == 1))
    return F.reshape(x, keep)


def unsqueeze(x, dim: int) -> Tensor:
    """`x` with a new size-1 dim at `dim` (torch.unsqueeze; np.expand_dims)."""
    return F.expand_dims(x, dim)


def flatten(x, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Dims `start_dim..end_dim` merged into one (torch.flatten); a 0-d tensor becomes 1-d."""
    x = F._lift(x)
    if x.ndim == 0:
        return F.reshape(x, 1)
    start, end = (F.normalize_axes("flatten", d, x.ndim, x)[0] for d in (start_dim, end_dim))
    if start > end:
        raise op_error("flatten", f"start_dim {start_dim} comes after end_dim {end_dim}", x)
    merged = int(np.prod(x.shape[start:end + 1], dtype=np.int64))
    return F.reshape(x, x.shape[:start] + (merged,) + x.shape[end + 1:])


def unflatten(x, dim: int, sizes) -> Tensor:
    """Dim `dim` split into `sizes` (torch.unflatten; one size may be -1)."""
    x = F._lift(x)
    axis = _axis1("unflatten", x, dim)
    sizes = [int(s) for s in sizes]
    if sizes.count(-1) == 1:
        known = int(np.prod([s for s in sizes if s != -1], dtype=np.int64))
        sizes[sizes.index(-1)] = x.shape[axis] // known if known else 0
    if int(np.prod(sizes, dtype=np.int64)) != x.shape[axis]:
        raise op_error("unflatten", f"sizes {tuple(sizes)} do not multiply to {x.shape[axis]}", x)
    return F.reshape(x, x.shape[:axis] + tuple(sizes) + x.shape[axis + 1:])


def view(x, *shape) -> Tensor:
    """torch's `x.view(*shape)`: the same as `reshape` (values, not storage, are shared)."""
    return F.reshape(x, *shape)


def tile(x, reps) -> Tensor:
    """np.tile: `x` repeated `reps` times along each axis (reps are aligned to the right)."""
    x = F._lift(x)
    reps = (int(reps),) if isinstance(reps, numbers.Integral) else tuple(int(r) for r in reps)
    if any(r < 0 for r in reps):
        raise op_error("tile", f"negative repetitions {reps}", x)
    nd = max(len(reps), x.ndim)
    reps = (1,) * (nd - len(reps)) + reps
    shape = (1,) * (nd - x.ndim) + x.shape
    # (r0, s0, r1, s1, ...) by broadcasting, then merge each pair: exact and one copy.
    lifted = F.reshape(x, tuple(v for s in shape for v in (1, s)))
    wide = F.broadcast_to(lifted, tuple(v for r, s in zip(reps, shape) for v in (r, s)))
    return F.reshape(wide, tuple(r * s for r, s in zip(reps, shape)))


def repeat(x, *sizes) -> Tensor:
    """torch's `x.repeat(*sizes)` (np.tile): at least as many sizes as dims are needed."""
    x = F._lift(x)
    sizes = _shape_args(sizes)
    if len(sizes) < x.ndim:
        raise op_error("repeat", f"{len(sizes)} repeat sizes for a {x.ndim}-d tensor (torch "
                       f"needs at least one per dim; np.tile pads them)", x)
    return tile(x, sizes)


def repeat_interleave(x, repeats, dim: int | None = None) -> Tensor:
    """Each element repeated `repeats` times along `dim` (torch.repeat_interleave; np.repeat).

    `dim=None` flattens first. `repeats` is an int or one count per element
    (a tensor of counts is read as a value: inside `compile` it is guarded).
    """
    x = F._lift(x)
    if dim is None:
        x, axis = F.reshape(x, -1), 0
    else:
        axis = _axis1("repeat_interleave", x, dim)
    n = x.shape[axis]
    if isinstance(repeats, Tensor):
        repeats = repeats._concrete("repeat_interleave counts")
    counts = np.asarray(repeats)
    if counts.ndim == 0 or counts.size == 1:
        r = int(counts.reshape(()))
        if r < 0:
            raise op_error("repeat_interleave", f"negative repeats {r}", x)
        lifted = F.expand_dims(x, axis + 1)
        wide = F.broadcast_to(lifted, x.shape[:axis + 1] + (r,) + x.shape[axis + 1:])
        return F.reshape(wide, x.shape[:axis] + (n * r,) + x.shape[axis + 1:])
    if counts.shape != (n,) or (counts < 0).any():
        raise op_error("repeat_interleave", f"repeats must be {n} non-negative counts, got "
                       f"shape {counts.shape}", x)
    index = np.repeat(np.arange(n), counts.astype(np.int64))
    return F.getitem(x, (slice(None),) * axis + (index,))


def expand(x, *sizes) -> Tensor:
    """torch's `x.expand(*sizes)`: broadcast to `sizes`, where -1 keeps that dim."""
    x = F._lift(x)
    sizes = list(_shape_args(sizes))
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise op_error("expand", f"{len(sizes)} sizes for a {x.ndim}-d tensor", x)
    for i, s in enumerate(sizes):
        if s == -1:
            if i < lead:
                raise op_error("expand", "-1 is not allowed for a new leading dim", x)
            sizes[i] = x.shape[i - lead]
    return F.broadcast_to(x, tuple(sizes))


def permute(x, *dims) -> Tensor:
    """torch's `x.permute(*dims)`: the dims reordered (`np.transpose(x, dims)`)."""
    x = F._lift(x)
    dims = _shape_args(dims)
    if len(dims) != x.ndim:
        raise op_error("permute", f"{len(dims)} dims for a {x.ndim}-d tensor", x)
    return F.transpose(x, _axes("permute", x, dims))


def movedim(x, source, destination) -> Tensor:
    """Dims `source` moved to `destination` (torch.movedim; np.moveaxis); the others keep their order."""
    x = F._lift(x)
    src, dst = _axes("movedim", x, source), _axes("movedim", x, destination)
    if len(src) != len(dst):
        raise op_error("movedim", f"{len(src)} source dims for {len(dst)} destinations", x)
    rest = [d for d in range(x.ndim) if d not in src]
    perm = [None] * x.ndim
    for s, d in zip(src, dst):
        perm[d] = s
    fill = iter(rest)
    return F.transpose(x, tuple(p if p is not None else next(fill) for p in perm))


moveaxis = movedim


def meshgrid(*tensors, indexing: str = "ij") -> tuple[Tensor, ...]:
    """Coordinate grids from 1-d tensors (torch.meshgrid defaults to "ij", np.meshgrid to "xy")."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise op_error("meshgrid", f"indexing must be 'ij' or 'xy', got {indexing!r}")
    ts = [F.reshape(F._lift(t), -1) for t in tensors]
    shape = [t.shape[0] for t in ts]
    order = list(range(len(ts)))
    if indexing == "xy" and len(ts) >= 2:
        shape[0], shape[1] = shape[1], shape[0]
        order[0], order[1] = 1, 0
    out = []
    for i, t in enumerate(ts):
        axis = order.index(i)
        lifted = F.reshape(t, tuple(n if a == axis else 1 for a, n in enumerate(shape)))
        out.append(F.broadcast_to(lifted, tuple(shape)))
    return tuple(out)
