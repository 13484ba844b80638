"""Check mode: run the eager function beside the compiled one and compare.

`ta.compile(fn, check=True)` (or TRACEAD_CHECK=1 for every compiled function)
checks the first `check_calls` (3) compiled calls of each variant: the state
the call may touch (the tensor arguments and the tensors read from outside,
with their `.grad`) is snapshotted, the compiled call runs, its writes are
put aside and the snapshot restored, the Python function runs eagerly on
copies of the arguments, and then the compiled writes are put back: the
caller sees exactly one (compiled) call. Outputs, writes and, for variants
with a compiled backward, the gradients of the outputs are compared
(`compare.py`). On a mismatch `CheckError` names the first diverging kernel
or pass, its node and the user's source line (`bisect.py`).

`check="grad"` also compares gradients with central finite differences of
the eager function, on the given inputs (`gradcheck.py`).

Python side effects of the function (printing, appending to a list) happen
twice per checked call: once compiled (traced calls only) and once eagerly.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .. import state
from ..autograd import grad_of
from ..errors import CheckError
from ..tensor import Tensor, as_tensor
from ..trace import pytree
from .bisect import first_bad_kernel, first_bad_pass
from .compare import mismatch
from .variant import MISS

DEFAULT_CALLS = 3


def check_setting(option) -> str | None:
    """None, "values" or "grad", from `check=` (True, "grad") or else TRACEAD_CHECK (1, grad)."""
    if option is None:
        option = os.environ.get("TRACEAD_CHECK", "")
        option = False if option in ("", "0") else option
    if option in (False, None):
        return None
    if option == "grad":
        return "grad"
    if option in (True, 1, "1", "true", "values"):
        return "values"
    raise ValueError(f"check={option!r}: use True, False or 'grad'")


@dataclass
class StateEntry:
    """A tensor the call may read or write: the caller's object and the one the eager run
    uses (a copy for arguments, the object itself for tensors read from outside)."""

    label: str
    real: Tensor
    eager: Tensor
    data: object
    grad: object
    position: int | None = None  # argument leaf position; None for a tensor read from outside


class Snapshot:
    """The `_data` and `_grad` of every state tensor, by reference: tracead never writes an
    array in place (assign_ and .grad replace them), so references are enough."""

    def __init__(self, entries: list[StateEntry]) -> None:
        self.entries = entries

    @classmethod
    def take(cls, leaves, free) -> "Snapshot":
        """leaves: the call's flat arguments; free: the tensors it reads from outside."""
        entries, seen = [], set()

        def add(label, t, position=None):
            if isinstance(t, Tensor) and id(t) not in seen:
                seen.add(id(t))
                entries.append(StateEntry(label, t, t, t._data, t._grad, position))

        for i, leaf in enumerate(leaves):
            add(f"argument {i}", leaf, i)
        for t in free:
            add(f"tensor read from outside the function ({t.dtype}{list(t.shape)})", t)
        return cls(entries)

    def current(self, which: str = "real") -> list[tuple]:
        return [(getattr(e, which)._data, getattr(e, which)._grad) for e in self.entries]

    def restore(self, values=None) -> None:
        for e, (data, grad) in zip(self.entries, values or [(e.data, e.grad) for e in self.entries]):
            e.real._data, e.real._grad = data, grad


def _copy_leaf(leaf):
    if isinstance(leaf, Tensor):
        t = Tensor._from_op(np.array(leaf._data, copy=True), leaf._aval)
        t.requires_grad = leaf.requires_grad
        t._grad = leaf._grad
        return t
    if isinstance(leaf, np.ndarray):  # as a compiled (or traced) call passes it: a Tensor
        return as_tensor(np.array(leaf, copy=True))
    return leaf


def make_checker(compiled, options: dict) -> "Checker | None":
    mode = check_setting(options.get("check"))
    if mode is None:
        return None
    calls = int(options.get("check_calls", os.environ.get("TRACEAD_CHECK_CALLS", DEFAULT_CALLS)))
    return Checker(compiled, mode, calls)


