"""The one writer of generated kernel source (backend stage: codegen).

Every kernel generator (gen_elementwise.py, gen_reduce.py, gen_rowwise.py)
writes its function through a `Writer`: lines with right-aligned comments,
blocks that indent, and the few idioms every kernel shares, written here
once:

  frame           `@njit(...)`, the def line and a one-line summary comment
  loop            `for i0 in range(64):` (a `Loop`)
  axis_loops      one Loop per axis of the kernel's space
  chunk_loops     the outer axis cut into fixed chunks, the chunks `c0 <= c < c1`
                  this call runs (a chunked kernel, run by threads.ChunkPool)
  reduction_loop  the innermost loop of a running reduction, written so that
                  it vectorises (reduce and rowwise kernels)

`Names` maps graph values to the names the printed graph uses (%12, in
comments) and to positional identifiers (v3 value, a0 input array, out5
output array), so kernels identical up to renaming are the same code.

Every size written into the source goes through `size_expr` (loop bounds,
buffer lengths, chunk bounds). A size is a literal, except the *run-time
sizes* of the kernel being generated (`runtime_sizes`, the symbolic dims of a
dynamic-shape variant's instance): `frame` reads each from an argument whose
view has it (`sz0 = a1.shape[0]`) and `size_expr` writes that name, so the
instances at other sizes generate the same source (one cache entry, one
Numba compile). Reading a size from the call is right whichever dims are
marked: the binding's value is the literal it replaces, so marking is only
about which sources are shared. Comments show run-time sizes as `?`.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from ...ir.printer import dtype_short, format_graph
from . import scalar

COMMENT_COLUMN = 56
CHUNKS = 32  # fixed chunks of a chunked outer axis, so chunked sums do not depend on the thread count

Line = tuple[str, str]  # (code, comment)


# -- sizes and indices ---------------------------------------------------------------
class _SizesNow(threading.local):  # per thread: two compiled functions may generate at once
    runtime: frozenset = frozenset()  # sizes of the kernel being generated read at run time
    bound: dict = {}  # size -> its name in the function being written (Writer.frame); never mutated


_Sizes = _SizesNow()


@contextmanager
def runtime_sizes(sizes):
    """Generate a kernel whose sizes in `sizes` (all >= 2) are read from its arguments."""
    saved = _Sizes.runtime, _Sizes.bound
    _Sizes.runtime, _Sizes.bound = frozenset(sizes), {}
    try:
        yield
    finally:
        _Sizes.runtime, _Sizes.bound = saved


class _InPlaceNow(threading.local):
    pair: tuple = ()  # (input position, output position) of the kernel being generated


_InPlace = _InPlaceNow()


@contextmanager
def in_place(pair):
    """Generate a kernel whose input `pair[0]` is the array of its output `pair[1]` (a
    matmul epilogue over its product's buffer): the loop reads the input through the
    output's name, so LLVM sees one array and vectorises. Through two names its
    run-time overlap check fails and the scalar fallback loop runs (steps.MatmulStep)."""
    saved = _InPlace.pair
    _InPlace.pair = tuple(pair or ())
    try:
        yield
    finally:
        _InPlace.pair = saved


def size_expr(n: int) -> str:
    """The source text of one dimension's length (the one place sizes are written)."""
    return _Sizes.bound.get(int(n)) or str(int(n))


def type_str(var) -> str:
    """`f32[?,128]`: a value's type for comments, run-time sizes as `?`."""
    return f"{dtype_short(var.dtype)}[{shape_comment(var.shape)}]"


def shape_comment(shape) -> str:
    return ",".join("?" if int(d) in _Sizes.runtime else str(d) for d in shape)


def shape_expr(dims) -> str:
    """A shape tuple as source text: `(3, 1)`, `(5,)`; dims are lengths or source text."""
    parts = [d if isinstance(d, str) else size_expr(d) for d in dims]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def pad(shape: tuple[int, ...], ndim: int) -> tuple[int, ...]:
    """Right-align a broadcastable shape to ndim axes (NumPy broadcasting)."""
    return (1,) * (ndim - len(shape)) + tuple(shape)


def index_expr(view: tuple[int, ...], loop_shape: tuple[int, ...], indices: list[str]) -> str:
    """`[i0, 0]`: the loop index on axes the view spans, 0 on broadcast axes."""
    parts = [idx if n != 1 and full != 1 else "0" for n, full, idx in zip(view, loop_shape, indices)]
    return "[" + ", ".join(parts) + "]"


@dataclass(frozen=True, slots=True)
class Loop:
    """`for index in range(start, stop):`, with its comment."""

    index: str
    start: str | int  # 0, or source text
    stop: str  # source text (size_expr)
    comment: str
    unsigned: bool = False  # index as np.uint64 (a loop not starting at 0: see reduction_loop)

    @property
    def header(self) -> str:
        if self.unsigned:
            return f"for {self.index} in range(np.uint64({self.start}), np.uint64({self.stop})):"
        bounds = self.stop if self.start == 0 else f"{self.start}, {self.stop}"
        return f"for {self.index} in range({bounds}):"


def axis_loops(axes, loop_shape) -> list[Loop]:
    """One loop per axis."""
    return [Loop(f"i{k}", 0, size_expr(loop_shape[k]), f"axis {k}") for k in axes]


def chunk_count(n: int) -> int:
    """The chunks of an outer axis of length n (chunk_loops)."""
    return min(CHUNKS, int(n))


def chunk_loops(axis: int, n: int) -> tuple[str, list[Loop]]:
    """(chunk count, loops): axis `axis` of length n in CHUNKS fixed chunks, this call's
    chunks `c0 <= c < c1` (the function's last two arguments, Writer.frame)."""
    chunks = size_expr(n)  # a run-time size: min(CHUNKS, n) at run time, same source for every n
    chunks = f"min({CHUNKS}, {chunks})" if not chunks.isdigit() else size_expr(chunk_count(n))
    lo, hi = f"c * {size_expr(n)} // {chunks}", f"(c + 1) * {size_expr(n)} // {chunks}"
    # The index is unsigned (as in reduction_loop, which writes its own) so that a chunk
    # of a 1-d kernel, its innermost loop, vectorises; indices are only ever subscripts.
    return chunks, [Loop("c", "c0", "c1", f"this call's chunks of axis {axis} ({chunks} in all)"),
                    Loop(f"i{axis}", lo, hi, f"axis {axis}, this chunk, unsigned index", True)]


# -- names ---------------------------------------------------------------------------
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
        self.labels: dict[int, str] = {}  # node.out.id -> node(): each is written twice

    def for_kernel(self, kernel) -> "Names":
        view = Names.__new__(Names)
        view.pct, view.labels = self.pct, self.labels
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
        label = self.labels.get(node.out.id)
        if label is None:
            args = " ".join(self(v) for v in node.inputs)
            params = "".join(f" {k}={v}" for k, v in node.params)
            label = f"{self(node.out)} = {node.prim.name} {args}{params}"
            label = self.labels[node.out.id] = f"{label} | {node.source}" if node.source is not None else label
        return label

    def typed(self, var) -> str:
        return f"{self(var)}:{type_str(var)}"

    # statements as data, so a generator can place them before writing them
    def load(self, var, index: str) -> Line:
        return f"{self.value(var)} = {self.array_in(var)}{index}", f"{self(var)} input {type_str(var)}"

    def store(self, var, index: str) -> Line:
        return f"{self.array_out(var)}{index} = {self.value(var)}", f"{self(var)} output"

    def statement(self, node) -> Line:
        """`v5 = np.float32(v3 * v4)`: one elementwise node (scalar.node_expression)."""
        expr = scalar.node_expression(node, [self.value(v) for v in node.inputs])
        return f"{self.value(node.out)} = {expr}", self.node(node)


# -- the writer ----------------------------------------------------------------------
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

    @property
    def block(self) -> str:  # the float32 partial sum of one block (split sums)
        return "blk" + self.name[3:] if self.name.startswith("acc") else self.name + "_blk"

    def step(self) -> Line:
        same = np.dtype(self.value_dtype) == np.dtype(self.dtype)
        value = self.value if same else scalar.cast(self.value, self.dtype)
        return f"{self.name} = {scalar.combine(self.template, self.name, value, self.dtype)}", self.label


class Writer:
    def __init__(self, names: Names | None = None) -> None:
        self.names = names
        self.out: list[str] = []
        self.depth = 0

    def line(self, code: str = "", comment: str = "") -> None:
        assert "#" not in code, code  # cache.canonical strips everything after a '#'
        text = "    " * self.depth + code
        if comment:
            text = f"{text:<{COMMENT_COLUMN}} # {comment}" if code else f"{text}# {comment}"
        self.out.append(text.rstrip())

    def lines(self, lines: list[Line]) -> None:
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

    def loop(self, loop: Loop):
        return self.block(loop.header, loop.comment)

    def text(self) -> str:
        return "\n".join(self.out) + "\n"

    def frame(self, name: str, kernel, chunked: bool, what: str, views=(), part: bool = False) -> None:
        """`@njit(...)`, the def line and a summary; leaves the writer inside the function.
        `views`: the arguments' views (inputs, then outputs), to read run-time sizes from.
        chunked: the function runs chunks `c0 <= c < c1` (its last arguments) of its outer
        loop, after `part` (the per-chunk partial results) when part."""
        names = self.names
        flags = "cache=True, nogil=True, error_model=\"numpy\""
        args = [names.array_in(v) for v in kernel.inputs] + [names.array_out(v) for v in kernel.outputs]
        extra = (["part"] if part else []) + (["c0", "c1"] if chunked else [])
        self.line(f"@njit({flags})")
        self.line(f"def {name}({', '.join(args + extra)}):")
        self.depth += 1
        sig = ", ".join(f"{names.array_in(v)} {names.typed(v)}" for v in kernel.inputs) + " -> " + ", ".join(
            f"{names.array_out(v)} {names.typed(v)}" for v in kernel.outputs)
        self.line(comment=f"{sig}: {what}")  # a comment, not a docstring: not part of the cache key
        if _InPlace.pair:
            source, target = _InPlace.pair
            self.line(f"{names.array_in(kernel.inputs[source])} = {names.array_out(kernel.outputs[target])}",
                      "in place: the caller passes one array for both")
        _Sizes.bound = {}
        for arg, view in zip(args, views):
            for axis, n in enumerate(view):
                if n in _Sizes.runtime and n not in _Sizes.bound:
                    sz = _Sizes.bound[n] = f"sz{len(_Sizes.bound)}"
                    self.line(f"{sz} = {arg}.shape[{axis}]", "a size read at run time")

    def reduction_loop(self, loop: Loop, body: list[Line], accs: list[Acc]) -> None:
        """`loop` running `body`, then one step per Acc.

        Steps are reduce_steps calls, so the loop vectorises (SIMD partial sums).
        Split sums (float32 into float64) run in blocks of SUM_BLOCK with a float32
        partial sum each (scalar.SUM_BLOCK says why and how accurate). A loop not
        starting at 0 runs an unsigned index: a signed one could be negative (to
        LLVM; NumPy-style wraparound), and LLVM would then gather every element
        instead of loading contiguous vectors.
        """
        index, start, stop, comment = loop.index, loop.start, loop.stop, loop.comment
        split = [a for a in accs if a.split]
        steps = [a.step() for a in accs if not a.split]
        if not split:
            header = (loop.header if start == 0
                      else f"for {index} in range(np.uint64({start}), np.uint64({stop})):")
            with self.block(header, comment + ("" if start == 0 else ", unsigned index")):
                self.lines(body + steps)
            return
        blk = scalar.SUM_BLOCK
        with self.block(f"for b in range({start}, {stop}, {blk}):", f"{comment}, in blocks of {blk}"):
            self.lines([(f"{a.block} = {scalar.literal(0, a.value_dtype)}", f"{a.label} (this block)")
                        for a in split])
            with self.block(f"for {index} in range(np.uint64(b), np.uint64(min(b + {blk}, {stop}))):",
                            "unsigned index: contiguous loads"):
                self.lines(body + steps + [(f"{a.block} = {scalar.combine('+', a.block, a.value, a.value_dtype)}",
                                            a.label) for a in split])
            self.lines([(f"{a.name} = {a.name} + {scalar.cast(a.block, a.dtype)}", a.label) for a in split])


@dataclass(frozen=True, slots=True)
class Entry:
    """One generated function and how to view the arrays it is called with."""

    name: str
    in_views: tuple[tuple[int, ...], ...]
    out_views: tuple[tuple[int, ...], ...]
    flat: bool  # True: full-shape inputs must be C-contiguous (0-d/1-d kernels: any layout)
    chunks: int = 0  # > 0: a chunked function, (arrays..., [part,] c0, c1) (threads.pooled)
    part: tuple | None = None  # (shape, dtype) of the per-chunk partials; `name`_combine adds them
