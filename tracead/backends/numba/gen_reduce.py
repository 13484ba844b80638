"""Reduce kernels -> source (backend stage: codegen, see codegen.py; contract: plan/schedule.py).

A reduce kernel is an elementwise prologue (placed as gen_elementwise.place
places it; its values may be outputs too) and one sum or max as its last node.
Three forms, by where the reduced axes sit in the loop nest:

  trivial  every reduced axis has length 1: a loop nest, the reduction is
           one combine with the identity per element.
  scalar   the reduced loops are innermost: one running accumulator per kept
           index, the innermost loop a reduction loop (Writer.reduction_loop:
           reduce_steps calls, so it vectorises; float32 sums in float32
           blocks added up in float64, scalar.SUM_BLOCK).
  array    a reduced axis outside a kept one: accumulate into an array of the
           kept shape (the inner loops are then elementwise and vectorise),
           then convert it into the output.

Parallel: the outer axis in fixed chunks (writer.chunk_loops), the function
running chunks `c0 <= c < c1` (threads.py runs the chunks on its pool). When
the outer axis is reduced, each chunk writes a partial result into `part`
(an argument, one per call) and `kernel_*_combine` adds them in chunk order,
so the result does not depend on the thread count.

    for c in range(c0, c1):                      # this call's chunks of axis 0 (32 in all)
        for i0 in range(np.uint64(c * 50 // 32), np.uint64((c + 1) * 50 // 32)):
            acc = np.float64(0.0)                 # %2 = sum %1 axes=(1,) keepdims=False
            for i1 in range(7):                   # axis 1
                v0 = a0[i0, i1]                   # %0 input f64[50,7]
                v1 = fexp(v0)                     # %1 = exp %0
                acc = add_reassoc(acc, v1)        # %2 = sum %1 axes=(1,) keepdims=False
            out2[i0, 0] = np.float64(acc)         # %2 = sum %1 axes=(1,) keepdims=False
"""
from __future__ import annotations

from contextlib import ExitStack
from dataclasses import replace

import numpy as np

from . import scalar
from .gen_elementwise import place
from .writer import Acc, Entry, Names, Writer, axis_loops, chunk_count, chunk_loops, index_expr, pad, shape_expr


def generate(kernel, names: Names, parallel: bool) -> list[tuple[Entry, str]]:
    """(entry, function source) for each entry the kernel has: `kernel_flat` when the
    whole (C-contiguous) space is reduced, `kernel_nd` otherwise and for 2-d and more."""
    red = kernel.nodes[-1]
    nd, size = len(kernel.shape), int(np.prod(kernel.shape, dtype=np.int64))
    axes = set(red.kwargs["axes"])
    full = [pad(v.shape, nd) == tuple(kernel.shape) for v in kernel.inputs]
    flat_all = all(f or v.size == 1 for f, v in zip(full, kernel.inputs)) and axes == set(range(nd))
    functions = []
    if flat_all:
        ins = tuple((size,) if f else (1,) for f in full)
        outs = tuple((1,) if v.id == red.out.id else (size,) for v in kernel.outputs)
        entry = Entry("kernel_flat", ins, outs, True)
        functions.append(_function(entry, kernel, names, (size,), {0}, parallel))
    if nd >= 2 or (nd == 1 and not flat_all):
        keep = tuple(1 if k in axes else n for k, n in enumerate(kernel.shape))
        ins = tuple(pad(v.shape, nd) for v in kernel.inputs)
        outs = tuple(keep if v.id == red.out.id else tuple(kernel.shape) for v in kernel.outputs)
        entry = Entry("kernel_nd", ins, outs, False)
        functions.append(_function(entry, kernel, names, tuple(kernel.shape), axes, parallel))
    return functions