class Checker:
    def __init__(self, compiled, mode: str, calls: int) -> None:
        self.compiled = compiled
        self.mode = mode
        self.calls = calls
        self.checked: dict[int, int] = {}  # id(forward executable) -> checked calls
        self.grad_checked: set[int] = set()

    def run(self, variant, leaves, args, kwargs):
        """`variant.run(leaves)`, checked against the eager function for its first calls."""
        key = id(variant.forward_exec)
        if self.checked.get(key, 0) >= self.calls:
            return variant.run(leaves)
        free = variant.free_tensors(leaves)  # this call's tensors read from outside
        if free is MISS:
            return MISS
        snap = Snapshot.take(leaves, free)
        out = variant.run(leaves)
        if out is MISS:
            return MISS
        self.checked[key] = call = self.checked.get(key, 0) + 1
        forward_args = self._forward_args(variant, snap, leaves, free)
        compiled_state = snap.current()
        eager_out, eager_state = self._run_eagerly(snap, compiled_state, leaves, args, kwargs)
        self._compare_values(variant, call, out, eager_out, snap, compiled_state, eager_state, forward_args)
        self._compare_gradients(variant, call, out, eager_out, snap)
        if self.mode == "grad" and key not in self.grad_checked:
            self.grad_checked.add(key)
            from .gradcheck import check_gradients

            with_state = Snapshot.take(leaves, free)
            try:
                problem = check_gradients(self.compiled, args, kwargs)
            finally:
                with_state.restore()
            if problem:
                raise CheckError(self._header(variant, call) + problem)
        return out

    def _run_eagerly(self, snap, compiled_state, leaves, args, kwargs):
        """The Python function on copies of the arguments, from the state before the compiled
        call; afterwards the compiled call's writes are put back."""
        snap.restore()
        eager_leaves = [_copy_leaf(x) for x in leaves]
        for e in snap.entries:
            if e.position is not None:
                e.eager = eager_leaves[e.position]
        eager_args, eager_kwargs = pytree.unflatten(pytree.flatten_args(args, kwargs)[1], eager_leaves)
        try:
            with np.errstate(all="ignore"):
                eager_out = self.compiled.fn(*eager_args, **eager_kwargs)
            return eager_out, snap.current("eager")
        finally:
            snap.restore(compiled_state)

    # -- values ---------------------------------------------------------------------------
    @staticmethod
    def _forward_args(variant, snap, leaves, free) -> list:
        """The forward executable's inputs as the call saw them (argument arrays, then the
        tensors read from outside, before the call's writes)."""
        before = {id(e.real): e.data for e in snap.entries}
        arrays = []
        for i in variant.capture.arg_positions:
            x = leaves[i]
            arrays.append(before[id(x)] if isinstance(x, Tensor) else np.asarray(x))
        return arrays + [before[id(t)] for t in free]

    def _header(self, variant, call) -> str:
        n = self.compiled.order.index(variant) + 1 if variant in self.compiled.order else "?"
        return (f"tracead.compile({self.compiled.__name__}, check=...): call {call} of variant {n} "
                f"(backend {self.compiled.backend_name!r}) disagrees with the eager run:\n")

    def _compare_values(self, variant, call, out, eager_out, snap, compiled_state, eager_state,
                        forward_args) -> None:
        problems = []
        got, got_tree = pytree.flatten(out)
        want, want_tree = pytree.flatten(eager_out)
        if got_tree != want_tree or len(got) != len(want):
            problems.append(f"output structure {got_tree}, eager gives {want_tree}")
        else:
            for i, (g, w) in enumerate(zip(got, want)):
                if isinstance(g, Tensor) != isinstance(w, Tensor):
                    problems.append(f"output {i}: {type(g).__name__}, eager gives {type(w).__name__}")
                elif isinstance(g, Tensor):
                    detail = mismatch(g._data, w._data)
                    if detail:
                        problems.append(f"output {i}: {detail}")
                elif not _same_static(g, w):
                    problems.append(f"output {i}: {g!r}, eager gives {w!r}")
        for e, (cd, cg), (ed, eg) in zip(snap.entries, compiled_state, eager_state):
            detail = mismatch(cd, ed)
            if detail:
                problems.append(f"write to {e.label}: {detail}")
            if (cg is None) != (eg is None):
                problems.append(f".grad of {e.label}: {'None' if cg is None else 'set'}, "
                                f"eager gives {'None' if eg is None else 'set'}")
            elif cg is not None and cg is not eg:
                detail = mismatch(cg._data, eg._data)
                if detail:
                    problems.append(f".grad of {e.label}: {detail}")
        if problems:
            raise CheckError(self._header(variant, call) + "\n".join(problems) + "\n"
                             + self._locate_forward(variant, forward_args))

    def _locate_forward(self, variant, forward_args) -> str:
        found = first_bad_kernel(variant.forward_exec, forward_args, "forward ", variant.backend)
        if found is not None:
            return found.describe("the compiled step", "the reference interpreter")
        base, base_args = variant.capture.graph, forward_args
        if variant.backward_graph is not None:
            from ..trace.backward import joint_graph

            base = joint_graph(base, variant.wrt, variant.diff_outputs)
            base_args = forward_args + [np.ones(v.shape, v.dtype) for v in base.inputs[len(forward_args):]]
        return self._locate_passes(variant, base, base_args) or self._trace_note(variant, forward_args)

    def _locate_passes(self, variant, base, base_args) -> str | None:
        found = first_bad_pass(base, base_args, variant.options.get("passes"),
                               tuple(variant.options.get("disable", ())))
        if found is None:
            return None
        return found.describe("the graph after the pass", "the graph before it")

    @staticmethod
    def _trace_note(variant, forward_args) -> str:
        return ("every kernel and every pass agrees with the reference interpreter on the captured "
                "graph: the captured graph itself differs from the eager run (what the trace "
                "recorded, or what the compiled call reads and writes)")

    # -- gradients --------------------------------------------------------------------------
    def _compare_gradients(self, variant, call, out, eager_out, snap) -> None:
        """d <ct, outputs> / d inputs through the compiled backward and eagerly."""
        if variant.backward_exec is None or not state.grad_enabled():
            return
        got, want = pytree.flatten(out)[0], pytree.flatten(eager_out)[0]
        pairs = [(g, w) for g, w in zip(got, want)
                 if isinstance(g, Tensor) and g.requires_grad and isinstance(w, Tensor) and w.requires_grad]
        wanted = [e for e in snap.entries if e.real.requires_grad]
        if not pairs or not wanted:
            return
        rng = np.random.default_rng(call)
        cts = [rng.standard_normal(g.shape).astype(g.dtype) for g, _ in pairs]
        # grad_of runs with grad mode off: the compiled backward, not its differentiable replay.
        compiled = _grads([g for g, _ in pairs], cts, [e.real for e in wanted])
        eager = _grads([w for _, w in pairs], cts, [e.eager for e in wanted])
        problems = []
        for e, cg, eg in zip(wanted, compiled, eager):
            if (cg is None) != (eg is None):
                problems.append(f"gradient of {e.label}: compiled {'None' if cg is None else 'set'}, "
                                f"eager {'None' if eg is None else 'set'}")
            elif cg is not None:
                detail = mismatch(cg._data, eg._data)
                if detail:
                    problems.append(f"gradient of {e.label}: {detail}")
        if problems:
            raise CheckError(self._header(variant, call) + "\n".join(problems) + "\n"
                             + self._locate_backward(variant, pairs, cts))

    def _locate_backward(self, variant, pairs, cts) -> str:
        saved = pairs[0][0]._tape.params["saved"] if pairs[0][0]._tape is not None else None
        if saved is None:
            return ""
        seeds = [np.asarray(c) for c in cts]
        found = first_bad_kernel(variant.backward_exec, list(saved) + seeds, "backward ", variant.backend)
        if found is not None:
            return found.describe("the compiled step", "the reference interpreter")
        return "every backward kernel agrees with the reference interpreter on the optimised backward graph"


def _grads(outputs, cts, wrt) -> list:
    with state.enable_grad():
        return grad_of(_projection(outputs, cts), wrt)


def _projection(outputs, cts):
    """sum_k <ct_k, output_k>: one scalar whose gradient is the vjp of every output."""
    total = None
    for o, ct in zip(outputs, cts):
        term = (o * Tensor(ct)).sum()
        total = term if total is None else total + term
    return total


def _same_static(a, b) -> bool:
    try:
        same = a == b
        return bool(same) or (a != a and b != b)  # NaN scalars
    except (TypeError, ValueError):
        return a is b
