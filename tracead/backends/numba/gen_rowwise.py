"""Rowwise kernels -> source (backend stage: codegen, see codegen.py).

A rowwise kernel (softmax, log_softmax, layernorm, forward and backward)
works row by row along the last axis. Per row:

  * passes: a reduce whose input depends on the results of other reduces
    of the row must wait for them, so each reduce gets a stage (1 + the
    latest stage it depends on); the reduces of one stage share one loop
    over the row. A last loop computes and stores the per-element outputs.
    Row values (`mean`, `max`, `1/std`) are computed between the passes.
  * row buffers: a later pass that needs a per-element value computed by an
    earlier one recomputes it when that is one cheap op on loaded values
    (`x - mean`), and otherwise reads it from a row buffer the earlier pass
    filled (an exp or a division is computed once per element, not once per
    pass). Buffers are allocated once per chunk of rows and stay in L1/L2.
  * reductions combine in the pass loop through reduce_steps (SIMD partial
    sums and maxima); float32 sums in float32 blocks of scalar.SUM_BLOCK
    added up in float64 (Writer.reduction_loop). Every loop vectorises.

Parallel: the outermost row axis in fixed chunks (writer.chunk_loops; threads.py
runs them), each chunk with its buffers.

`_plan` decides the passes and buffers; `_RowKernel` writes them, top to
bottom: `write` (frame, row loops, buffers) -> `row` (per-row loads, then
each pass) -> `reduce_pass` / the output loop -> `pass_body` (one element).
"""
from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field, replace

from . import scalar
from .writer import (Acc, Entry, Line, Loop, Names, Writer, axis_loops, chunk_count, chunk_loops, index_expr, pad,
                     shape_comment, size_expr)


def generate(kernel, names: Names, parallel: bool) -> list[tuple[Entry, str]]:
    """The one entry of a rowwise kernel, `kernel_nd` (any strides)."""
    nd = len(kernel.shape)
    entry = Entry("kernel_nd", tuple(pad(v.shape, nd) for v in kernel.inputs),
                  tuple(pad(v.shape, nd) for v in kernel.outputs), False)
    return [_RowKernel(entry, kernel, names).write(parallel)]


@dataclass
class _Pass:
    """One loop over the row."""

    reduces: list  # reduce nodes finished by this pass ([] for the output pass)
    loads: list = field(default_factory=list)  # kernel inputs read in the loop
    from_rows: list = field(default_factory=list)  # values read from row buffers
    nodes: list = field(default_factory=list)  # per-element statements, node order
    to_rows: list = field(default_factory=list)  # values stored into row buffers


class _RowKernel:
    """One rowwise function: the kernel's views, its passes, and how to write them."""

    def __init__(self, entry: Entry, kernel, names: Names) -> None:
        self.entry, self.kernel, self.names = entry, kernel, names
        self.shape = tuple(kernel.shape)
        nd = len(self.shape)
        self.n = self.shape[-1]  # the row
        self.indices = [f"i{k}" for k in range(nd - 1)] + ["j"]
        self.view = {node.out.id: pad(node.out.shape, nd) for node in kernel.nodes}
        self.view.update((v.id, vw) for v, vw in zip(kernel.inputs, entry.in_views))
        self.out_view = {v.id: vw for v, vw in zip(kernel.outputs, entry.out_views)}
        self.passes, self.stage, self.rows = _plan(kernel, self.per_row)

    def per_row(self, var) -> bool:
        """Constant along the row (one value per row)."""
        return self.view[var.id][-1] == 1

    def index(self, var) -> str:
        view = self.view[var.id] if var.id in self.view else self.out_view[var.id]
        return index_expr(view, self.shape, self.indices)

    def buffer(self, var) -> str:
        return "row" + self.names.ident(var)

    # -- writing, outermost first ---------------------------------------------------
    def write(self, parallel: bool) -> tuple[Entry, str]:
        names, kernel, shape, entry = self.names, self.kernel, self.shape, self.entry
        row_axes = [k for k in range(len(shape) - 1) if shape[k] != 1]
        chunked = parallel and bool(row_axes)
        w = Writer(names)
        w.frame(entry.name, kernel, chunked,
                f"per row of {shape_comment((self.n,))}, {len(self.passes)} loops along it",
                entry.in_views + entry.out_views)
        loops = axis_loops(row_axes, shape)
        if chunked:
            _, loops[:1] = chunk_loops(row_axes[0], shape[row_axes[0]])
            entry = replace(entry, chunks=chunk_count(shape[row_axes[0]]))
        buffers = [(f"{self.buffer(nd_.out)} = np.empty({size_expr(self.n)}, "
                    f"{scalar.np_type(nd_.out.dtype)})", f"row buffer of {names(nd_.out)}")
                   for nd_ in kernel.nodes if nd_.out.id in self.rows]
        if not chunked:
            w.lines(buffers)
        with ExitStack() as nest:
            for depth, loop in enumerate(loops):
                nest.enter_context(w.loop(loop))
                if chunked and depth == 0:
                    w.lines(buffers)  # each chunk of rows its own buffers
            self.row(w)
        return entry, w.text()

    def row(self, w: Writer) -> None:
        """One row: per-row loads and values, each reduce pass, the output loop."""
        w.lines([self.names.load(v, self.index(v)) for v in self.kernel.inputs if self.per_row(v)])
        w.lines(self.row_values(0))
        for p, ps in enumerate(self.passes, 1):
            if ps.reduces:
                self.reduce_pass(w, p, ps)
        w.lines(self.stores(on_row=True))
        if self.passes and not self.passes[-1].reduces:
            with w.loop(Loop("j", 0, size_expr(self.n), "outputs along the row")):
                w.lines(self.pass_body(self.passes[-1]) + self.stores(on_row=False))

    def reduce_pass(self, w: Writer, p: int, ps: _Pass) -> None:
        """Accumulators, one loop along the row for all of them, then the row values they allow."""
        names, accs = self.names, []
        for r in ps.reduces:
            x = r.inputs[0]
            acc_t = scalar.accumulator_dtype(r.prim.template, x.dtype, r.out.dtype)
            accs.append(Acc("acc" + names.ident(r.out), names.value(x), r.prim.template, acc_t, x.dtype,
                            names.node(r)))
            w.line(f"{accs[-1].name} = {scalar.identity(r.prim.template, acc_t)}", names.node(r))
        along = [a for a, r in zip(accs, ps.reduces) if not self.per_row(r.inputs[0])]
        for a, r in zip(accs, ps.reduces):
            if self.per_row(r.inputs[0]):  # a row of length 1
                step = scalar.combine(a.template, a.name, scalar.cast(a.value, a.dtype), a.dtype)
                w.line(f"{a.name} = {step}", a.label)
        if along:
            label = ", ".join(names(r.out) for r in ps.reduces)
            loop = Loop("j", 0, size_expr(self.n), f"pass {p} along the row: {label}")
            w.reduction_loop(loop, self.pass_body(ps), along)
        w.lines([(f"{names.value(r.out)} = {scalar.cast(a.name, r.out.dtype)}", a.label)
                 for a, r in zip(accs, ps.reduces)])
        w.lines(self.row_values(p))

    def pass_body(self, ps: _Pass) -> list[Line]:
        """One element of a pass: loads, row-buffer reads, statements, row-buffer writes."""
        names = self.names
        return ([names.load(v, self.index(v)) for v in ps.loads]
                + [(f"{names.value(v)} = {self.buffer(v)}[j]", f"{names(v)} from its row buffer")
                   for v in ps.from_rows]
                + [names.statement(nd_) for nd_ in ps.nodes]
                + [(f"{self.buffer(v)}[j] = {names.value(v)}", f"{names(v)} into its row buffer")
                   for v in ps.to_rows])

    def row_values(self, p: int) -> list[Line]:
        """Per-row statements computable once stage p is done."""
        return [self.names.statement(nd_) for nd_ in self.kernel.nodes
                if nd_.prim.kind != "reduce" and self.per_row(nd_.out) and self.stage[nd_.out.id] == p]

    def stores(self, on_row: bool) -> list[Line]:
        return [self.names.store(v, self.index(v)) for v in self.kernel.outputs
                if self.per_row(v) == on_row]


