"""Kernel -> readable Python/Numba source (backend stage: codegen).

One generated module per scheduled Kernel, with explicit loops (no Numba
array expressions), one statement per graph node, each commented with the
node (`%12 = mul %10 %11`) and the user line that created it. Identifiers are
positional within the kernel (source.Names.for_kernel), so kernels identical
up to renaming are the same code and share one cache entry.

Shapes are static (a variant is compiled for fixed shapes), so broadcasting
is index arithmetic written into the source: an input of shape (64, 1) in a
(64, 128) loop is read as `a3[i0, 0]`, and it is read, and everything
computed from it, in the outer loop only (statements sit at the shallowest
loop depth where all their inputs are known).

Entry points (the backend picks one per call, see backend.py):
  kernel_flat  one flat loop over C-contiguous arrays; exists when every
               input is full-shape or a single element (0-d, size 1);
               the only entry of 0-d and 1-d kernels (then any layout).
  kernel_nd    a loop nest over the kernel shape; any strides (transposed
               inputs), partial broadcasting, reductions over some axes.

Kinds (see plan/schedule.py for the contract):
  elementwise  pointwise statements, stores of every output.
  reduce       prologue as above, then sum/max into a scalar accumulator when
               the reduced axes are the innermost loops, else into an array of
               the kept shape. Float steps are reduce_steps calls, so the loop
               vectorises (SIMD partial sums); float32 sums run in float32
               blocks added up in float64 (scalar.SUM_BLOCK: why, how
               accurate). Parallel: the outer axis in REDUCE_CHUNKS fixed
               chunks (`prange`); when it is reduced, each chunk has a partial
               result and the partials are combined in order, so the result
               does not depend on the thread count.
  rowwise      per row of the last axis, a few loops along it (rowwise.py).

Every inner loop must vectorise (check with vectorcheck.py): hence
error_model="numpy" (no ZeroDivisionError branch), float32 constants in
float32 code (scalar.py), mathlib instead of libm, reduce_steps for running
reductions, and unsigned indices in loops that do not start at 0.

A kernel runs parallel when its estimated work, elements times per-element
cost (`Prim.cost`, so an exp counts like 8 adds) over 2, exceeds
PARALLEL_THRESHOLD (options["parallel_threshold"] overrides it).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...ir.printer import type_str
from . import scalar
from .rowwise import rowwise_fn
from .scalar import cast, combine, identity, node_expression
from .source import Acc, Names, Nest, Writer, function_frame, index_expr, loop_header, pad, reduction_loop

# Work (elements x per-element cost / 2, see kernel_cost) above which a kernel
# runs parallel: elements of a cheap 2-op loop such as `2*x + 1`. Parallel
# pays when the serial time exceeds about twice the launch cost: ~20 us on
# Numba's workqueue layer, which the backend uses (threads.py), ~3 us on
# OpenMP. Measured on this 2-core machine (quiet moments, float32): `2*x+1`
# runs ~0.15 ns/element in cache, so ~270k elements break even on
# workqueue (~40k on OpenMP); the W1 chain (tanh, sigmoid, exp: cost ~17)
# ~1.1 ns/element, ~36k elements (~5k on OpenMP) -- the same work, ~2.7e5.
# Under load from other processes a parallel region can stall for a
# scheduler tick (4 ms, OpenMP) or gain nothing, another reason to err
# towards serial.
PARALLEL_THRESHOLD = 262144
REDUCE_CHUNKS = 32  # fixed, so parallel sums do not depend on the thread count


@dataclass(frozen=True, slots=True)
class Entry:
    """One generated function and how to view the arrays it is called with."""

    name: str
    in_views: tuple[tuple[int, ...], ...]
    out_views: tuple[tuple[int, ...], ...]
    flat: bool  # True: full-shape inputs must be C-contiguous (0-d/1-d kernels: any layout)


@dataclass(frozen=True, slots=True)
class KernelCode:
    body: str  # module text (the cache adds its key and environment lines)
    entries: tuple[Entry, ...]
    parallel: bool


def generate(kernel, names: Names, parallel_threshold: int = PARALLEL_THRESHOLD,
             note: str = "") -> KernelCode:
    check_contract(kernel)
    names = names.for_kernel(kernel)
    size = int(np.prod(kernel.shape, dtype=np.int64))
    parallel = size * max(kernel_cost(kernel), 2) // 2 > parallel_threshold
    nd = len(kernel.shape)
    full = [pad(v.shape, nd) == tuple(kernel.shape) for v in kernel.inputs]
    flat_ok = all(f or v.size == 1 for f, v in zip(full, kernel.inputs))
    flat_views = tuple((size,) if f else (1,) for f in full)
    entries, functions = [], []

    def add(entry: Entry, text: str) -> None:
        entries.append(entry)
        functions.append(text)

    if kernel.kind == "elementwise":
        if flat_ok:
            outs = tuple((size,) for _ in kernel.outputs)
            add(Entry("kernel_flat", flat_views, outs, True),
                _elementwise_fn("kernel_flat", kernel, names, (size,), flat_views, outs, parallel))
        if nd >= 2:
            ins = tuple(pad(v.shape, nd) for v in kernel.inputs)
            outs = tuple(tuple(kernel.shape) for _ in kernel.outputs)
            add(Entry("kernel_nd", ins, outs, False),
                _elementwise_fn("kernel_nd", kernel, names, tuple(kernel.shape), ins, outs, parallel))
    elif kernel.kind == "reduce":
        red = kernel.nodes[-1]
        axes = set(red.kwargs["axes"])
        flat_all = flat_ok and axes == set(range(nd))
        if flat_all:
            outs = tuple((1,) if v.id == red.out.id else (size,) for v in kernel.outputs)
            add(Entry("kernel_flat", flat_views, outs, True),
                _reduce_fn("kernel_flat", kernel, names, (size,), {0}, flat_views, outs, parallel))
        if nd >= 2 or (nd == 1 and not flat_all):
            keep = tuple(1 if k in axes else n for k, n in enumerate(kernel.shape))
            ins = tuple(pad(v.shape, nd) for v in kernel.inputs)
            outs = tuple(keep if v.id == red.out.id else tuple(kernel.shape) for v in kernel.outputs)
            add(Entry("kernel_nd", ins, outs, False),
                _reduce_fn("kernel_nd", kernel, names, tuple(kernel.shape), axes, ins, outs, parallel))
    elif kernel.kind == "rowwise":
        ins = tuple(pad(v.shape, nd) for v in kernel.inputs)
        outs = tuple(pad(v.shape, nd) for v in kernel.outputs)
        add(Entry("kernel_nd", ins, outs, False),
            rowwise_fn("kernel_nd", kernel, names, ins, outs, parallel, REDUCE_CHUNKS))
    else:
        raise ValueError(f"no code generator for {kernel.kind!r} kernels")
    return KernelCode(_module(kernel, names, functions, note), tuple(entries), parallel)


def kernel_cost(kernel) -> int:
    """Estimated work per element of the kernel's space (`Prim.cost` units)."""
    return sum(n.prim.cost for n in kernel.nodes)


