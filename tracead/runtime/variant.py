"""A compiled variant: one trace, optimised and compiled, and how to run it.

Graph outputs are laid out as: the user's tensor outputs, then one value per
value guard, then one per effect, then (for differentiable variants) the
values saved for backward. A call runs the forward executable, checks the
value guards (a mismatch means "this variant does not apply": nothing has
been written yet), replays the effects and wraps the outputs. When gradients
are wanted the outputs get one tape entry whose vjp runs the compiled
backward graph, AOTAutograd-style.

Everything about a call that does not depend on the argument values (which
leaves are graph inputs, the outputs' avals, how to rebuild the output
structure, whether there are guards or effects at all) is worked out once
when the variant is built (`CallPlan`), so a call passing its guards costs a
few microseconds plus its kernels.
"""
from __future__ import annotations

import time
import weakref
from dataclasses import dataclass, field

import numpy as np

from .. import state
from ..autograd import TapeNode, grad_of
from ..ir.graph import Graph
from ..ops.prim import Aval
from ..passes import run_pipeline
from ..tensor import Tensor, as_tensor
from ..trace import pytree
from ..trace.backward import joint_graph, partition, replay
from ..trace.capture import Capture
from .free_inputs import FreeInputs
from .guards import object_guard_failure

MISS = object()


@dataclass
class CompiledCallPrim:
    """The tape entry's 'primitive' for a compiled call (not in the table)."""

    variant: "Variant"
    name: str = "compiled_call"
    differentiable: bool = True

    def vjp(self, cts, outs, *inputs, saved):
        return self.variant.backward(cts, outs, inputs, saved)


