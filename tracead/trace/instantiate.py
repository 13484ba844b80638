"""A dynamic-shape capture made concrete for one call's sizes, without tracing again.

A capture traced with symbolic sizes (symint.py) holds SymInts in its Var shapes
and op params, and expressions for the constants computed from sizes. Given the
sizes of a call (symbol k -> int), `instantiate` builds the plain capture the
static path would have traced at those sizes: same nodes, shapes and params
evaluated, size-derived constants recomputed. Passes and backends only ever
see such concrete graphs.

Each node's shape rule is run again on the new input shapes and params; a
result other than the evaluated shape means a size escaped the symbolic
tracking (a plain int where an expression was needed): `SizeEscaped`, and the
caller specialises instead of compiling a wrong graph. `same_capture` is the
other half of that safety net (see runtime/dynamic.py).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..ir.graph import Graph, Node, Var
from ..prim import Aval
from ..symint import concrete, evaluate, substitute
from .capture import Capture


class SizeEscaped(Exception):
    """The symbolic graph does not describe the program at the new sizes."""


def instantiate(cap: Capture, sizes: tuple, check: bool = True) -> Capture:
    """The capture at `sizes` (symbol k -> sizes[k]); `check` re-runs each shape rule."""
    vars_: dict[int, Var] = {}

    def var(v: Var) -> Var:
        new = vars_.get(v.id)
        if new is None:
            new = vars_[v.id] = Var(v.id, tuple(int(substitute(d, sizes)) for d in v.shape), v.dtype)
        return new

    nodes = []
    for node in cap.graph.nodes:
        params = tuple((k, substitute(value, sizes)) for k, value in node.params)
        inputs = tuple(var(v) for v in node.inputs)
        out = var(node.out)
        if check:
            _check_shape(node, inputs, params, out)
        nodes.append(Node(node.prim, inputs, params, out, node.source))
    constants = dict(cap.graph.constants)
    symbolic = {v.id: v for v in cap.graph.constant_vars()}
    for vid, expr in cap.constant_exprs.items():
        old = constants[vid]
        if expr[0] in ("fill", "arange"):  # zeros/ones/full, np.arange(n) of a symbolic size
            shape = var(symbolic[vid]).shape if vid in symbolic else old.shape
            constants[vid] = (np.full(shape, expr[1], old.dtype) if expr[0] == "fill"
                              else np.arange(shape[0], dtype=old.dtype))
        else:
            value = np.asarray(evaluate(expr, sizes), dtype=old.dtype)
            constants[vid] = np.broadcast_to(value, old.shape).copy()
    graph = Graph(tuple(var(v) for v in cap.graph.inputs), tuple(nodes),
                  tuple(var(v) for v in cap.graph.outputs), constants)
    layout = [(kind, substitute(value, sizes) if kind == "static" else value)
              for kind, value in cap.out_layout]
    return dataclasses.replace(
        cap, graph=graph, result=None, dims={}, size_guards=[], constant_exprs={}, out_layout=layout,
        value_guards=[dataclasses.replace(g, var=var(g.var)) for g in cap.value_guards],
        effects=[dataclasses.replace(e, var=None if e.var is None else var(e.var)) for e in cap.effects])


def _check_shape(node: Node, inputs, params, out: Var) -> None:
    try:
        aval = node.prim.shape_rule(*(Aval(v.shape, v.dtype) for v in inputs), **dict(params))
    except Exception as exc:  # noqa: BLE001 - any failure: the graph does not fit these sizes
        raise SizeEscaped(f"{node.prim.name} at {node.source}: {exc}") from None
    shape = tuple(int(d) for d in concrete(aval.shape))
    if shape != out.shape or np.dtype(aval.dtype) != out.dtype:
        raise SizeEscaped(f"{node.prim.name} at {node.source} gives {list(shape)}, the symbolic "
                          f"graph says {list(out.shape)} (a size escaped the symbolic tracking)")


def same_capture(a: Capture, b: Capture) -> str | None:
    """None if two concrete captures describe the same program; else the first difference."""
    ga, gb = a.graph, b.graph
    if len(ga.nodes) != len(gb.nodes):
        return f"{len(ga.nodes)} nodes against {len(gb.nodes)} (Python took another path)"
    for x, y in zip(ga.inputs + ga.outputs, gb.inputs + gb.outputs):
        if x != y:
            return f"graph input/output {x.id}: {list(x.shape)} against {list(y.shape)}"
    for x, y in zip(ga.nodes, gb.nodes):
        if x.prim.name != y.prim.name or x.inputs != y.inputs or x.out != y.out:
            return f"{x.prim.name} at {x.source} against {y.prim.name} at {y.source}"
        if x.params != y.params:
            return f"{x.prim.name} at {x.source}: params {dict(x.params)} against {dict(y.params)}"
    if ga.constants.keys() != gb.constants.keys():
        return "different constants"
    for vid, value in ga.constants.items():
        other = gb.constants[vid]
        if value.shape != other.shape or value.dtype != other.dtype or not np.array_equal(
                value, other, equal_nan=value.dtype.kind == "f"):
            return f"constant {vid} {_short(value)} against {_short(other)} (a size-derived number escaped)"
    for what in ("value_guards", "effects", "grad_guards", "free", "arg_positions", "out_layout"):
        if len(getattr(a, what)) != len(getattr(b, what)):
            return f"different {what}"
    for (kind, x), (_, y) in zip(a.out_layout, b.out_layout):
        if kind == "static" and type(x) in (int, float, tuple) and x != y:
            return f"a returned Python value: {x!r} against {y!r}"
    return None


def _short(value) -> str:
    return np.array2string(np.asarray(value), precision=6, threshold=4).replace("\n", "")
