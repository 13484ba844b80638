"""Plumbing for generated kernel source (backend stage: codegen helpers).

`Writer` builds indented lines with right-aligned comments; `Nest` is a
loop nest with statements placed at a depth (loop-invariant values are
computed outside the loops that do not change them); `Names` maps graph
values to the names the printed graph uses (%12) and to Python identifiers
(v12 value, a12 input array, out12 output array).
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

from ...ir.printer import format_graph, type_str

COMMENT_COLUMN = 56


class Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.depth = 0

    def line(self, code: str = "", comment: str = "") -> None:
        text = "    " * self.depth + code
        if comment:
            text = f"{text:<{COMMENT_COLUMN}} # {comment}" if code else f"{text}# {comment}"
        self.lines.append(text.rstrip())

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
    """Stable names from the printed graph, so comments match `str(graph)`."""

    def __init__(self, graph) -> None:
        self.pct: dict[int, str] = {}
        format_graph(graph, sources=False, names=self.pct)

    def __call__(self, var) -> str:
        return self.pct.get(var.id, f"%v{var.id}")

    def value(self, var) -> str:
        return "v" + self(var)[1:]

    def array_in(self, var) -> str:
        return "a" + self(var)[1:]

    def array_out(self, var) -> str:
        return "out" + self(var)[1:]

    def node(self, node) -> str:
        """'%5 = mul %3 %4 | model.py:12 in f' for statement comments."""
        args = " ".join(self(v) for v in node.inputs)
        params = "".join(f" {k}={v}" for k, v in node.params)
        text = f"{self(node.out)} = {node.prim.name} {args}{params}"
        return f"{text} | {node.source}" if node.source is not None else text

    def typed(self, var) -> str:
        return f"{self(var)}:{type_str(var)}"
