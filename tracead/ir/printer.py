"""Readable, stable text for graphs: one line per node, like a jaxpr.

    %3:f32[4,8] = mul %1 %2            # model.py:12 in forward

Names are given in order of appearance (inputs, constants, nodes), so the text
of a graph does not depend on the ids a pass happened to allocate, and tests
can compare it exactly.
"""
from __future__ import annotations

import numpy as np

_SHORT = {"float32": "f32", "float64": "f64", "bool": "bool", "int64": "i64", "int32": "i32"}


def dtype_short(dtype) -> str:
    name = np.dtype(dtype).name
    return _SHORT.get(name, name)


def type_str(var) -> str:
    return f"{dtype_short(var.dtype)}[{','.join(str(d) for d in var.shape)}]"


def _const_text(value: np.ndarray) -> str:
    if value.size <= 4:
        return np.array2string(value.reshape(-1) if value.ndim > 1 else value,
                               separator=",", precision=6).replace("\n", "")
    return f"<{value.size} values>"


def _param_text(value) -> str:
    if isinstance(value, tuple):
        return "(" + ",".join(_param_text(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    return repr(value) if isinstance(value, str) else str(value)


def format_graph(graph, sources: bool = True, names: dict | None = None) -> str:
    names = {} if names is None else names

    def name(var) -> str:
        if var.id not in names:
            names[var.id] = f"%{len(names)}"
        return names[var.id]

    lines = ["graph(" + ", ".join(f"{name(v)}:{type_str(v)}" for v in graph.inputs) + ") {"]
    for var in graph.constant_vars():
        lines.append(f"  {name(var)}:{type_str(var)} = const {_const_text(graph.constants[var.id])}")
    for node in graph.nodes:
        args = " ".join(name(v) for v in node.inputs)
        params = " ".join(f"{k}={_param_text(v)}" for k, v in node.params)
        text = f"  {name(node.out)}:{type_str(node.out)} = {node.prim.name} {args}"
        if params:
            text += f" {params}"
        if sources and node.source is not None:
            text = f"{text:<56} # {node.source}"
        lines.append(text)
    lines.append("  return " + ", ".join(name(v) for v in graph.outputs))
    lines.append("}")
    return "\n".join(lines)
