"""Memory planning over a kernel schedule: liveness and buffer reuse.

Every kernel output (the values a schedule materialises) gets a buffer, and
so does a matmul's product that only its own epilogue reads (`written`): BLAS
writes it, the epilogue reads it, so it lives within its kernel and must not
share a buffer with that kernel's outputs (the Numba backend's reason:
backends/numba/steps.py, MatmulStep).
Liveness is counted in kernel steps: a value is live from the kernel that
writes it to the last kernel that reads it; graph outputs (the user's
results, guard values, effects and, in a forward graph, the values saved for
backward) live to the end. A kernel never writes into a buffer one of its own
inputs still occupies (kernels are not assumed to work in place).

Reuse rule: an intermediate (a kernel output that is not a graph output)
takes a free buffer of the same dtype whose size is at least its own and at
most twice it (best fit), else a new buffer. Graph outputs always get their
own buffer; graph inputs and constants are never written.

Views: an opaque reshape or transpose kernel (not a graph output) gets no
buffer; it is a view of its input (NumPy's reshape/transpose), recorded in
`views`, and its input's buffer stays live as long as the view is read. A
reshape of a transposed view is not one: NumPy copies it, so it is a value
of its own and its input may die at once (an im2col result reshaped into a
GEMM operand is not kept alive beside its copy). A backend may still copy a
view, or return a view where the plan expects a copy; it then keeps that
array (or copies it) itself.

Figures (inputs and constants are not counted in any of them):
  peak_bytes_naive    every kernel output its own buffer, all alive at once
  peak_bytes_planned  bytes of all buffers the plan allocates (reused
                      intermediates + graph outputs): what a backend following
                      the plan holds at its peak, the end of the call
  peak_bytes_live     max over kernel steps of the bytes of live values (a
                      lower bound no buffer assignment can beat)
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from ..ir.printer import dtype_short, format_graph
from .schedule import Schedule
from ..units import bytes_text

MAX_WASTE = 2  # a value may take a free buffer up to this many times its size


@dataclass(frozen=True, slots=True)
class Buffer:
    index: int
    nbytes: int
    dtype: np.dtype
    vars: tuple[int, ...]  # ids of the values stored in it, in schedule order
    output: bool  # holds a graph output (never shared)


@dataclass(frozen=True, slots=True)
class MemoryPlan:
    schedule: Schedule
    buffers: tuple[Buffer, ...]
    assignment: dict  # var id -> buffer index
    live: dict  # var id -> (kernel writing it, last kernel reading it; len(kernels) = end)
    views: dict  # var id -> var id of the value it is a view of (no buffer)
    in_place: dict  # matmul product id -> id of the kernel output whose buffer it is written in
    peak_bytes_naive: int
    peak_bytes_planned: int
    peak_bytes_live: int

    def __str__(self) -> str:
        names: dict[int, str] = {}
        format_graph(self.schedule.graph, sources=False, names=names)
        end = len(self.schedule.kernels)
        lines = [f"memory plan: {end} kernels, {len(self.buffers)} buffers",
                 f"  peak naive   {_mb(self.peak_bytes_naive)} (every kernel output its own buffer)",
                 f"  peak planned {_mb(self.peak_bytes_planned)} (buffers allocated, reused once dead)",
                 f"  peak live    {_mb(self.peak_bytes_live)} (live values, a lower bound)"]
        for b in self.buffers:
            spans = []
            for vid in b.vars:
                first, last = self.live[vid]
                spans.append(f"{names.get(vid, vid)} k{first}-{'end' if last >= end else f'k{last}'}")
            role = "output" if b.output else "temp"
            lines.append(f"  buf{b.index:<3} {role:<6} {dtype_short(b.dtype)} {b.nbytes:>12,} B  "
                         + ", ".join(spans))
        return "\n".join(lines)


def _mb(n: int) -> str:
    return f"{n:,} B ({bytes_text(n)})"


def written(kernel) -> tuple:
    """The values a kernel writes into buffers: its outputs, and a matmul kernel's product
    when the product is read inside the kernel only."""
    if kernel.kind != "matmul" or len(kernel.nodes) == 1:
        return kernel.outputs
    product = kernel.nodes[0].out
    if any(v.id == product.id for v in kernel.outputs):
        return kernel.outputs
    return (product,) + kernel.outputs


def plan_memory(schedule: Schedule) -> MemoryPlan:
    kernels = schedule.kernels
    graph_outputs = {v.id for v in schedule.graph.outputs}
    nbytes = {v.id: v.nbytes for k in kernels for v in written(k)}
    views = _views(kernels, graph_outputs)
    written_at, last = _liveness(kernels, graph_outputs, views)
    buffers, assignment, in_place = _assign_buffers(kernels, graph_outputs, views, last)
    return MemoryPlan(schedule, buffers, assignment,
                      {vid: (written_at[vid], last[vid]) for vid in written_at},
                      views, in_place, sum(nbytes.values()), sum(b.nbytes for b in buffers),
                      _peak_live(len(kernels), nbytes, written_at, last, views, in_place))


def _views(kernels, graph_outputs: set[int]) -> dict[int, int]:
    """Var id -> the var id it is a view of, for opaque view kernels that are not outputs.
    A contiguous view (reshape) of a strided one (a transpose) is a copy in NumPy: a value
    of its own, so its input may die."""
    views: dict[int, int] = {}
    strided: set[int] = set()  # views that may be non-contiguous
    for k in kernels:
        prim = k.nodes[0].prim
        if k.kind != "opaque" or not prim.view or k.outputs[0].id in graph_outputs:
            continue  # NumPy's view: no buffer of its own
        base = k.nodes[0].inputs[0].id
        if base in strided and not prim.strided:
            continue
        views[k.outputs[0].id] = base
        if prim.strided or base in strided:
            strided.add(k.outputs[0].id)
    return views


def _liveness(kernels, graph_outputs: set[int], views: dict[int, int]):
    """(var id -> kernel writing it, var id -> last kernel reading it; len(kernels) = end)."""
    written_at = {v.id: k.index for k in kernels for v in written(k)}
    last = dict(written_at)
    for k in kernels:
        for v in k.inputs:
            if v.id in last:
                last[v.id] = max(last[v.id], k.index)
    for vid in graph_outputs & last.keys():
        last[vid] = len(kernels)
    for vid in sorted(views, key=lambda v: -written_at[v]):  # a view keeps its base alive
        base = views[vid]
        if base in last:
            last[base] = max(last[base], last[vid])
    return written_at, last


def _assign_buffers(kernels, graph_outputs: set[int], views: dict[int, int], last: dict[int, int]):
    """(buffers, var id -> buffer index): kernel by kernel, each output takes the best-fitting
    free buffer (intermediates only) or a new one; buffers free after their last reader."""
    dying: dict[int, list[int]] = {}  # kernel index -> values whose last reader it is
    for vid, k in last.items():
        dying.setdefault(k, []).append(vid)
    sizes: list[int] = []
    dtypes: list[np.dtype] = []
    contents: list[list[int]] = []
    is_output: list[bool] = []
    free: list[int] = []
    assignment: dict[int, int] = {}
    in_place: dict[int, int] = {}  # product id -> the output id whose buffer it is written in

    def new_buffer(v, output: bool) -> int:
        sizes.append(v.nbytes)
        dtypes.append(v.dtype)
        contents.append([])
        is_output.append(output)
        return len(sizes) - 1

    for k in kernels:
        outputs, product = written(k), None
        if outputs is not k.outputs:  # a product read inside its kernel only
            product, outputs = outputs[0], k.outputs
            buf = _best_fit(free, sizes, dtypes, product)
            if buf is not None:  # a free buffer: the epilogue reads it and writes elsewhere
                free.remove(buf)
                assignment[product.id] = buf
                contents[buf].append(product.id)
                product = None
        for v in outputs:
            if v.id in views:
                continue
            buf = None if v.id in graph_outputs else _best_fit(free, sizes, dtypes, v)
            if buf is None:
                buf = new_buffer(v, v.id in graph_outputs)
            else:
                free.remove(buf)
            assignment[v.id] = buf
            contents[buf].append(v.id)
        if product is not None:  # no free buffer: in place in an output of its size
            host = next((v for v in outputs if v.dtype == product.dtype and v.nbytes == product.nbytes
                         and v.id in assignment), None)
            if host is None:
                buf = new_buffer(product, False)
                contents[buf].append(product.id)
            else:
                buf = assignment[host.id]
                contents[buf].insert(contents[buf].index(host.id), product.id)
                in_place[product.id] = host.id
            assignment[product.id] = buf
        for vid in dying.get(k.index, ()):  # free after the kernel ran, for later kernels
            if vid in assignment and vid not in in_place and not is_output[assignment[vid]]:
                free.append(assignment[vid])
    buffers = tuple(Buffer(i, sizes[i], dtypes[i], tuple(contents[i]), is_output[i])
                    for i in range(len(sizes)))
    return buffers, assignment, in_place


def _best_fit(free: list[int], sizes: list[int], dtypes: list[np.dtype], v) -> int | None:
    """The smallest free buffer of v's dtype holding v without wasting over MAX_WASTE times."""
    need = v.nbytes
    fits = [b for b in free if need <= sizes[b] <= MAX_WASTE * max(need, 1) and dtypes[b] == v.dtype]
    return min(fits, key=lambda b: (sizes[b], b), default=None)


def _peak_live(end: int, nbytes: dict[int, int], written: dict[int, int], last: dict[int, int],
               views: dict[int, int], in_place: dict[int, int]) -> int:
    """Max over kernel steps of the bytes of live values (views, and products written in
    place in an output, hold no bytes of their own)."""
    change = [0] * (end + 1)  # live bytes per step, as a difference array
    for vid, first in written.items():
        if vid not in views and vid not in in_place:
            change[first] += nbytes[vid]
            change[min(last[vid], end - 1) + 1] -= nbytes[vid]
    return max(itertools.accumulate(change), default=0)
