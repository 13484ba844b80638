"""Algebraic simplification with exact identities only (rules: rules*.py).

Each node, after its inputs have been rewritten, is offered to every rule in
`RULES` until none applies. A rule returns a Var (the node's value is
that existing value), a list of nodes (the last one computes the node's value
under the node's own output Var), or None. A rule must hold bit for bit on
every input, NaN, inf and -0.0 included, and keep the output's shape and
dtype (checked here again, so a rule cannot make `x * 1` an identity when the
1 broadcasts x to a larger shape or promotes its dtype).

Dropping `stop_gradient` is safe because passes run after autodiff: the
optimised graph is never differentiated again (higher-order gradients replay
the captured graph, see runtime/variant.py).
"""
from __future__ import annotations

import numpy as np

from ..ir.graph import Graph, Node, Var, VarFactory
from ..ops.elementwise import cast_p, mul_p
from ..prim import Prim
from .rules import IDENTITY_RULES
from .rules_forms import FORM_RULES
from .rules_movement import MOVEMENT_RULES

RULES = IDENTITY_RULES + FORM_RULES + MOVEMENT_RULES

# Bound on rewrites of one node (every rule shrinks or canonicalises; this is a safety net).
MAX_STEPS = 16


class Context:
    """What rules may ask about the graph being rebuilt."""

    def __init__(self, graph: Graph) -> None:
        self.constants = dict(graph.constants)
        self.producers: dict[int, Node] = {}
        self.factory = VarFactory.after(graph)
        self._fills: dict[int, np.ndarray | None] = {}
        self.uses: dict[int, int] = {}
        for node in graph.nodes:
            for v in node.inputs:
                self.uses[v.id] = self.uses.get(v.id, 0) + 1
        for v in graph.outputs:
            self.uses[v.id] = self.uses.get(v.id, 0) + 1

    def producer(self, var: Var, prim: Prim | None = None) -> Node | None:
        """The node computing `var` (only if it applies `prim`, when given)."""
        node = self.producers.get(var.id)
        if node is not None and (prim is None or node.prim is prim):
            return node
        return None

    def fill(self, var: Var) -> np.ndarray | None:
        """The 0-d value of `var` if every element is that same constant, else None.

        Sees through movement ops (they only re-index elements) of a constant.
        """
        if var.id in self.constants:
            if var.id not in self._fills:  # rules ask often; big constants are slow to scan
                value = np.ascontiguousarray(self.constants[var.id]).reshape(-1)
                # (itemsize, not -1: an empty constant has no -1 to infer)
                raw = value.view(np.uint8).reshape(value.size, value.dtype.itemsize)
                same = value.size > 0 and bool((raw == raw[0]).all())
                self._fills[var.id] = value[0].reshape(()) if same else None
            return self._fills[var.id]
        node = self.producers.get(var.id)
        if node is not None and node.prim.kind == "movement":
            return self.fill(node.inputs[0])
        return None

    def never_negative_zero(self, var: Var) -> bool:
        """True when `var` can hold no -0.0 (so `var + 0.0` is `var` bit for bit)."""
        if var.dtype.kind != "f":
            return True
        if var.id in self.constants:
            value = self.constants[var.id]
            return not bool(np.any((value == 0) & np.signbit(value)))
        node = self.producers.get(var.id)
        if node is None:
            return False
        if node.prim.never_negative:  # results are >= +0.0 or NaN
            return True
        if node.prim is cast_p:
            return node.inputs[0].dtype.kind != "f"
        if node.prim is mul_p and node.inputs[0].id == node.inputs[1].id:
            return True  # x * x: (-0.0) * (-0.0) = +0.0
        if node.prim.kind == "movement":
            return self.never_negative_zero(node.inputs[0])
        return False

    def new_var(self, shape, dtype) -> Var:
        return self.factory.new(shape, dtype)

    def new_const(self, value: np.ndarray) -> Var:
        var = self.factory.new(value.shape, value.dtype)
        self.constants[var.id] = value
        return var


def _same_type(a: Var, b: Var) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype


def _rewrite(node: Node, ctx: Context, emit) -> Var | None:
    """Apply rules to one node until none applies; emit what remains. Returns a Var
    if the node's value turned out to be an existing value."""
    for _ in range(MAX_STEPS):
        for rule in RULES:
            result = rule(node, ctx)
            if result is None:
                continue
            if isinstance(result, Var):
                if not _same_type(result, node.out):
                    continue  # not an identity after all
                return result
            *extra, last = result
            assert last.out == node.out, f"{rule.__name__} must keep the node's output Var"
            for n in extra:
                emit(n)
            node = last
            break
        else:
            break
    emit(node)
    return None


def simplify(graph: Graph) -> Graph:
    ctx = Context(graph)
    env: dict[int, Var] = {}
    nodes: list[Node] = []

    def emit(node: Node) -> None:
        nodes.append(node)
        ctx.producers[node.out.id] = node

    for node in graph.nodes:
        inputs = tuple(env.get(v.id, v) for v in node.inputs)
        if inputs != node.inputs:
            node = Node(node.prim, inputs, node.params, node.out, node.source)
        replacement = _rewrite(node, ctx, emit)
        if replacement is not None:
            env[node.out.id] = replacement
            # its users now read the replacement (rules that ask "used once?" stay safe)
            ctx.uses[replacement.id] = ctx.uses.get(replacement.id, 0) + ctx.uses.get(node.out.id, 0)
    outputs = tuple(env.get(v.id, v) for v in graph.outputs)
    return graph.replace(nodes=tuple(nodes), outputs=outputs, constants=ctx.constants)
