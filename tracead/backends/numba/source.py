"""Plumbing for generated kernel source (backend stage: codegen helpers).

`Writer` builds indented lines with right-aligned comments; `Nest` is a
loop nest with statements placed at a depth (loop-invariant values are
computed outside the loops that do not change them); `Names` maps graph
values to the names the printed graph uses (%12) and to Python identifiers
(v12 value, a12 input array, out12 output array); `function_frame` opens
a kernel function; `reduction_loop` writes the innermost loop of a
reduction so that it vectorises (reduce and rowwise kernels share it).
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ...ir.printer import format_graph, type_str
from . import scalar

COMMENT_COLUMN = 56


class Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.depth = 0

    def line(self, code: str = "", comment: str = "") -> None:
        assert "#" not in code, code  # cache.canonical strips everything after a '#'
        text = "    " * self.depth + code
        if comment:
            text = f"{text:<{COMMENT_COLUMN}} # {comment}" if code else f"{text}# {comment}"
        self.lines.append(text.rstrip())

    def lines_at(self, lines: list[tuple[str, str]]) -> None:
        """Many (code, comment) lines at the current depth."""
        for code, comment in lines:
            self.line(code, comment)

    @contextmanager
    def block(self, header: str, comment: str = ""):
        self.line(header, comment)
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


Line = tuple[str, str]  # (code, comment)


@dataclass
class Nest:
    """Loops `headers[0]` (outermost) ... ; `before[d]` runs at depth d before
    loop d opens, `after[d]` at depth d after it closes, `body` innermost."""

    headers: list[tuple[str, str]]
    before: list[list[Line]] = field(default_factory=list)
    after: list[list[Line]] = field(default_factory=list)
    body: Callable[[Writer], None] | None = None

    def __post_init__(self) -> None:
        depth = len(self.headers) + 1
        self.before = self.before or [[] for _ in range(depth)]
        self.after = self.after or [[] for _ in range(depth)]

    def emit(self, w: Writer, d: int = 0) -> None:
        for code, comment in self.before[d]:
            w.line(code, comment)
        if d < len(self.headers):
            with w.block(*self.headers[d]):
                self.emit(w, d + 1)
            for code, comment in self.after[d]:
                w.line(code, comment)
        elif self.body is not None:
            self.body(w)


def loop_header(index: str, start, stop, parallel: bool) -> str:
    rng = "prange" if parallel else "range"
    return f"for {index} in {rng}({stop}):" if start == 0 else f"for {index} in {rng}({start}, {stop}):"


def pad(shape: tuple[int, ...], ndim: int) -> tuple[int, ...]:
    """Right-align a broadcastable shape to ndim axes (NumPy broadcasting)."""
    return (1,) * (ndim - len(shape)) + tuple(shape)


def index_expr(view: tuple[int, ...], loop_shape: tuple[int, ...], indices: list[str]) -> str:
    """`[i0, 0]`: the loop index on axes the view spans, 0 on broadcast axes."""
    parts = [idx if n != 1 and full != 1 else "0" for n, full, idx in zip(view, loop_shape, indices)]
    return "[" + ", ".join(parts) + "]"


class Names:
    """Stable names from the printed graph, so comments match `str(graph)`.

    Identifiers in the code are positional within one kernel (`for_kernel`):
    inputs, then node results, numbered in kernel order (a0, v3, out5), so two
    kernels identical up to renaming generate the same code and share one cache
    entry (cache.py keys the code without its comments). Comments keep the
    graph's names (%12) and the user's source lines."""

    def __init__(self, graph) -> None:
        self.pct: dict[int, str] = {}
        format_graph(graph, sources=False, names=self.pct)
        self.local: dict[int, str] = {}

    def for_kernel(self, kernel) -> "Names":
        view = Names.__new__(Names)
        view.pct = self.pct
        view.local = {}
        for v in kernel.inputs:
            view.local.setdefault(v.id, str(len(view.local)))
        for node in kernel.nodes:
            view.local.setdefault(node.out.id, str(len(view.local)))
        return view

    def __call__(self, var) -> str:
        return self.pct.get(var.id, f"%v{var.id}")

    def ident(self, var) -> str:
        """The value's number in identifiers: positional in a kernel (see the class doc)."""
        local = self.local.get(var.id)
        return local if local is not None else self(var)[1:]

    def value(self, var) -> str:
        return "v" + self.ident(var)

    def array_in(self, var) -> str:
        return "a" + self.ident(var)

    def array_out(self, var) -> str:
        return "out" + self.ident(var)

    def node(self, node) -> str:
        """'%5 = mul %3 %4 | model.py:12 in f' for statement comments."""
        args = " ".join(self(v) for v in node.inputs)
        params = "".join(f" {k}={v}" for k, v in node.params)
        text = f"{self(node.out)} = {node.prim.name} {args}{params}"
        return f"{text} | {node.source}" if node.source is not None else text

    def typed(self, var) -> str:
        return f"{self(var)}:{type_str(var)}"


