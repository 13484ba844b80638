"""The tracer: records one dynamic execution of a function into a Graph.

While a tracer is active, `bind` reports every primitive here. Tensors are
mapped to Vars by identity:
  * the function's inputs become graph inputs;
  * tensors created during the trace from Python numbers or arrays become
    constants (their values are baked in, copied);
  * tensors from outside (closures, model parameters, optimizer state) become
    *free* inputs, looked up again on every call along the path the function
    reached them by (`sources.py`), so both in-place updates and rebinding
    (`w = w - lr * g`, `model.fc.weight = ...`) are seen (torch.compile lifts
    module parameters the same way); `.grad` read from outside is a free input
    too, reached as `<owner's path>.grad`.
Points where a value leaves the graph (`item()`, `bool()`, ...) become value
guards; writes to the outside world (`assign_`, `.grad = ...`) become effects
that the compiled call replays.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import SourceLoc, UnsupportedInCompile, user_source
from ..ir.graph import Graph, Node, Var, VarFactory, freeze_params
from .sources import Source, SourceFinder, by_reference


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
    """`.grad` was read during the trace and was None; later calls need None there too
    (a `.grad` that was a tensor is a free input instead, see `read_grad`)."""

    path: Source  # the owner's path, then ("grad",)
    source: SourceLoc | None

    def describe(self) -> str:
        return f"{self.path.describe()} is None" + (f" (read at {self.source})" if self.source else "")


@dataclass(slots=True)
class Effect:
    """A write the compiled call must replay: target is ('arg', flat position),
    ('free', index into the free inputs) or ('const', tensor)."""

    kind: str  # "assign" | "grad"
    target: tuple
    var: Var | None


def _short(value: np.ndarray) -> str:
    return np.array2string(np.asarray(value), precision=6, threshold=6).replace("\n", "")


class Tracer:
    def __init__(self, concrete: bool = True, finder: SourceFinder | None = None,
                 snapshot=None) -> None:
        self.concrete = concrete
        self.factory = VarFactory()
        self.vars: dict[int, Var] = {}
        self.keep: list = []  # holds traced tensors so their ids stay unique
        self.nodes: list[Node] = []
        self.constants: dict[int, np.ndarray] = {}
        self.inputs: list[Var] = []
        self.arg_index: dict[int, int] = {}  # id(tensor) -> argument position
        self.free: list[tuple[object, Var]] = []
        self.free_sources: list[Source] = []
        self.free_slot: dict[int, int] = {}  # id(tensor) -> index into free
        self.finder = finder  # None: free tensors are read by reference
        self.pending: dict[int, Source] = {}  # id(grad tensor) -> owner's path + .grad
        self.array_args: set[int] = set()  # positions whose tensor was made from an ndarray
        self.snapshot = snapshot  # notes the state of every outside tensor touched
        self.born: set[int] = set()
        self.value_guards: list[ValueGuard] = []
        self.grad_guards: list[GradGuard] = []
        self.grad_written: set[int] = set()
        self.effects: list[Effect] = []
        self.source_hint: SourceLoc | None = None
        # A dynamic-shape trace (symint.py) sets these to dicts: the comparisons of sizes
        # Python made (guard key -> SizeGuard), and the constants made from size-derived
        # numbers (id(tensor) -> expression; by Var id once the constant is used).
        self.size_guards: dict | None = None
        self.constant_exprs: dict | None = None
        self.symbolic_constants: dict[int, tuple] = {}

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
            if self.constant_exprs and id(tensor) in self.constant_exprs:
                self.symbolic_constants[var.id] = self.constant_exprs[id(tensor)]
        else:
            source = self.pending.pop(id(tensor), None)
            if source is None:
                source = self.finder.find(tensor) if self.finder is not None else by_reference(tensor)
            self.free_slot[id(tensor)] = len(self.free)
            self.free.append((tensor, var))
            self.free_sources.append(source)
            if self.snapshot is not None:
                self.snapshot.note(tensor)
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
    def concretize(self, tensor, how: str, source: SourceLoc | None = None) -> None:
        if id(tensor) in self.born and id(tensor) not in self.vars:
            return  # a constant: nothing to guard
        if not self.concrete:
            raise UnsupportedInCompile(f"{how} needs a concrete value, but this trace is abstract")
        var = self.var_of(tensor)
        self.value_guards.append(
            ValueGuard(var, how, np.array(tensor._data, copy=True), source or user_source(3)))

    def _target(self, tensor) -> tuple:
        if self.snapshot is not None:
            self.snapshot.note(tensor)
        if id(tensor) in self.arg_index:
            return ("arg", self.arg_index[id(tensor)])
        self.var_of(tensor)  # make sure it is known (free input) before the write
        slot = self.free_slot.get(id(tensor))
        return ("free", slot) if slot is not None else ("const", tensor)

    def mutate(self, target, new) -> None:
        new_var = self.var_of(new)
        self.effects.append(Effect("assign", self._target(target), new_var))
        self.vars[id(target)] = new_var  # later reads see the new value

    def _path_of(self, tensor) -> Source | None:
        """How a later call finds `tensor` again; None for tensors local to the run."""
        position = self.arg_index.get(id(tensor))
        if position is not None:
            return None if position in self.array_args else Source(("arg", position))
        if id(tensor) in self.born:
            return None
        self.var_of(tensor)
        slot = self.free_slot.get(id(tensor))
        return None if slot is None else self.free_sources[slot]

    def read_grad(self, owner, grad) -> None:
        """`owner.grad` read from outside the run: a None is guarded, a tensor becomes a
        free input reached through the owner, so each call reads the current `.grad`."""
        if id(owner) in self.grad_written:
            return
        self.grad_written.add(id(owner))  # one read per owner is enough
        path = self._path_of(owner)
        if path is None:
            return
        if self.snapshot is not None:
            self.snapshot.note(owner)
        if grad is None:
            self.grad_guards.append(GradGuard(path.then(("grad",)), user_source(3)))
        elif id(grad) not in self.vars and id(grad) not in self.born:
            self.pending[id(grad)] = path.then(("grad",))
            self.var_of(grad)
        elif id(grad) in self.free_slot:  # also reached another way: both must agree per call
            slot = self.free_slot[id(grad)]
            known = self.free_sources[slot]
            self.free_sources[slot] = Source(known.root, known.steps,
                                             known.also + (path.then(("grad",)),))

    def write_grad(self, owner, value) -> None:
        var = None if value is None else self.var_of(value)
        self.effects.append(Effect("grad", self._target(owner), var))
        self.grad_written.add(id(owner))

    # -- result ------------------------------------------------------------------
    def graph(self, outputs: list[Var]) -> Graph:
        inputs = tuple(self.inputs) + tuple(var for _, var in self.free)
        return Graph(inputs, tuple(self.nodes), tuple(outputs), dict(self.constants))
