"""Dynamic shapes: one traced variant that serves every size of some dimensions.

Policy (torch.compile's "automatic dynamic", `compile(dynamic=None)`): the first
call specialises; when a later call misses only on sizes (same ranks, dtypes,
everything else), the dimensions whose sizes changed become symbolic and the
next trace is a dynamic variant (`symint.py`) that serves every later size.
`dynamic=True` makes every dimension of every array argument symbolic from the
first call; `dynamic=False` always specialises.

A dynamic variant is keyed by a *pattern*: the call key with each dynamic size
>= 2 replaced by its symbol. Sizes 0 and 1 stay in the pattern (broadcasting
and empty tensors are specialised, as in torch). Each dynamic dimension has its
own symbol (no "duck sizing": a batch of 3 beside 3 features must not need a
variant of its own); where the program needs two sizes equal (a broadcast, a
matmul's inner size), its shape check compared them, and that comparison is one
of the size guards that must hold as well.

For a call with new sizes the symbolic capture is instantiated (made concrete
for those sizes, `trace/instantiate.py`) and built like any variant: its passes,
memory plan and kernels are those of the concrete graph, and the backend's
content-addressed kernel cache serves kernels whose source does not depend on
the sizes. The instance is remembered under the call's exact key, so the next
call with those sizes is a plain dict hit. No retrace happens, and instances do
not count as variants (`max_variants`).

Safety net (never a wrong answer): a dynamic trace is compared with a concrete
trace at other sizes (the previous variant's, or, with `dynamic=True`, a second
trace at the first new size): the symbolic capture instantiated there must be
the same program, node for node, params and constants included. A difference
means a size escaped the tracking (`len(x)`, `int(n)`, `np.prod(shape)`...):
the function specialises from then on and `explain` says why.
"""
from __future__ import annotations

import numpy as np

from ..symint import format_expr
from ..trace.instantiate import SizeEscaped, instantiate, same_capture

MAX_INSTANCES = 256  # sizes remembered per function; beyond, each new size instantiates again


def _shaped(leaf_key) -> bool:
    return leaf_key[0] in ("tensor", "array")


def pattern_of(key: tuple, dims: dict) -> tuple | None:
    """(pattern key, sizes per symbol, {position: {axis: symbol}}) of a call key, or None
    if a dynamic dimension does not exist in it."""
    leaves = list(key[2])
    sizes: list[int] = []
    axes_symbols: dict[int, dict] = {}
    for pos in sorted(dims):
        if pos >= len(leaves) or not _shaped(leaves[pos]):
            return None
        k = leaves[pos]
        shape = list(k[1])
        for axis in sorted(dims[pos]):
            if axis >= len(shape):
                return None
            size = shape[axis]
            if size >= 2:
                shape[axis] = ("s", len(sizes))
                axes_symbols.setdefault(pos, {})[axis] = len(sizes)
                sizes.append(size)
        leaves[pos] = (k[0], tuple(shape)) + tuple(k[2:])
    return (key[0], key[1], tuple(leaves)), tuple(sizes), axes_symbols


def changed_dims(old: tuple, new: tuple) -> dict | None:
    """{position: axes whose size differs} if the keys differ only in sizes, else None."""
    if old[0] != new[0] or old[1] != new[1] or len(old[2]) != len(new[2]):
        return None
    changed: dict[int, set] = {}
    for pos, (a, b) in enumerate(zip(old[2], new[2])):
        if a == b:
            continue
        if not (_shaped(a) and a[0] == b[0] and a[2:] == b[2:] and len(a[1]) == len(b[1])):
            return None
        changed[pos] = {axis for axis, (x, y) in enumerate(zip(a[1], b[1])) if x != y}
    return changed or None


def all_dims(key: tuple) -> dict:
    """Every dimension of every array argument (`dynamic=True`)."""
    return {pos: set(range(len(k[1]))) for pos, k in enumerate(key[2]) if _shaped(k)}


def merge_dims(a: dict, b: dict) -> dict:
    out = {pos: set(axes) for pos, axes in a.items()}
    for pos, axes in b.items():
        out.setdefault(pos, set()).update(axes)
    return out


class DynamicVariant:
    """A symbolic capture and how to match and instantiate it (see the module docstring)."""

    def __init__(self, capture, key: tuple, dims: dict) -> None:
        self.capture = capture  # shapes and params hold SymInts
        self.dims = dims
        self.pattern, self.sizes, self.axes_symbols = pattern_of(key, dims)
        self.guards = tuple(capture.size_guards)
        self.verified = False
        self.variant = None  # the instance at the traced sizes (in the function's `order`)
        self.last_failure = ""

    def match(self, key: tuple) -> tuple | None:
        """The call's sizes per symbol if this variant serves the call, else None."""
        found = pattern_of(key, self.dims)
        if found is None or found[0] != self.pattern:
            return None
        sizes = found[1]
        for guard in self.guards:
            if not guard.holds(sizes):
                self.last_failure = f"{guard.describe()} fails for sizes {self.describe_sizes(sizes)}"
                return None
        return sizes

    def holds_at(self, key: tuple) -> tuple | None:
        """`match`, for a key at other sizes than the traced ones (verification)."""
        sizes = self.match(key)
        return sizes if sizes is not None and sizes != self.sizes else None

    def instance_capture(self, sizes: tuple):
        return instantiate(self.capture, sizes)

    def verify(self, other_capture, sizes: tuple) -> str | None:
        """None if the symbolic capture at `sizes` is `other_capture` (traced there)."""
        try:
            mine = instantiate(self.capture, sizes)
        except SizeEscaped as exc:
            return str(exc)
        return same_capture(mine, other_capture)

    def describe_sizes(self, sizes: tuple) -> str:
        return ", ".join(f"s{k}={v}" for k, v in enumerate(sizes))

    def describe(self, key: tuple) -> list[str]:
        """Guard lines: the arguments with their symbolic shapes, then the size guards."""
        lines = []
        for pos, k in enumerate(self.pattern[2]):
            if pos in self.axes_symbols:
                shape = ", ".join(f"s{d[1]}" if isinstance(d, tuple) else str(d) for d in k[1])
                kind = "Tensor" if k[0] == "tensor" else "ndarray"
                lines.append(f"argument {pos}: {kind} {np.dtype(k[2]).name}[{shape}]"
                             + (" requires_grad" if k[0] == "tensor" and k[3] else ""))
        symbols = ", ".join(f"s{k}" for k in range(len(self.sizes)))
        lines.append(f"sizes {symbols}: any size >= 2 (0 and 1 are specialised; traced at "
                     f"{self.describe_sizes(self.sizes)})" + ("" if self.verified else
                                                              "; not yet checked at other sizes"))
        if any(len(axes) < len(self.pattern[2][pos][1]) for pos, axes in self.axes_symbols.items()):
            lines.append("sizes shown as numbers are specialised: 0 or 1, or one size in every "
                         "call so far (automatic dynamic makes a dimension symbolic once it changes)")
        lines += [g.describe() for g in self.guards]
        lines += [f"size-derived constant: {format_expr(e)}" for e in self.capture.constant_exprs.values()]
        return lines