class _Reduction:
    """What every form needs: the reduce node, its accumulator, the placed prologue."""

    def __init__(self, entry: Entry, kernel, names: Names, loop_shape, reduced: set[int]) -> None:
        self.red = red = kernel.nodes[-1]
        self.template, self.x = red.prim.template, red.inputs[0]
        self.acc_dtype = scalar.accumulator_dtype(self.template, self.x.dtype, red.out.dtype)
        self.identity = scalar.identity(self.template, self.acc_dtype)
        self.label = names.node(red)
        self.loop_shape = loop_shape
        self.placed = place(kernel.nodes[:-1], kernel.inputs, entry.in_views, loop_shape, names)
        self.axes = self.placed.axes
        self.kept = [k for k in self.axes if k not in reduced]
        out_of = dict(zip((v.id for v in kernel.outputs), entry.out_views))
        indices = self.placed.indices
        self.keep_view = out_of[red.out.id]
        self.out_index = index_expr(self.keep_view, loop_shape, indices)
        self.target = names.array_out(red.out) + self.out_index  # where the result goes
        self.stores = [names.store(v, index_expr(out_of[v.id], loop_shape, indices))
                       for v in kernel.outputs if v.id != red.out.id]  # prologue values

    def combine(self, acc: str, value: str) -> str:
        return scalar.combine(self.template, acc, value)

    def result(self, acc: str) -> str:
        return scalar.cast(acc, self.red.out.dtype)


def _function(entry: Entry, kernel, names: Names, loop_shape, reduced: set[int], parallel: bool):
    """(entry, source): the function, and for a chunked reduction over the outer axis
    its `_combine` twin that adds up the chunks' partial results."""
    r = _Reduction(entry, kernel, names, loop_shape, reduced)
    red = r.red
    what = f"{red.prim.name} over axes {tuple(red.kwargs['axes'])}" + (
        f", accumulated in {r.acc_dtype.name}" if r.acc_dtype != red.out.dtype else "")
    chunked = parallel and bool(r.axes)
    partial = chunked and r.axes[0] not in r.kept  # each chunk reduces part of the outer axis
    w = Writer(names)
    w.frame(entry.name, kernel, chunked, what, entry.in_views + entry.out_views, part=partial)
    if r.kept == r.axes:
        _trivial(w, r, chunked)
    elif r.axes == r.kept + [k for k in r.axes if k not in r.kept]:
        _scalar(w, r, chunked)
    else:
        _array(w, r, chunked)
    if not chunked:
        return entry, w.text()
    chunks = chunk_count(loop_shape[r.axes[0]])
    if not partial:
        return replace(entry, chunks=chunks), w.text()
    part_shape = (chunks,) + (tuple(r.keep_view) if r.kept else ())
    entry = replace(entry, chunks=chunks, part=(part_shape, r.acc_dtype.str))
    c = Writer(names)
    c.frame(entry.name + "_combine", kernel, True, "the chunks' partial results, added up in order",
            entry.in_views + entry.out_views, part=True)
    chunk_text = chunk_loops(r.axes[0], loop_shape[r.axes[0]])[0]
    with ExitStack() as nest:
        for loop in axis_loops(r.kept, r.loop_shape):
            nest.enter_context(c.loop(loop))
        _combine_chunks(c, r, chunk_text, "part[c, " + r.out_index[1:] if r.kept else "part[c]")
    return entry, w.text() + "\n\n" + c.text()


def _trivial(w: Writer, r: _Reduction, chunked: bool) -> None:
    """The reduced axes have length 1: one combine with the identity per element."""
    final = (f"{r.target} = {r.result(r.combine(r.identity, w.names.value(r.x)))}", r.label)
    loops, lines = axis_loops(r.axes, r.loop_shape), r.placed.lines
    if chunked:
        _, loops[:1] = chunk_loops(r.axes[0], r.loop_shape[r.axes[0]])
        lines = [lines[0], []] + lines[1:]
    with ExitStack() as nest:
        for depth, loop in enumerate(loops):
            w.lines(lines[depth])
            nest.enter_context(w.loop(loop))
        w.lines(lines[-1] + r.stores + [final])