def check_contract(kernel) -> None:
    """The shapes the loops assume (schedule.py). Numba does not check bounds, so a
    kernel breaking them would read or write out of bounds: refuse it instead."""
    shape, nd = tuple(kernel.shape), len(kernel.shape)
    row = shape[:-1] + (1,)
    for v in kernel.inputs:
        if len(v.shape) > nd or any(d not in (1, n) for d, n in zip(pad(v.shape, nd), shape)):
            raise ValueError(f"kernel {kernel.index}: input {names_of(v)} does not broadcast to {shape}")
    reduced = {kernel.nodes[-1].out.id} if kernel.kind == "reduce" else set()
    for v in kernel.outputs:
        ok = (v.id in reduced or tuple(v.shape) == shape
              or (kernel.kind == "rowwise" and pad(v.shape, nd) == row))
        if not ok:
            raise ValueError(f"kernel {kernel.index} [{kernel.kind}]: output {names_of(v)} is not "
                             f"of the kernel's shape {shape}")


def names_of(var) -> str:
    return f"%{var.id}:{type_str(var)}"


# -- module and function frames --------------------------------------------------
def _module(kernel, names: Names, functions: list[str], note: str) -> str:
    w = Writer()
    w.line(comment=f"tracead {kernel.kind} kernel over [{','.join(map(str, kernel.shape))}]")
    w.line(comment="inputs:  " + " ".join(names.typed(v) for v in kernel.inputs))
    w.line(comment="outputs: " + " ".join(names.typed(v) for v in kernel.outputs))
    if note:
        w.line(comment=note)
    for node in kernel.nodes:
        w.line(comment="  " + names.node(node))
    w.line("import math")
    w.line()
    w.line("import numpy as np")
    w.line("from numba import njit, prange")
    if scalar.MATHLIB_IMPORT:
        w.line(scalar.MATHLIB_IMPORT)
    return w.text() + "".join("\n\n" + f for f in functions)


