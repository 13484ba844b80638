"""Run a user function once under a tracer and package what it recorded.

The run is a real eager execution (its values, effects and result are real:
the first call of a compiled function returns exactly this result); the
recording becomes a `Capture`: the graph, the guards, the effects and how to
rebuild the output structure.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .. import state
from ..ir.graph import Graph
from ..tensor import Tensor, as_tensor
from . import pytree
from .tracer import Effect, GradGuard, Tracer, ValueGuard


@dataclass
class Capture:
    graph: Graph  # inputs: tensor args, then free tensors; outputs: see layout
    in_treedef: tuple
    arg_positions: list[int]  # flat argument positions that are graph inputs
    free: list  # tensors read by reference
    out_treedef: tuple
    out_layout: list  # per output leaf: ("var", k) or ("static", value)
    n_tensor_outputs: int
    value_guards: list[ValueGuard]
    grad_guards: list[GradGuard]
    effects: list[Effect]
    result: object  # the eager result of the traced run
    seconds: float
    requires_grad: list[bool] = field(default_factory=list)  # per graph input
    out_requires_grad: list[bool] = field(default_factory=list)  # per tensor output


def capture(fn, args, kwargs) -> Capture:
    start = time.perf_counter()
    leaves, treedef = pytree.flatten_args(args, kwargs)
    tracer = Tracer(concrete=True)
    call_leaves, positions = list(leaves), []
    for i, leaf in enumerate(leaves):
        if isinstance(leaf, np.ndarray):
            call_leaves[i] = leaf = as_tensor(leaf, op=f"compile argument {i}")
        if isinstance(leaf, Tensor):
            tracer.add_input(leaf, i)
            positions.append(i)
    call_args, call_kwargs = pytree.unflatten(treedef, call_leaves)
    with state.tracing(tracer):
        result = fn(*call_args, **call_kwargs)
        out_leaves, out_treedef = pytree.flatten(result)
        layout, out_vars, out_rg = [], [], []
        for leaf in out_leaves:
            if isinstance(leaf, Tensor):
                layout.append(("var", len(out_vars)))
                out_vars.append(tracer.var_of(leaf))
                out_rg.append(leaf.requires_grad)
            else:
                layout.append(("static", leaf))
    n_tensor_outputs = len(out_vars)
    extra = [g.var for g in tracer.value_guards] + [e.var for e in tracer.effects if e.var is not None]
    graph = tracer.graph(out_vars + extra)
    inputs_rg = [call_leaves[i].requires_grad for i in positions] + [t.requires_grad for t, _ in tracer.free]
    return Capture(graph, treedef, positions, [t for t, _ in tracer.free], out_treedef, layout,
                   n_tensor_outputs, tracer.value_guards, tracer.grad_guards, tracer.effects,
                   result, time.perf_counter() - start, inputs_rg, out_rg)
