"""The tracer: records one dynamic execution of a function into a Graph.

While a tracer is active, `bind` reports every primitive here. Tensors are
mapped to Vars by identity:
  * the function's inputs become graph inputs;
  * tensors created during the trace from Python numbers or arrays become
    constants (their values are baked in, copied);
  * tensors from outside (closures, model parameters, optimizer state) become
    *free* inputs read by reference on every call, so parameter updates
    between calls are seen (torch.compile lifts module parameters the same way).
Points where a value leaves the graph (`item()`, `bool()`, ...) become value
guards; writes to the outside world (`assign_`, `.grad = ...`) become effects
that the compiled call replays.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import state
from ..errors import SourceLoc, user_source
from ..ir.graph import Graph, Node, Var, VarFactory, freeze_params


@dataclass(slots=True)
class ValueGuard:
    """A traced value that Python code looked at; later calls must agree."""

    var: Var
    how: str
    expected: np.ndarray
    source: SourceLoc | None

    def holds(self, actual: np.ndarray) -> bool:
        return (actual.shape == self.expected.shape
                and np.array_equal(actual, self.expected, equal_nan=actual.dtype.kind == "f"))

    def describe(self) -> str:
        where = f" at {self.source}" if self.source else ""
        return f"value of {self.how}{where} == {_short(self.expected)}"

    def explain_failure(self, actual: np.ndarray) -> str:
        where = f" at {self.source}" if self.source else ""
        return f"{self.how}{where} was {_short(self.expected)} when traced, now {_short(actual)}"


@dataclass(slots=True)
class GradGuard:
    """`owner.grad` was read during the trace and came from outside it."""

    owner: object
    expected: object  # None or the exact Tensor object read
    source: SourceLoc | None

    def holds(self) -> bool:
        return self.owner._grad is self.expected

    def describe(self) -> str:
        what = "None" if self.expected is None else "the same tensor"
        return f".grad of a {list(self.owner.shape)} tensor is {what}" + (
            f" (read at {self.source})" if self.source else "")


@dataclass(slots=True)
class Effect:
    """A write the compiled call must replay: target is ('arg', k) or ('obj', tensor)."""

    kind: str  # "assign" | "grad"
    target: tuple
    var: Var | None


def _short(value: np.ndarray) -> str:
    return np.array2string(np.asarray(value), precision=6, threshold=6).replace("\n", "")


class Tracer:
    def __init__(self, concrete: bool = True) -> None:
        self.concrete = concrete
        self.factory = VarFactory()
        self.vars: dict[int, Var] = {}
        self.keep: list = []  # holds traced tensors so their ids stay unique
        self.nodes: list[Node] = []
        self.constants: dict[int, np.ndarray] = {}
        self.inputs: list[Var] = []
        self.arg_index: dict[int, int] = {}  # id(tensor) -> argument position
        self.free: list[tuple[object, Var]] = []
        self.born: set[int] = set()
        self.value_guards: list[ValueGuard] = []
        self.grad_guards: list[GradGuard] = []
        self.grad_written: set[int] = set()
        self.effects: list[Effect] = []
        self.source_hint: SourceLoc | None = None

    # -- variables ------------------------------------------------------------
    def add_input(self, tensor, position: int) -> Var:
        var = self.factory.new(tensor.shape, tensor.dtype)
        self.vars[id(tensor)] = var
        self.keep.append(tensor)
        self.inputs.append(var)
        self.arg_index[id(tensor)] = position
        return var

    def note_constant(self, tensor) -> None:
        self.born.add(id(tensor))
        self.keep.append(tensor)

    def var_of(self, tensor) -> Var:
        var = self.vars.get(id(tensor))
        if var is not None:
            return var
        var = self.factory.new(tensor.shape, tensor.dtype)
        if id(tensor) in self.born:
            self.constants[var.id] = np.array(tensor._data, copy=True)
        else:
            self.free.append((tensor, var))
        self.vars[id(tensor)] = var
        self.keep.append(tensor)
        return var

    def source(self) -> SourceLoc | None:
        return self.source_hint if self.source_hint is not None else user_source(3)

    def record(self, prim, inputs, params, out) -> Node:
        in_vars = tuple(self.var_of(t) for t in inputs)
        out_var = self.factory.new(out.shape, out.dtype)
        self.vars[id(out)] = out_var
        self.keep.append(out)
        node = Node(prim, in_vars, freeze_params(params), out_var, self.source())
        self.nodes.append(node)
        return node

    # -- leaving the graph and writing to the world ------------------------------
    def concretize(self, tensor, how: str) -> None:
        if id(tensor) in self.born and id(tensor) not in self.vars:
            return  # a constant: nothing to guard
        if not self.concrete:
            from ..errors import UnsupportedInCompile

            raise UnsupportedInCompile(f"{how} needs a concrete value, but this trace is abstract")
        var = self.var_of(tensor)
        self.value_guards.append(
            ValueGuard(var, how, np.array(tensor._data, copy=True), user_source(3)))

    def _target(self, tensor) -> tuple:
        if id(tensor) in self.arg_index:
            return ("arg", self.arg_index[id(tensor)])
        self.var_of(tensor)  # make sure it is known (free input) before the write
        return ("obj", tensor)

    def mutate(self, target, new) -> None:
        new_var = self.var_of(new)
        self.effects.append(Effect("assign", self._target(target), new_var))
        self.vars[id(target)] = new_var  # later reads see the new value

    def read_grad(self, owner, grad) -> None:
        if id(owner) in self.grad_written:
            return
        self.grad_guards.append(GradGuard(owner, grad, user_source(3)))
        self.grad_written.add(id(owner))  # one guard per owner is enough

    def write_grad(self, owner, value) -> None:
        var = None if value is None else self.var_of(value)
        self.effects.append(Effect("grad", self._target(owner), var))
        self.grad_written.add(id(owner))

    # -- result ------------------------------------------------------------------
    def graph(self, outputs: list[Var]) -> Graph:
        inputs = tuple(self.inputs) + tuple(var for _, var in self.free)
        return Graph(inputs, tuple(self.nodes), tuple(outputs), dict(self.constants))


def current_concrete_tracer():
    tracer = state.current_tracer()
    return tracer if tracer is not None and tracer.concrete else None