def _plan(kernel, per_row):
    """Passes over the row, each node's stage, and the row buffers (see the module doc)."""
    inputs = {v.id for v in kernel.inputs}
    producer = {node.out.id: node for node in kernel.nodes}
    stage: dict[int, int] = {v.id: 0 for v in kernel.inputs}
    for node in kernel.nodes:
        s = max((stage[v.id] for v in node.inputs), default=0)
        stage[node.out.id] = s + 1 if node.prim.kind == "reduce" else s
    reduces = [nd_ for nd_ in kernel.nodes if nd_.prim.kind == "reduce"]
    for r in reduces:
        if tuple(r.kwargs["axes"]) != (len(kernel.shape) - 1,) or not r.kwargs["keepdims"]:
            raise NotImplementedError(f"rowwise kernel with {r.prim.name} over {r.kwargs['axes']}")
    last = max((stage[r.out.id] for r in reduces), default=0)
    passes = [_Pass([r for r in reduces if stage[r.out.id] == p]) for p in range(1, last + 1)]
    element_outputs = [v for v in kernel.outputs if not per_row(v)]
    if element_outputs:
        passes.append(_Pass([]))
    # Cost of recomputing a per-element value from loads and row values.
    cost: dict[int, int] = {}
    for node in kernel.nodes:
        if node.prim.kind != "reduce" and not per_row(node.out):
            cost[node.out.id] = node.prim.cost + sum(cost.get(v.id, 0) for v in node.inputs)
    rows: set[int] = set()  # values kept in a row buffer for later passes
    first: dict[int, _Pass] = {}  # value id -> the pass that computed it first
    for ps in passes:
        targets = [r.inputs[0] for r in ps.reduces] + (element_outputs if not ps.reduces else [])
        need = _walk(ps, targets, per_row, inputs, producer, rows, first, cost)
        ps.nodes = [nd_ for nd_ in kernel.nodes if nd_.out.id in need]
        for v_id in need:
            first.setdefault(v_id, ps)
        ps.loads.sort(key=lambda v: v.id)
        ps.from_rows.sort(key=lambda v: v.id)
    return passes, stage, rows


def _walk(ps: _Pass, targets, per_row, inputs, producer, rows, first, cost) -> set[int]:
    """What pass `ps` must load, read from row buffers and compute for `targets`;
    values computed by earlier passes (`first`) that are costly to recompute are
    read from a row buffer, which the pass that computed them first fills."""
    need, seen, stack = set(), {v.id for v in ps.loads + ps.from_rows}, list(targets)
    while stack:
        var = stack.pop()
        if var.id in seen or per_row(var):
            continue
        seen.add(var.id)
        if var.id in inputs:
            ps.loads.append(var)
        elif var.id in rows:
            ps.from_rows.append(var)
        elif var.id in first and cost[var.id] >= 2:
            rows.add(var.id)
            first[var.id].to_rows.append(var)
            ps.from_rows.append(var)
        else:
            need.add(var.id)
            stack.extend(producer[var.id].inputs)
    return need