def _place(nodes, inputs, in_views, loop_shape, names: Names):
    """Statements by loop depth: loads and node statements as shallow as their inputs allow."""
    axes = [k for k, n in enumerate(loop_shape) if n != 1]
    axis_depth = {k: i + 1 for i, k in enumerate(axes)}
    indices = [f"i{k}" for k in range(len(loop_shape))]
    lines: list[list[tuple[str, str]]] = [[] for _ in range(len(axes) + 1)]
    depth: dict[int, int] = {}
    for var, view in zip(inputs, in_views):
        d = max((axis_depth[k] for k in axes if view[k] != 1), default=0)
        depth[var.id] = d
        lines[d].append((f"{names.value(var)} = {names.array_in(var)}{index_expr(view, loop_shape, indices)}",
                         f"{names(var)} input {type_str(var)}"))
    for node in nodes:
        d = max(depth[v.id] for v in node.inputs)
        depth[node.out.id] = d
        expr = node_expression(node, [names.value(v) for v in node.inputs])
        lines[d].append((f"{names.value(node.out)} = {expr}", names.node(node)))
    return lines, axes, indices


def _headers(axes, loop_shape, parallel: bool) -> list[tuple[str, str]]:
    return [(loop_header(f"i{k}", 0, loop_shape[k], parallel and p == 0), f"axis {k}")
            for p, k in enumerate(axes)]


# -- elementwise -----------------------------------------------------------------
def _elementwise_fn(name, kernel, names, loop_shape, in_views, out_views, parallel) -> str:
    w = Writer()
    function_frame(w, name, kernel, names, parallel,
                   "one flat loop" if name == "kernel_flat" else "loop nest, broadcasting by index")
    lines, axes, indices = _place(kernel.nodes, kernel.inputs, in_views, loop_shape, names)
    nest = Nest(_headers(axes, loop_shape, parallel), before=lines)
    for var, view in zip(kernel.outputs, out_views):
        nest.before[-1].append((f"{names.array_out(var)}{index_expr(view, loop_shape, indices)} = "
                                f"{names.value(var)}", f"{names(var)} output"))
    nest.emit(w)
    return w.text()


# -- reduce ----------------------------------------------------------------------
def _reduce_fn(name, kernel, names, loop_shape, reduced: set[int], in_views, out_views, parallel) -> str:
    red = kernel.nodes[-1]
    tpl, x = red.prim.template, red.inputs[0]
    acc_t = scalar.accumulator_dtype(tpl, x.dtype, red.out.dtype)
    ident = identity(tpl, acc_t)
    what = f"{red.prim.name} over axes {tuple(red.kwargs['axes'])}" + (
        f", accumulated in {acc_t.name}" if acc_t != red.out.dtype else "")
    w = Writer()
    function_frame(w, name, kernel, names, parallel, what)
    lines, axes, indices = _place(kernel.nodes[:-1], kernel.inputs, in_views, loop_shape, names)
    kept = [k for k in axes if k not in reduced]
    out_of = dict(zip((v.id for v in kernel.outputs), out_views))
    oidx = index_expr(out_of[red.out.id], loop_shape, indices)
    out_name, label = names.array_out(red.out), names.node(red)
    stores = [(f"{names.array_out(v)}{index_expr(out_of[v.id], loop_shape, indices)} = {names.value(v)}",
               f"{names(v)} output") for v in kernel.outputs if v.id != red.out.id]  # prologue values
    if all(k in kept for k in axes):  # the reduced axes have length 1
        nest = Nest(_headers(axes, loop_shape, parallel), before=lines)
        nest.before[-1] += stores + [
            (f"{out_name}{oidx} = {cast(combine(tpl, ident, names.value(x)), red.out.dtype)}", label)]
        nest.emit(w)
    elif axes == kept + [k for k in axes if k in reduced]:  # reduced loops innermost
        _scalar_reduce(w, red, acc_t, lines, stores, axes, loop_shape, parallel, kept, names,
                       f"{out_name}{oidx}")
    else:
        _array_reduce(w, red, acc_t, lines, stores, axes, loop_shape, parallel, kept, out_of, indices, names)
    return w.text()


