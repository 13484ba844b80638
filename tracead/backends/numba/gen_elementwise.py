"""Elementwise kernels -> source (backend stage: codegen, see codegen.py).

    @njit(cache=True, nogil=True, error_model="numpy")
    def kernel_nd(a0, a1, out3):
        # a0 %0:f32[64,1], a1 %1:f32[128] -> out3 %3:f32[64,128]: loop nest, broadcasting by index
        for i0 in range(64):                         # axis 0
            v0 = a0[i0, 0]                           # %0 input f32[64,1]
            v2 = fexp(v0)                            # %2 = exp %0 | model.py:8 in f
            for i1 in range(128):                    # axis 1
                v1 = a1[0, i1]                       # %1 input f32[128]
                v3 = v2 * v1                         # %3 = mul %2 %1 | model.py:8 in f
                out3[i0, i1] = v3                    # %3 output

One statement per node, each at the shallowest loop depth where all its
inputs are known (`place`: `exp` of a (64, 1) input runs in the outer loop
only), and a store per output in the innermost loop. Entries: `kernel_flat`
(one flat loop) when every input is full-shape or a single element, and
`kernel_nd` (the nest above) for 2-d and more. Reduce kernels place their
prologue with `place` too.
"""
from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, replace

import numpy as np

from .writer import (Entry, Line, Names, Writer, axis_loops, chunk_count, chunk_loops, index_expr,
                     pad)


def generate(kernel, names: Names, parallel: bool) -> list[tuple[Entry, str]]:
    """(entry, function source) for each entry the kernel has."""
    nd, size = len(kernel.shape), int(np.prod(kernel.shape, dtype=np.int64))
    full = [pad(v.shape, nd) == tuple(kernel.shape) for v in kernel.inputs]
    functions = []
    if all(f or v.size == 1 for f, v in zip(full, kernel.inputs)):
        ins = tuple((size,) if f else (1,) for f in full)
        outs = tuple((size,) for _ in kernel.outputs)
        entry = Entry("kernel_flat", ins, outs, True)
        functions.append(_function(entry, kernel, names, (size,), parallel, "one flat loop"))
    if nd >= 2:
        ins = tuple(pad(v.shape, nd) for v in kernel.inputs)
        outs = tuple(tuple(kernel.shape) for _ in kernel.outputs)
        entry = Entry("kernel_nd", ins, outs, False)
        functions.append(_function(entry, kernel, names, tuple(kernel.shape), parallel,
                                   "loop nest, broadcasting by index"))
    return functions


def _function(entry: Entry, kernel, names: Names, loop_shape, parallel: bool, what: str):
    """(entry, source); a parallel one runs chunks of its outer axis (writer.chunk_loops)."""
    placed = place(kernel.nodes, kernel.inputs, entry.in_views, loop_shape, names)
    chunked = parallel and bool(placed.axes)
    w = Writer(names)
    w.frame(entry.name, kernel, chunked, what, entry.in_views + entry.out_views)
    stores = [names.store(v, index_expr(view, loop_shape, placed.indices))
              for v, view in zip(kernel.outputs, entry.out_views)]
    loops, lines = axis_loops(placed.axes, loop_shape), placed.lines
    if chunked:
        outer = loop_shape[placed.axes[0]]
        _, loops[:1] = chunk_loops(placed.axes[0], outer)
        lines = [lines[0], []] + lines[1:]
        entry = replace(entry, chunks=chunk_count(outer))
    with ExitStack() as nest:
        for depth, loop in enumerate(loops):
            w.lines(lines[depth])
            nest.enter_context(w.loop(loop))
        w.lines(lines[-1] + stores)
    return entry, w.text()


@dataclass(frozen=True, slots=True)
class Placed:
    """Loads and statements by loop depth (0: outside every loop)."""

    lines: list[list[Line]]  # one list per depth, len(axes) + 1
    axes: list[int]  # the axes that get a loop (length != 1), outermost first
    indices: list[str]  # the index name of every axis of the loop shape


def place(nodes, inputs, in_views, loop_shape, names: Names) -> Placed:
    """Loads and node statements, each as shallow as its inputs allow."""
    axes = [k for k, n in enumerate(loop_shape) if n != 1]
    axis_depth = {k: i + 1 for i, k in enumerate(axes)}
    indices = [f"i{k}" for k in range(len(loop_shape))]
    lines: list[list[Line]] = [[] for _ in range(len(axes) + 1)]
    depth: dict[int, int] = {}
    for var, view in zip(inputs, in_views):
        d = max((axis_depth[k] for k in axes if view[k] != 1), default=0)
        depth[var.id] = d
        lines[d].append(names.load(var, index_expr(view, loop_shape, indices)))
    for node in nodes:
        d = max(depth[v.id] for v in node.inputs)
        depth[node.out.id] = d
        lines[d].append(names.statement(node))
    return Placed(lines, axes, indices)
