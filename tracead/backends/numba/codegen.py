"""Kernel -> readable Python/Numba source (backend stage: codegen).

One generated module per scheduled Kernel, with explicit loops (no Numba
array expressions), one statement per graph node, each commented with the
node (`%12 = mul %10 %11`) and the user line that created it.

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

Kinds (see passes/schedule.py for the contract):
  elementwise  pointwise statements, stores of every output.
  reduce       prologue as above, then sum/max into a scalar accumulator when
               the reduced axes are the innermost loops, else into an array of
               the kept shape. float32 sums accumulate in float64 (see
               scalar.accumulator_dtype). Parallel when the outer loop is a kept
               axis (disjoint outputs); when it is reduced, in REDUCE_CHUNKS
               fixed chunks with partial results combined in order, so the
               result does not depend on the thread count.
  rowwise      per row of the last axis: per-row statements in node order;
               each reduce is its own loop over the row that recomputes the
               per-element values it needs (no row buffer); a last loop stores
               the per-element outputs.

Loops over more than PARALLEL_THRESHOLD elements use `prange` on the
outermost loop (options["parallel_threshold"] overrides it).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...ir.printer import type_str
from . import scalar
from .scalar import cast, combine, identity, node_expression
from .source import Names, Nest, Writer, index_expr, loop_header, pad

# Elements above which the outer loop is a prange. Measured on this 2-core
# machine (omp layer; best of 400 runs, float32, flat loop): a prange launch
# costs ~2 us; `2*x+1` breaks even at ~50k elements (65536: 1.17x, 262144:
# 2.75x), the W1 chain (tanh*sigmoid+exp) already at ~4k (65536: 1.9x). One
# element count for all kernels errs towards serial for cheap loops; a
# per-kernel cost estimate could lower it for transcendental-heavy ones.
# Under load from other processes a parallel region can stall for a
# scheduler tick (~5 ms), another reason not to go parallel for small loops.
PARALLEL_THRESHOLD = 65536
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
    size = int(np.prod(kernel.shape, dtype=np.int64))
    parallel = size > parallel_threshold
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
        add(Entry("kernel_nd", ins, outs, False), _rowwise_fn("kernel_nd", kernel, names, ins, outs, parallel))
    else:
        raise ValueError(f"no code generator for {kernel.kind!r} kernels")
    return KernelCode(_module(kernel, names, functions, note), tuple(entries), parallel)


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


def _frame(w: Writer, name: str, kernel, names: Names, parallel: bool, what: str) -> None:
    flags = "cache=True, nogil=True, error_model=\"numpy\"" + (", parallel=True" if parallel else "")
    args = [names.array_in(v) for v in kernel.inputs] + [names.array_out(v) for v in kernel.outputs]
    w.line(f"@njit({flags})")
    w.line(f"def {name}({', '.join(args)}):")
    w.depth += 1
    sig = ", ".join(names.typed(v) for v in kernel.inputs) + " -> " + ", ".join(
        names.typed(v) for v in kernel.outputs)
    w.line(f'"""{sig}: {what}."""')


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
    _frame(w, name, kernel, names, parallel,
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
    acc_t = scalar.accumulator_dtype(red.prim.name, x.dtype, red.out.dtype)
    ident, acc_np = identity(tpl, acc_t), scalar.np_type(acc_t)
    what = f"{red.prim.name} over axes {tuple(red.kwargs['axes'])}" + (
        f", accumulated in {acc_t.name}" if acc_t != red.out.dtype else "")
    w = Writer()
    _frame(w, name, kernel, names, parallel, what)
    lines, axes, indices = _place(kernel.nodes[:-1], kernel.inputs, in_views, loop_shape, names)
    kept = [k for k in axes if k not in reduced]
    scalar_acc = axes == kept + [k for k in axes if k in reduced]  # reduced loops innermost
    chunked = parallel and bool(axes) and axes[0] in reduced
    out_of = dict(zip((v.id for v in kernel.outputs), out_views))
    keep_view = out_of[red.out.id]
    oidx = index_expr(keep_view, loop_shape, indices)
    out_name, vx, label = names.array_out(red.out), names.value(x), names.node(red)

    headers = _headers(axes, loop_shape, parallel and not chunked)
    if chunked:
        a0, n0 = axes[0], loop_shape[axes[0]]
        nc = min(REDUCE_CHUNKS, n0)
        headers = [(f"for c in prange({nc}):", f"{nc} chunks of axis {a0}, in parallel"),
                   (loop_header(f"i{a0}", f"c * {n0} // {nc}", f"(c + 1) * {n0} // {nc}", False),
                    f"axis {a0}, this chunk")] + headers[1:]
        lines = [lines[0], []] + lines[1:]
    nest = Nest(headers, before=lines)
    for var in kernel.outputs:
        if var.id != red.out.id:  # prologue values needed outside: full shape
            nest.before[-1].append((f"{names.array_out(var)}{index_expr(out_of[var.id], loop_shape, indices)}"
                                    f" = {names.value(var)}", f"{names(var)} output"))
    if scalar_acc and not chunked:
        at = len(kept)
        nest.before[at].append((f"acc = {ident}", label))
        nest.before[-1].append((f"acc = {combine(tpl, 'acc', vx)}", label))
        store = (f"{out_name}{oidx} = {cast('acc', red.out.dtype)}", label)
        (nest.after[at] if at < len(headers) else nest.before[-1]).append(store)
        nest.emit(w)
    elif scalar_acc:  # every loop axis reduced, in chunks
        nest.before[0].append((f"part = np.empty({nc}, {acc_np})", "partial results per chunk"))
        nest.before[1].append((f"acc = {ident}", label))
        nest.before[-1].append((f"acc = {combine(tpl, 'acc', vx)}", label))
        nest.after[1].append(("part[c] = acc", label))
        nest.emit(w)
        w.line(f"acc = {ident}", label)
        with w.block(f"for c in range({nc}):", "combine the chunks in order"):
            w.line(f"acc = {combine(tpl, 'acc', 'part[c]')}", label)
        w.line(f"{out_name}{oidx} = {cast('acc', red.out.dtype)}", label)
    else:  # a reduced axis outside a kept one: accumulate into an array of the kept shape
        shape = ((nc,) if chunked else ()) + tuple(keep_view)
        part = "part[c, " + oidx[1:] if chunked else "acc" + oidx
        nest.before[0].append((f"{'part' if chunked else 'acc'} = np.full({shape!r}, {ident}, {acc_np})",
                               label))
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
    return w.text()


# -- rowwise ---------------------------------------------------------------------
def _rowwise_fn(name, kernel, names, in_views, out_views, parallel) -> str:
    shape = tuple(kernel.shape)
    nd, n = len(shape), shape[-1]
    indices = [f"i{k}" for k in range(nd - 1)] + ["j"]
    view = {node.out.id: pad(node.out.shape, nd) for node in kernel.nodes}
    view.update((v.id, vw) for v, vw in zip(kernel.inputs, in_views))
    per_row = lambda var: view[var.id][-1] == 1  # noqa: E731  (constant along the row)
    producer = {node.out.id: node for node in kernel.nodes}

    def load(w: Writer, var) -> None:
        w.line(f"{names.value(var)} = {names.array_in(var)}{index_expr(view[var.id], shape, indices)}",
               f"{names(var)} input {type_str(var)}")

    def chain(w: Writer, targets) -> None:
        """Per-element loads and statements the targets need, in node order."""
        need, stack = set(), [t for t in targets if not per_row(t)]
        while stack:
            var = stack.pop()
            if var.id in need:
                continue
            need.add(var.id)
            if var.id in producer:
                stack.extend(v for v in producer[var.id].inputs if not per_row(v))
        for var in kernel.inputs:
            if var.id in need:
                load(w, var)
        for node in kernel.nodes:
            if node.out.id in need:
                w.line(f"{names.value(node.out)} = "
                       f"{node_expression(node, [names.value(v) for v in node.inputs])}", names.node(node))

    def body(w: Writer) -> None:
        for var in kernel.inputs:
            if per_row(var):
                load(w, var)
        for node in kernel.nodes:
            if node.prim.kind == "reduce":
                if tuple(node.kwargs["axes"]) != (nd - 1,) or not node.kwargs["keepdims"]:
                    raise NotImplementedError(f"rowwise kernel with {names.node(node)}")
                tpl, x, label = node.prim.template, node.inputs[0], names.node(node)
                acc_t = scalar.accumulator_dtype(node.prim.name, x.dtype, node.out.dtype)
                acc = "acc" + names(node.out)[1:]
                w.line(f"{acc} = {identity(tpl, acc_t)}", label)
                if per_row(x):
                    w.line(f"{acc} = {combine(tpl, acc, names.value(x))}", label)
                else:
                    with w.block(f"for j in range({n}):", "along the row"):
                        chain(w, [x])
                        w.line(f"{acc} = {combine(tpl, acc, names.value(x))}", label)
                w.line(f"{names.value(node.out)} = {cast(acc, node.out.dtype)}", label)
            elif per_row(node.out):
                w.line(f"{names.value(node.out)} = "
                       f"{node_expression(node, [names.value(v) for v in node.inputs])}", names.node(node))
        stores = [(v, vw) for v, vw in zip(kernel.outputs, out_views)]
        for var, vw in stores:
            if per_row(var):
                w.line(f"{names.array_out(var)}{index_expr(vw, shape, indices)} = {names.value(var)}",
                       f"{names(var)} output")
        per_element = [(v, vw) for v, vw in stores if not per_row(v)]
        if per_element:
            with w.block(f"for j in range({n}):", "outputs along the row"):
                chain(w, [v for v, _ in per_element])
                for var, vw in per_element:
                    w.line(f"{names.array_out(var)}{index_expr(vw, shape, indices)} = {names.value(var)}",
                           f"{names(var)} output")

    w = Writer()
    _frame(w, name, kernel, names, parallel, f"per row of {n}, reductions along the row")
    rows = [k for k in range(nd - 1) if shape[k] != 1]
    Nest(_headers(rows, shape, parallel), body=body).emit(w)
    return w.text()
