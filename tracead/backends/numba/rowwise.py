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
    added up in float64 (source.reduction_loop). Every loop vectorises.

Parallel: the outermost row axis in chunks (`prange`), each with its buffers.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ...ir.printer import type_str
from . import scalar
from .scalar import cast, combine, identity, node_expression
from .source import Acc, Names, Nest, Writer, function_frame, index_expr, loop_header, reduction_loop


@dataclass
class _Pass:
    """One loop over the row."""

    reduces: list  # reduce nodes finished by this pass ([] for the output pass)
    loads: list = field(default_factory=list)  # kernel inputs read in the loop
    from_rows: list = field(default_factory=list)  # values read from row buffers
    nodes: list = field(default_factory=list)  # per-element statements, node order
    to_rows: list = field(default_factory=list)  # values stored into row buffers


def rowwise_fn(name, kernel, names: Names, in_views, out_views, parallel: bool, chunks: int) -> str:
    shape = tuple(kernel.shape)
    nd, n = len(shape), shape[-1]
    indices = [f"i{k}" for k in range(nd - 1)] + ["j"]
    view = {node.out.id: (1,) * (nd - len(node.out.shape)) + tuple(node.out.shape) for node in kernel.nodes}
    view.update((v.id, vw) for v, vw in zip(kernel.inputs, in_views))
    per_row = lambda var: view[var.id][-1] == 1  # noqa: E731  (constant along the row)
    passes, stage, rows = _plan(kernel, per_row)
    out_view = {v.id: vw for v, vw in zip(kernel.outputs, out_views)}

    def at(var, array: str) -> str:
        return array + index_expr(view[var.id] if var.id in view else out_view[var.id], shape, indices)

    def buffer(var) -> str:
        return "row" + names.ident(var)

    def statements(nodes) -> list[tuple[str, str]]:
        return [(f"{names.value(nd_.out)} = {node_expression(nd_, [names.value(v) for v in nd_.inputs])}",
                 names.node(nd_)) for nd_ in nodes]

    def row_values(p: int) -> list[tuple[str, str]]:  # per-row statements once stage p is done
        return statements(nd_ for nd_ in kernel.nodes if nd_.prim.kind != "reduce" and per_row(nd_.out)
                          and stage[nd_.out.id] == p)

    def stores(on_row: bool) -> list[tuple[str, str]]:
        return [(f"{at(v, names.array_out(v))} = {names.value(v)}", f"{names(v)} output")
                for v in kernel.outputs if per_row(v) == on_row]

    def reduce_pass(w: Writer, p: int, ps: _Pass) -> None:
        accs = []
        for r in ps.reduces:
            x, acc_t = r.inputs[0], scalar.accumulator_dtype(r.prim.template, r.inputs[0].dtype, r.out.dtype)
            accs.append(Acc("acc" + names.ident(r.out), names.value(x), r.prim.template, acc_t, x.dtype,
                            names.node(r)))
            w.line(f"{accs[-1].name} = {identity(r.prim.template, acc_t)}", names.node(r))
        along = [a for a, r in zip(accs, ps.reduces) if not per_row(r.inputs[0])]
        for a, r in zip(accs, ps.reduces):
            if per_row(r.inputs[0]):  # a row of length 1
                w.line(f"{a.name} = {combine(a.template, a.name, cast(a.value, a.dtype), a.dtype)}", a.label)
        if along:
            label = ", ".join(names(r.out) for r in ps.reduces)
            reduction_loop(w, "j", 0, n, f"pass {p} along the row: {label}", loop_body(ps), along)
        w.lines_at([(f"{names.value(r.out)} = {cast(a.name, r.out.dtype)}", a.label)
                    for a, r in zip(accs, ps.reduces)])
        w.lines_at(row_values(p))

    def loop_body(ps: _Pass) -> list[tuple[str, str]]:
        return ([(f"{names.value(v)} = {at(v, names.array_in(v))}", f"{names(v)} input {type_str(v)}")
                 for v in ps.loads]
                + [(f"{names.value(v)} = {buffer(v)}[j]", f"{names(v)} from its row buffer")
                   for v in ps.from_rows]
                + statements(ps.nodes)
                + [(f"{buffer(v)}[j] = {names.value(v)}", f"{names(v)} into its row buffer")
                   for v in ps.to_rows])

    def body(w: Writer) -> None:
        w.lines_at([(f"{names.value(v)} = {at(v, names.array_in(v))}", f"{names(v)} input {type_str(v)}")
                    for v in kernel.inputs if per_row(v)])
        w.lines_at(row_values(0))
        for p, ps in enumerate(passes, 1):
            if ps.reduces:
                reduce_pass(w, p, ps)
        w.lines_at(stores(on_row=True))
        if passes and not passes[-1].reduces:
            with w.block(f"for j in range({n}):", "outputs along the row"):
                w.lines_at(loop_body(passes[-1]) + stores(on_row=False))

    w = Writer()
    function_frame(w, name, kernel, names, parallel, f"per row of {n}, {len(passes)} loops along it")
    row_axes = [k for k in range(nd - 1) if shape[k] != 1]
    headers = [(loop_header(f"i{k}", 0, shape[k], False), f"axis {k}") for k in row_axes]
    if parallel and row_axes:
        a0, n0 = row_axes[0], shape[row_axes[0]]
        nc = min(chunks, n0)
        headers[:1] = [(f"for c in prange({nc}):", f"{nc} chunks of axis {a0}, in parallel"),
                       (loop_header(f"i{a0}", f"c * {n0} // {nc}", f"(c + 1) * {n0} // {nc}", False),
                        f"axis {a0}, this chunk")]
    nest = Nest(headers, body=body)
    nest.before[1 if parallel and row_axes else 0] += [
        (f"{buffer(nd_.out)} = np.empty({n}, {scalar.np_type(nd_.out.dtype)})",
         f"row buffer of {names(nd_.out)}") for nd_ in kernel.nodes if nd_.out.id in rows]
    nest.emit(w)
    return w.text()


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