@dataclass
class Variant:
    capture: Capture
    key: tuple
    backend: object
    options: dict
    forward_graph: Graph = None
    backward_graph: Graph | None = None
    n_saved: int = 0
    wrt: list[int] = field(default_factory=list)
    diff_outputs: list[int] = field(default_factory=list)
    pass_records: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)
    forward_exec: object = None
    backward_exec: object = None
    calls: int = 0
    last_failure: str = ""
    backward_wanted: bool = False
    plan: "CallPlan" = None
    dynamic: object = None  # the DynamicVariant this one is an instance of (runtime/dynamic.py)
    first_call_seconds: float | None = None  # the first compiled call (the ledger's break-even)

    @property
    def ledger(self):
        """What compiling this variant cost, per stage and kernel (runtime/ledger.py)."""
        from .ledger import build_ledger

        return build_ledger(self)
    object_guards: tuple = ()  # guards.object_guards of the traced call's leaves

    # -- building -----------------------------------------------------------------
    def build(self, grad_mode: bool) -> "Variant":
        cap = self.capture
        self.wrt = [i for i, rg in enumerate(cap.requires_grad) if rg] if grad_mode else []
        # Differentiate exactly the outputs that required grad in the traced
        # eager run (a detached value stays detached when compiled).
        self.diff_outputs = [k for k in range(cap.n_tensor_outputs)
                             if cap.out_requires_grad[k]] if self.wrt else []
        self.seconds["trace"] = cap.seconds
        if self.differentiable and self.options.get("backward", "lazy") == "eager":
            self.build_joint()
        else:
            self._build_forward_only()
        return self

    @property
    def differentiable(self) -> bool:
        return bool(self.wrt and self.diff_outputs)

    def _passes(self, graph, label):
        passes, disable = self.options.get("passes"), tuple(self.options.get("disable", ()))
        start = time.perf_counter()
        graph, self.pass_records[label] = run_pipeline(graph, passes, disable)
        self.seconds["passes"] = self.seconds.get("passes", 0.0) + time.perf_counter() - start
        return graph

    def _compile(self, graph, label):
        start = time.perf_counter()
        executable = self.backend.compile(graph, label)
        self.seconds["backend"] = self.seconds.get("backend", 0.0) + time.perf_counter() - start
        return executable

    def _build_forward_only(self) -> None:
        """Outputs only. If gradients turn out to be wanted, the first backward
        recomputes (see `backward`) and the next call switches to a joint graph,
        so a step that never calls .backward() on its outputs (a training step
        returning its loss) pays for no saved values."""
        self.forward_graph = self._passes(self.capture.graph, "forward")
        self.forward_exec = self._compile(self.forward_graph, "forward")
        self.plan = CallPlan(self)

    def build_joint(self) -> None:
        """One joint forward+backward graph, optimised together, then split."""
        graph = self.capture.graph
        joint = self._passes(joint_graph(graph, self.wrt, self.diff_outputs), "joint")
        fwd, bwd, self.n_saved = partition(joint, len(graph.inputs), len(graph.outputs))
        self.forward_graph, self.backward_graph = fwd, bwd
        self.forward_exec = self._compile(fwd, "forward")
        self.backward_exec = self._compile(bwd, "backward")
        self.plan = CallPlan(self)

    # -- running ------------------------------------------------------------------------
    def free_tensors(self, leaves):
        """The tensors read from outside, looked up along their paths for this call;
        MISS (with `last_failure` set) if a path broke or its tensor changed aval."""
        plan = self.plan
        if plan.objects:
            failure = object_guard_failure(plan.objects, leaves)
            if failure is not None:
                self.last_failure = failure
                return MISS
        if not plan.guarded:
            return ()
        free = plan.free.resolve(leaves)
        if free is None:
            self.last_failure = plan.free.explain_failure(leaves)
            return MISS
        return free

    def input_arrays(self, leaves) -> list:
        """The forward executable's inputs for a call with these flat leaves:
        argument arrays, then free tensors."""
        arg_leaves = [leaves[i] for i in self.plan.positions]
        arrays = [x._data if isinstance(x, Tensor) else x for x in arg_leaves]
        for j in self.plan.scalar_slots:
            arrays[j] = np.array(arrays[j], dtype=np.float64)
        free = self.free_tensors(leaves)
        if free is MISS:
            raise RuntimeError(f"input_arrays: the variant does not apply ({self.last_failure})")
        return arrays + [t._data for t in free]

    def run(self, leaves):
        plan = self.plan
        free = self.free_tensors(leaves) if plan.checked else ()
        if free is MISS:
            return MISS
        if self.backward_wanted and self.backward_graph is None:
            self.build_joint()
            plan = self.plan
        arg_leaves = leaves if plan.all_args else [leaves[i] for i in plan.positions]
        arrays = [x._data if isinstance(x, Tensor) else x for x in arg_leaves]
        for j in plan.scalar_slots:  # float arguments: 0-d float64 inputs
            arrays[j] = np.array(arrays[j], dtype=np.float64)
        if free:
            arrays += [t._data for t in free]
        if self.calls:
            outs = plan.forward(arrays)
        else:
            start = time.perf_counter()
            outs = plan.forward(arrays)
            self.first_call_seconds = time.perf_counter() - start
        n_out = plan.n_out
        if plan.value_guards:
            for guard, value in zip(plan.value_guards, outs[n_out:]):
                if not guard.holds(np.asarray(value)):
                    self.last_failure = f"value guard failed: {guard.explain_failure(np.asarray(value))}"
                    return MISS
        if plan.effects:
            self._apply_effects(leaves, free, outs[n_out + len(plan.value_guards):])
        self.calls += 1
        if plan.exact:  # the executable guarantees its outputs have the graph's avals
            results = list(map(Tensor._from_op, outs, plan.avals))
        else:
            results = [Tensor._from_op(v, aval if v.shape == aval.shape and v.dtype == aval.dtype
                                       else Aval(v.shape, v.dtype)) for v, aval in zip(outs, plan.avals)]
        if plan.differentiable and state.STATE.grad_enabled:
            self._attach_tape(results, arg_leaves, free, outs, len(outs) - self.n_saved)
        return plan.build(results)

    def _apply_effects(self, leaves, free, values) -> None:
        values = iter(values)
        for effect in self.capture.effects:
            where, which = effect.target
            target = leaves[which] if where == "arg" else free[which] if where == "free" else which
            value = next(values) if effect.var is not None else None
            if effect.kind == "assign":
                target._data = value
            else:
                target._grad = None if value is None else Tensor._from_op(value, Aval(value.shape, value.dtype))

    def _attach_tape(self, results, arg_leaves, free, outs, saved_start) -> None:
        inputs = [as_tensor(x) for x in arg_leaves] + list(free)
        diff = [results[k] for k in self.diff_outputs]
        for t in diff:
            t.requires_grad = True
        node = TapeNode(CompiledCallPrim(self), tuple(inputs),
                        {"saved": tuple(outs[saved_start:])}, tuple(weakref.ref(t) for t in diff))
        for t in diff:
            t._tape = node

    def backward(self, cts, outs, inputs, saved):
        if not isinstance(cts, list):
            cts = [cts]
        if state.grad_enabled() or self.backward_exec is None:
            self.backward_wanted = True
            return self._differentiable_backward(cts, inputs)
        # Cotangents as they are: the executable handles their layout (and
        # np.ascontiguousarray would make a 0-d seed 1-d).
        seeds = [c._data for c in cts]
        grads = self.backward_exec(list(saved) + seeds)
        result = [None] * len(inputs)
        for i, g in zip(self.wrt, grads):
            result[i] = Tensor._from_op(g, Aval(g.shape, g.dtype))
        return result

    def _differentiable_backward(self, cts, inputs):
        """Replay the forward on taped tensors and differentiate that.

        Used for higher-order gradients (the result is itself differentiable)
        and for the first backward of a forward-only variant."""
        graph = self.capture.graph
        create_graph = state.grad_enabled()
        with state.enable_grad():
            outs = replay(graph, list(inputs))
            total = None
            for k, ct in zip(self.diff_outputs, cts):
                term = (outs[k] * ct).sum()
                total = term if total is None else total + term
            wrt = [inputs[i] for i in self.wrt]
            grads = grad_of(total, wrt, create_graph=create_graph)
        result = [None] * len(inputs)
        for i, g in zip(self.wrt, grads):
            result[i] = g
        return result