def _scalar_reduce(w, red, acc_t, lines, stores, axes, loop_shape, parallel, kept, names, target):
    """Into one running accumulator per kept index. Parallel: the outer axis in
    REDUCE_CHUNKS chunks, each with its own accumulator (reduced axis: partial
    results, combined in order at the end)."""
    tpl, x, label = red.prim.template, red.inputs[0], names.node(red)
    ident = identity(tpl, acc_t)
    loops = [(f"i{k}", 0, loop_shape[k], f"axis {k}") for k in axes]  # (index, start, stop, comment)
    chunks = 0
    if parallel:
        a0, n0 = axes[0], loop_shape[axes[0]]
        chunks = min(REDUCE_CHUNKS, n0)
        loops[:1] = [("c", 0, chunks, f"{chunks} chunks of axis {a0}, in parallel"),
                     (f"i{a0}", f"c * {n0} // {chunks}", f"(c + 1) * {n0} // {chunks}",
                      f"axis {a0}, this chunk")]
        lines = [lines[0], []] + lines[1:]
    partial = parallel and not kept  # each chunk sums part of the reduced outer axis
    outer = len(loops) - 1
    headers = [(f"for c in prange({chunks}):" if i == "c" and parallel else loop_header(i, lo, hi, False), cm)
               for i, lo, hi, cm in loops[:-1]]
    nest = Nest(headers, before=lines[:outer + 1])
    at = len(kept) + bool(parallel)  # depth of the accumulator
    final = ("part[c] = acc", label) if partial else (f"{target} = {cast('acc', red.out.dtype)}", label)
    acc = Acc("acc", names.value(x), tpl, acc_t, x.dtype, label)

    def body(w2: Writer) -> None:
        if at == outer:
            w2.line(f"acc = {ident}", label)
        reduction_loop(w2, *loops[-1], lines[-1] + stores, [acc])
        if at == outer:
            w2.line(*final)
    nest.body = body
    if at < outer:
        nest.before[at].append((f"acc = {ident}", label))
        nest.after[at].append(final)
    if partial:
        w.line(f"part = np.empty({chunks}, {scalar.np_type(acc_t)})", "partial results per chunk")
    nest.emit(w)
    if partial:
        w.line(f"acc = {ident}", label)
        with w.block(f"for c in range({chunks}):", "combine the chunks in order"):
            w.line(f"acc = {combine(tpl, 'acc', 'part[c]')}", label)
        w.line(f"{target} = {cast('acc', red.out.dtype)}", label)


def _array_reduce(w, red, acc_t, lines, stores, axes, loop_shape, parallel, kept, out_of, indices, names):
    """A reduced axis outside a kept one: accumulate into an array of the kept
    shape (the inner loops are then elementwise and vectorise as they are)."""
    tpl, x, label = red.prim.template, red.inputs[0], names.node(red)
    ident, acc_np, vx = identity(tpl, acc_t), scalar.np_type(acc_t), names.value(x)
    reduced = [k for k in axes if k not in kept]
    keep_view = out_of[red.out.id]
    oidx = index_expr(keep_view, loop_shape, indices)
    out_name = names.array_out(red.out)
    chunked = parallel and axes[0] in reduced
    headers = _headers(axes, loop_shape, parallel and not chunked)
    if chunked:
        a0, n0 = axes[0], loop_shape[axes[0]]
        nc = min(REDUCE_CHUNKS, n0)
        headers = [(f"for c in prange({nc}):", f"{nc} chunks of axis {a0}, in parallel"),
                   (loop_header(f"i{a0}", f"c * {n0} // {nc}", f"(c + 1) * {n0} // {nc}", False),
                    f"axis {a0}, this chunk")] + headers[1:]
        lines = [lines[0], []] + lines[1:]
    nest = Nest(headers, before=lines)
    nest.before[-1].extend(stores)
    shape = ((nc,) if chunked else ()) + tuple(keep_view)
    part = "part[c, " + oidx[1:] if chunked else "acc" + oidx
    nest.before[0].append((f"{'part' if chunked else 'acc'} = np.full({shape!r}, {ident}, {acc_np})", label))
    nest.before[-1].append((f"{part} = {combine(tpl, part, vx)}", label))
    nest.emit(w)
    final = Nest(_headers(kept, loop_shape, False))
    if chunked:
        def body(w2: Writer) -> None:
            w2.line(f"acc = {ident}", label)
            with w2.block(f"for c in range({nc}):", "combine the chunks in order"):
                w2.line(f"acc = {combine(tpl, 'acc', 'part[c, ' + oidx[1:])}", label)
            w2.line(f"{out_name}{oidx} = {cast('acc', red.out.dtype)}", label)
        final.body = body
    else:
        final.before[-1].append((f"{out_name}{oidx} = {cast('acc' + oidx, red.out.dtype)}", label))
    final.emit(w)