def function_frame(w: Writer, name: str, kernel, names: Names, parallel: bool, what: str) -> None:
    """`@njit(...)`, the def line and a docstring; leaves `w` inside the function."""
    flags = "cache=True, nogil=True, error_model=\"numpy\"" + (", parallel=True" if parallel else "")
    args = [names.array_in(v) for v in kernel.inputs] + [names.array_out(v) for v in kernel.outputs]
    w.line(f"@njit({flags})")
    w.line(f"def {name}({', '.join(args)}):")
    w.depth += 1
    sig = ", ".join(f"{names.array_in(v)} {names.typed(v)}" for v in kernel.inputs) + " -> " + ", ".join(
        f"{names.array_out(v)} {names.typed(v)}" for v in kernel.outputs)
    w.line(comment=f"{sig}: {what}")  # a comment, not a docstring: not part of the cache key


@dataclass(frozen=True, slots=True)
class Acc:
    """A running reduction in a loop: `name = step(name, value)`."""

    name: str
    value: str  # expression of the element to combine (of dtype `value_dtype`)
    template: str  # the reduce prim's template, "+" or "max"
    dtype: object  # the accumulator's
    value_dtype: object
    label: str  # comment: the reduce node

    @property
    def split(self) -> bool:  # float32 summed in float64: in blocks (scalar.SUM_BLOCK)
        return scalar.split_sum(self.template, self.value_dtype, self.dtype)


def reduction_loop(w: Writer, index: str, start, stop, comment: str, body: list[Line], accs: list[Acc]) -> None:
    """`for index in range(start, stop)` running `body`, then one step per Acc.

    Steps are reduce_steps calls, so the loop vectorises (SIMD partial sums).
    Split sums (float32 into float64) run in blocks of SUM_BLOCK with a float32
    partial sum each (scalar.SUM_BLOCK says why and how accurate). A loop not
    starting at 0 runs an unsigned index: a signed one could be negative (to
    LLVM; NumPy-style wraparound), and LLVM would then gather every element
    instead of loading contiguous vectors.
    """
    split = [a for a in accs if a.split]
    steps = [(f"{a.name} = {scalar.combine(a.template, a.name, _widen(a), a.dtype)}", a.label)
             for a in accs if not a.split]
    if not split:
        header = (loop_header(index, 0, stop, False) if start == 0
                  else f"for {index} in range(np.uint64({start}), np.uint64({stop})):")
        with w.block(header, comment + ("" if start == 0 else ", unsigned index")):
            w.lines_at(body + steps)
        return
    blk = scalar.SUM_BLOCK
    with w.block(f"for b in range({start}, {stop}, {blk}):", f"{comment}, in blocks of {blk}"):
        w.lines_at([(f"{_block(a)} = {scalar.literal(0, a.value_dtype)}", f"{a.label} (this block)")
                    for a in split])
        with w.block(f"for {index} in range(np.uint64(b), np.uint64(min(b + {blk}, {stop}))):",
                     "unsigned index: contiguous loads"):
            w.lines_at(body + steps + [(f"{_block(a)} = {scalar.combine('+', _block(a), a.value, a.value_dtype)}",
                                        a.label) for a in split])
        w.lines_at([(f"{a.name} = {a.name} + {scalar.cast(_block(a), a.dtype)}", a.label) for a in split])


def _block(acc: Acc) -> str:
    return "blk" + acc.name[3:] if acc.name.startswith("acc") else acc.name + "_blk"


def _widen(acc: Acc) -> str:
    same = np.dtype(acc.value_dtype) == np.dtype(acc.dtype)
    return acc.value if same else scalar.cast(acc.value, acc.dtype)