class CallPlan:
    """What a call of a built variant needs, worked out once (see the module docstring)."""

    __slots__ = ("positions", "all_args", "scalar_slots", "free", "guarded", "objects", "checked",
                 "value_guards", "effects", "n_out", "avals", "exact", "differentiable", "build", "forward")

    def __init__(self, variant: Variant) -> None:
        cap = variant.capture
        self.positions = tuple(cap.arg_positions)
        self.all_args = self.positions == tuple(range(pytree.count_leaves(cap.in_treedef)))
        self.scalar_slots = tuple(j for j, i in enumerate(self.positions) if i in cap.scalar_inputs)
        n_args = len(cap.arg_positions)
        free_vars = cap.graph.inputs[n_args:]
        specs = [(v.shape, v.dtype, rg) for v, rg in zip(free_vars, cap.requires_grad[n_args:])]
        self.free = FreeInputs(cap.free, specs, [g.path for g in cap.grad_guards], cap.scalars)
        self.guarded = bool(cap.free or cap.grad_guards or cap.scalars)
        self.objects = variant.object_guards
        self.checked = self.guarded or bool(self.objects)
        self.value_guards = tuple(cap.value_guards)
        self.effects = bool(cap.effects)
        self.n_out = cap.n_tensor_outputs
        outputs = variant.forward_graph.outputs[:self.n_out]
        self.avals = tuple(Aval(v.shape, v.dtype) for v in outputs)
        self.exact = bool(getattr(variant.forward_exec, "exact_outputs", False))
        # The guards fixed the inputs' shapes and dtypes: a backend may skip its checks.
        self.forward = getattr(variant.forward_exec, "run_guarded", variant.forward_exec)
        self.differentiable = variant.differentiable
        self.build = output_builder(cap.out_treedef, cap.out_layout)


def output_builder(treedef, layout):
    """results -> the user's output structure (what `pytree.unflatten` of the output leaves
    gives), as one generated lambda: `lambda r, s=...: (r[0], (r[1], r[2]))`. The
    structure is fixed per variant, so nothing walks the treedef per call."""
    statics: list = []
    leaves = iter(layout)

    def expr(tree) -> str:
        if tree == "*":
            kind, value = next(leaves)
            if kind == "var":
                return f"r[{int(value)}]"
            if kind == "float":  # a float computed from float arguments: a 0-d output
                return f"float(r[{int(value)}].item())"
            statics.append(value)
            return f"s[{len(statics) - 1}]"
        if tree[0] == "dict":
            items = []
            for key, sub in zip(tree[1], tree[2]):
                statics.append(key)
                items.append(f"s[{len(statics) - 1}]: {expr(sub)}")
            return "{" + ", ".join(items) + "}"
        items = [expr(sub) for sub in tree[-1]]
        if tree[0] == "tuple":
            return "(" + "".join(f"{item}, " for item in items) + ")"
        if tree[0] == "list":
            return "[" + ", ".join(items) + "]"
        # A namedtuple or a registered class: rebuilt by the pytree module.
        statics.append(tree)
        return f"rebuild(s[{len(statics) - 1}], " + "".join(f"{item}, " for item in items) + ")"

    source = f"lambda r, s=s: {expr(treedef)}"
    build = eval(source, {"s": statics, "rebuild": pytree.rebuild_node})  # noqa: S307 - our own text, built from the treedef
    build.source = source
    return build