def _scalar(w: Writer, r: _Reduction, chunked: bool) -> None:
    """Into one running accumulator per kept index; the innermost loop is the
    reduction loop. Chunked: the outer axis in chunks, each with its accumulator
    (a reduced outer axis: one partial result per chunk, `part[c]`)."""
    loops, lines = axis_loops(r.axes, r.loop_shape), r.placed.lines
    if chunked:
        _, loops[:1] = chunk_loops(r.axes[0], r.loop_shape[r.axes[0]])
        lines = [lines[0], []] + lines[1:]
    partial = chunked and not r.kept
    inner = len(loops) - 1  # depth of the reduction loop
    at = len(r.kept) + bool(chunked)  # depth of the accumulator
    acc = Acc("acc", w.names.value(r.x), r.template, r.acc_dtype, r.x.dtype, r.label)
    final = ("part[c] = acc", r.label) if partial else (f"{r.target} = {r.result('acc')}", r.label)

    def nest(depth: int) -> None:
        w.lines(lines[depth])
        if depth == at:
            w.line(f"acc = {r.identity}", r.label)
        if depth < inner:
            with w.loop(loops[depth]):
                nest(depth + 1)
        else:
            w.reduction_loop(loops[-1], lines[-1] + r.stores, [acc])
        if depth == at:
            w.line(*final)

    nest(0)


def _array(w: Writer, r: _Reduction, chunked: bool) -> None:
    """A reduced axis outside a kept one: accumulate into an array of the kept
    shape, then convert it into the output. Chunked with the outer axis reduced:
    each chunk accumulates into its own `part[c]`; with it kept, the conversion
    covers this call's chunks only (other calls write the other rows)."""
    partial = chunked and r.axes[0] not in r.kept
    loops, lines = axis_loops(r.axes, r.loop_shape), r.placed.lines
    convert = axis_loops(r.kept, r.loop_shape)
    if chunked:
        _, loops[:1] = chunk_loops(r.axes[0], r.loop_shape[r.axes[0]])
        lines = [lines[0], []] + lines[1:]
    w.lines(lines[0])
    if partial:
        acc = "part[c, " + r.out_index[1:]
    else:
        acc = "acc" + r.out_index
        if chunked:
            _, convert[:1] = chunk_loops(r.axes[0], r.loop_shape[r.axes[0]])
        w.line(f"acc = np.full({shape_expr(r.keep_view)}, {r.identity}, {scalar.np_type(r.acc_dtype)})",
               r.label)
    with ExitStack() as nest:
        for depth, loop in enumerate(loops, 1):
            nest.enter_context(w.loop(loop))
            if partial and depth == 1:  # this chunk's partial starts at the identity
                with ExitStack() as fill:
                    for kept in axis_loops(r.kept, r.loop_shape):
                        fill.enter_context(w.loop(kept))
                    w.line(f"{acc} = {r.identity}", r.label)
            if depth < len(loops):
                w.lines(lines[depth])
        w.lines(lines[-1] + r.stores + [(f"{acc} = {r.combine(acc, w.names.value(r.x))}", r.label)])
    if partial:
        return  # the _combine function converts the partials
    with ExitStack() as nest:  # the accumulated array into the output
        for loop in convert:
            nest.enter_context(w.loop(loop))
        w.line(f"{r.target} = {r.result(acc)}", r.label)


def _combine_chunks(w: Writer, r: _Reduction, chunks: str, part: str) -> None:
    """The chunks' partial results combined in chunk order, into the output."""
    w.line(f"acc = {r.identity}", r.label)
    with w.block(f"for c in range({chunks}):", "combine the chunks in order"):
        w.line(f"acc = {r.combine('acc', part)}", r.label)
    w.line(f"{r.target} = {r.result('acc')}", r.label)
