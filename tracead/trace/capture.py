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
from ..ops.prim import Aval
from .scalars import ScalarInput, plain_result
from ..symint import SymInt, concrete
from .sources import Source, SourceFinder, scalar_sources
from .tracer import Effect, GradGuard, Tracer, ValueGuard


@dataclass
class Capture:
    graph: Graph  # inputs: tensor args, then free tensors; outputs: see layout
    in_treedef: tuple
    arg_positions: list[int]  # flat argument positions that are graph inputs
    free: list[Source]  # where each free input (graph input after the args) is found
    out_treedef: tuple
    out_layout: list  # per output leaf: ("var", k), ("float", k) or ("static", value)
    n_tensor_outputs: int
    value_guards: list[ValueGuard]
    grad_guards: list[GradGuard]
    effects: list[Effect]
    result: object  # the eager result of the traced run; the caller takes it (see `take_result`)
    seconds: float
    requires_grad: list[bool] = field(default_factory=list)  # per graph input
    scalars: list = field(default_factory=list)  # (Source, value) of outside scalars, before the run
    out_requires_grad: list[bool] = field(default_factory=list)  # per tensor output
    scalar_inputs: frozenset = frozenset()  # flat positions of float arguments that are inputs
    # A dynamic-shape trace (symint.py): flat position -> {axis: symbol}, the size
    # comparisons Python made, and the constants computed from sizes (Var id -> expression).
    # The graph's shapes and params then hold SymInts: `instantiate.py` makes it concrete.
    dims: dict = field(default_factory=dict)
    size_guards: list = field(default_factory=list)
    constant_exprs: dict = field(default_factory=dict)

    def take_result(self):
        """The traced run's result, dropped from the capture: a variant must not keep the
        eager result (and through it the run's whole autograd tape) alive."""
        result, self.result = self.result, None
        return result


def tensor_args(args, kwargs) -> tuple[tuple, dict, list, tuple]:
    """The arguments a traced (or eager-mode) call passes the function: NumPy arrays
    become Tensors, everything else as given. Also returns the original flat leaves
    and the argument treedef."""
    leaves, treedef = pytree.flatten_args(args, kwargs)
    if not any(isinstance(leaf, np.ndarray) for leaf in leaves):
        return args, kwargs, leaves, treedef
    call_leaves = [as_tensor(leaf) if isinstance(leaf, np.ndarray) else leaf for leaf in leaves]
    call_args, call_kwargs = pytree.unflatten(treedef, call_leaves)
    return call_args, call_kwargs, leaves, treedef


def final_effects(effects: list[Effect]) -> list[Effect]:
    """The writes a call must replay: the last per (kind, target). A training step that
    sets `p.grad` in backward and `p.grad = None` after the update leaves no gradient
    behind, so the gradient need not be a graph output (it can then live in a reused
    buffer, or never be materialised at all)."""
    def key(e: Effect):
        where, which = e.target
        return e.kind, where, id(which) if where == "const" else which

    last = {key(e): i for i, e in enumerate(effects)}
    return [e for i, e in enumerate(effects) if last[key(e)] == i]


def capture(fn, args, kwargs, snapshot=None, scalar_inputs=frozenset(), dims=None) -> Capture:
    """`snapshot`, if given, is told (`.note(tensor)`) about every outside tensor the run
    reads or writes before it is written (explain/profile restore them afterwards).
    `scalar_inputs`: flat positions of float arguments that are graph inputs (0-d
    float64), passed to the function as `ScalarInput` stand-ins (see scalars.py).
    `dims` (flat position -> {axis: symbol}): those sizes are SymInts during the run."""
    start = time.perf_counter()
    scalars = scalar_sources(fn)
    leaves, treedef = pytree.flatten_args(args, kwargs)
    tracer = Tracer(concrete=True, finder=SourceFinder(fn, leaves), snapshot=snapshot)
    if dims:
        tracer.size_guards, tracer.constant_exprs = {}, {}
    restore = []  # (tensor, aval): the caller's tensors get their plain shapes back
    call_leaves, positions, input_tensors = list(leaves), [], []
    for i, leaf in enumerate(leaves):
        if isinstance(leaf, np.ndarray):
            call_leaves[i] = leaf = as_tensor(leaf, op=f"compile argument {i}")
            tracer.array_args.add(i)
        if isinstance(leaf, Tensor):
            if dims and i in dims:
                restore.append((leaf, leaf._aval))
                leaf._aval = Aval(symbolic_shape(leaf.shape, dims[i]), leaf.dtype)
            tracer.add_input(leaf, i)
        elif i in scalar_inputs:
            value = np.array(leaf, dtype=np.float64)
            leaf = Tensor._from_op(value, Aval((), value.dtype))
            tracer.add_input(leaf, i)
            call_leaves[i] = ScalarInput(float(call_leaves[i]), leaf, tracer)
        else:
            continue
        positions.append(i)
        input_tensors.append(leaf)
    call_args, call_kwargs = pytree.unflatten(treedef, call_leaves)
    try:
        with state.tracing(tracer):
            result, out_leaves, out_treedef, layout, out_vars, out_rg = _run(fn, call_args, call_kwargs,
                                                                             tracer)
    finally:
        for tensor, aval in restore:
            tensor._aval = aval
    if dims:
        for leaf in out_leaves:  # the caller gets tensors with plain shapes
            if isinstance(leaf, Tensor):
                leaf._aval = Aval(concrete(leaf.shape), leaf.dtype)
    n_tensor_outputs = len(out_vars)
    result = plain_result(result)  # the caller gets floats, as from the eager function
    effects = final_effects(tracer.effects)
    extra = [g.var for g in tracer.value_guards] + [e.var for e in effects if e.var is not None]
    graph = tracer.graph(out_vars + extra)
    inputs_rg = [t.requires_grad for t in input_tensors] + [t.requires_grad for t, _ in tracer.free]
    return Capture(graph, treedef, positions, list(tracer.free_sources), out_treedef, layout,
                   n_tensor_outputs, tracer.value_guards, tracer.grad_guards, effects,
                   result, time.perf_counter() - start, inputs_rg, out_requires_grad=out_rg, scalars=scalars,
                   scalar_inputs=frozenset(i for i in positions if i in scalar_inputs),
                   dims=dict(dims or {}), size_guards=list((tracer.size_guards or {}).values()),
                   constant_exprs=dict(tracer.symbolic_constants))


def symbolic_shape(shape, axes: dict) -> tuple:
    """`shape` with the sizes at `axes` (axis -> symbol) as SymInts."""
    return tuple(SymInt(d, ("sym", axes[a])) if a in axes else d for a, d in enumerate(shape))


def _run(fn, call_args, call_kwargs, tracer):
    result = fn(*call_args, **call_kwargs)
    out_leaves, out_treedef = pytree.flatten(result)
    layout, out_vars, out_rg = [], [], []
    for leaf in out_leaves:
        if type(leaf) is ScalarInput:  # a float computed from float arguments
            layout.append(("float", len(out_vars)))
            out_vars.append(tracer.var_of(leaf.tensor))
            out_rg.append(False)
        elif isinstance(leaf, Tensor):
            layout.append(("var", len(out_vars)))
            out_vars.append(tracer.var_of(leaf))
            out_rg.append(leaf.requires_grad)
        else:
            layout.append(("static", leaf))
    return result, out_leaves, out_treedef, layout, out_vars, out_rg
