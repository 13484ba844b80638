"""Random programs for the property tests and the long fuzz run (tests/fuzz.py).

A `Program` is a random expression DAG over tracead ops with a NumPy twin:
`fn(*tensors, *scalars)` and `ref(*arrays, *scalars)`. Values stay in safe
domains: logs and square roots see 1 + x*x, exponentials see tanh(x),
divisors are 1 + x*x. The output is the sum of the sinks (nodes nothing else
uses), so every node is live.

Beyond plain expressions a program can carry what past bugs were made of
(`Features`): Python scalar arguments (±0.0, NaN, ints, bools), tensors read
from outside the function (a dict entry and a module attribute, updated in
place or rebound between calls), reads of their `.grad`, zero-size shapes,
outputs that simplify to an input (x * 1.0, x + 0.0), special input values
(-0.0, inf) and argument sizes that change between calls. `Scenario` is a
program plus the sequence of calls to make.

Choices come from a `Choices` object, so the same generator serves Hypothesis
(`HypothesisChoices`, shrinking and all) and a plain seeded loop
(`RngChoices`, for 10 000-program runs).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, NamedTuple

import numpy as np

import tracead as ta


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _at_mul_ref(x):
    if x.ndim == 0:
        return x * x
    out = x.copy()
    out[..., :1] *= x[..., -1:]
    return out


def _softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# name -> (tracead function, NumPy twin); each keeps values in a safe range.
UNARY: dict[str, tuple[Callable, Callable]] = {
    "neg": (lambda x: -x, lambda x: -x),
    "tanh": (ta.tanh, np.tanh),
    "sigmoid": (ta.sigmoid, _sigmoid),
    "exp_tanh": (lambda x: ta.exp(ta.tanh(x)), lambda x: np.exp(np.tanh(x))),
    "log1p_sq": (lambda x: ta.log(1.0 + x * x), lambda x: np.log(1.0 + x * x)),
    "sqrt1p_sq": (lambda x: ta.sqrt(1.0 + x * x), lambda x: np.sqrt(1.0 + x * x)),
    "square": (lambda x: x ** 2, lambda x: x ** 2),
    "scale": (lambda x: 0.5 * x - 1.0, lambda x: 0.5 * x - 1.0),
    "abs": (ta.abs, np.abs),
    "relu": (ta.relu, lambda x: np.maximum(x, 0.0)),
    "sin": (ta.sin, np.sin),
    "cos": (lambda x: x.cos(), np.cos),
    "atan": (ta.atan, np.arctan),
    "asinh": (ta.asinh, np.arcsinh),
    "sinh_tanh": (lambda x: ta.sinh(ta.tanh(x)), lambda x: np.sinh(np.tanh(x))),
    "softplus": (ta.softplus, lambda x: np.logaddexp(x, x.dtype.type(0))),
    "expm1_tanh": (lambda x: ta.expm1(ta.tanh(x)), lambda x: np.expm1(np.tanh(x))),
    "log1p_sq2": (lambda x: ta.log1p(x * x), lambda x: np.log1p(x * x)),
    "exp2_tanh": (lambda x: ta.exp2(ta.tanh(x)), lambda x: np.exp2(np.tanh(x))),
    # shape-preserving movement and indexing: getitem / concatenate / index_update nodes
    "flip": (ta.flip, np.flip),
    "roll": (lambda x: ta.roll(x, 1), lambda x: np.roll(x, 1)),
    "tril": (lambda x: ta.tril(x) if x.ndim >= 2 else x, lambda x: np.tril(x) if x.ndim >= 2 else x),
    # pad the last axis by (1, 2) and crop it back to its size (shape-preserving)
    "pad_crop": (lambda x: ta.pad(x, (1, 2), mode="replicate")[..., 1:-2] if x.ndim and x.shape[-1] else x,
                 lambda x: np.pad(x, [(0, 0)] * (x.ndim - 1) + [(1, 2)], mode="edge")[..., 1:-2]
                 if x.ndim and x.shape[-1] else x),
    "at_mul": (lambda x: x.at[..., :1].mul(x[..., -1:]) if x.ndim else x * x, _at_mul_ref),
    # torch-breadth composites: a masked logsumexp, a reflect pad, an activation
    "logcumsumexp": (lambda x: ta.logcumsumexp(x, -1) if x.ndim else x,
                     lambda x: np.logaddexp.accumulate(x, axis=-1) if x.ndim else x),
    "reflect_pad_crop": (lambda x: ta.pad(x, (2, 1), mode="reflect")[..., 1:-2]
                         if x.ndim and x.shape[-1] > 2 else x,
                         lambda x: np.pad(x, [(0, 0)] * (x.ndim - 1) + [(2, 1)], mode="reflect")
                         [..., 1:-2] if x.ndim and x.shape[-1] > 2 else x),
    "mish": (ta.nn.functional.mish, lambda x: x * np.tanh(np.logaddexp(x, x.dtype.type(0)))),
}
BINARY: dict[str, tuple[Callable, Callable]] = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "div": (lambda a, b: a / (1.0 + b * b), lambda a, b: a / (1.0 + b * b)),
    "maximum": (ta.maximum, np.maximum),
    "pow": (lambda a, b: (1.0 + a * a) ** ta.tanh(b), lambda a, b: (1.0 + a * a) ** np.tanh(b)),
    "where": (lambda a, b: ta.where(a > b, a * b, a - b),
              lambda a, b: np.where(a > b, a * b, a - b)),
    "logaddexp": (ta.logaddexp, np.logaddexp),
    "lerp": (lambda a, b: ta.lerp(a, b, 0.25), lambda a, b: a + 0.25 * (b - a)),
}
# A tensor and a Python scalar argument.
WITH_SCALAR: dict[str, tuple[Callable, Callable]] = {
    "add": (lambda a, s: a + s, lambda a, s: a + s),
    "rsub": (lambda a, s: s - a, lambda a, s: s - a),
    "mul": (lambda a, s: a * s, lambda a, s: a * s),
    "maximum": (lambda a, s: ta.maximum(a, s), lambda a, s: np.maximum(a, s)),
    "where": (lambda a, s: ta.where(a > s, a, a * s), lambda a, s: np.where(a > s, a, a * s)),
}
REDUCE: dict[str, tuple[Callable, Callable]] = {
    "sum": (lambda x, axis: x.sum(axis=axis, keepdims=True),
            lambda x, axis: x.sum(axis=axis, keepdims=True)),
    "mean": (lambda x, axis: x.mean(axis=axis, keepdims=True),
             lambda x, axis: x.mean(axis=axis, keepdims=True)),
    "max": (lambda x, axis: x.max(axis=axis, keepdims=True),
            lambda x, axis: x.max(axis=axis, keepdims=True)),
    "softmax": (lambda x, axis: ta.softmax(x, axis=axis), lambda x, axis: _softmax(x, axis)),
}
# Rewrites a simplifier may turn into the input itself.
IDENTITY: dict[str, tuple[Callable, Callable]] = {
    "mul1": (lambda x: x * 1.0, lambda x: x * 1.0),
    "add0": (lambda x: x + 0.0, lambda x: x + 0.0),
    "sub0": (lambda x: x - 0.0, lambda x: x - 0.0),
    "div1": (lambda x: x / 1.0, lambda x: x / 1.0),
    "pow1": (lambda x: x ** 1.0, lambda x: x ** 1.0),
}
SCALARS = (0.0, -0.0, float("nan"), 1.5, -2.25, 2, -3, 0, True, False)


# -- where choices come from -----------------------------------------------------------------
class RngChoices:
    """Choices from a seeded NumPy generator (the long fuzz run)."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def integer(self, lo: int, hi: int) -> int:
        return int(self.rng.integers(lo, hi + 1))

    def choice(self, options):
        options = list(options)
        return options[int(self.rng.integers(len(options)))]

    def boolean(self) -> bool:
        return bool(self.rng.integers(2))


class HypothesisChoices:
    """Choices drawn through Hypothesis, so failures shrink."""

    def __init__(self, draw) -> None:
        from hypothesis import strategies as st

        self.draw, self.st = draw, st

    def integer(self, lo: int, hi: int) -> int:
        return self.draw(self.st.integers(lo, hi))

    def choice(self, options):
        return self.draw(self.st.sampled_from(list(options)))

    def boolean(self) -> bool:
        return self.draw(self.st.booleans())


# -- programs ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Features:
    """What a generated program may contain (all off: the plain expression DAGs)."""

    scalars: bool = False
    free: bool = False  # tensors read from a dict entry and a module attribute
    grads: bool = False  # reads of their .grad
    zero_size: bool = False
    identity: bool = False  # x * 1.0, x + 0.0, ... on the way to the output
    special: bool = False  # -0.0, 0.0 and infinities among the input values
    resize: bool = False  # argument sizes change between calls
    sizes: int = 0  # this many more random argument sizes, one call each (dynamic shapes)
    max_nodes: int = 6
    max_dim: int = 4
    ops: tuple = ()  # restrict unary/binary op names (a small set lets kernels be reused)


class Holder:
    """A stand-in for a module: one parameter as an attribute."""

    def __init__(self, p) -> None:
        self.p = p


@dataclass
class State:
    """The outside tensors a program reads: `table["w"]` and `module.p`."""

    table: dict = field(default_factory=dict)
    module: Holder = None

    def tensors(self) -> list:
        return [self.table["w"], self.module.p]


class Program(NamedTuple):
    fn: Callable          # fn(*tensors, *scalars) -> Tensor, tracead ops only
    ref: Callable         # ref(*arrays, *scalars, free=[...], grads=[...]) -> ndarray
    inputs: list          # float64 arrays
    scalars: list         # Python scalars passed after the tensors
    text: str             # readable listing (Hypothesis prints it on failure)
    state: State | None = None
    alt_inputs: list | None = None  # the same program's inputs at other sizes
    more_inputs: tuple = ()  # and at more sizes (Features.sizes), called once each

    def __repr__(self) -> str:
        shapes = ", ".join(str(a.shape) for a in self.inputs)
        return f"Program(inputs: {shapes}, scalars: {self.scalars})\n{self.text}"


def _evaluate(nodes, values, scalars, table_index):
    """Run the node list with tracead (table_index=0) or NumPy (1) functions."""
    values, n_start, used = list(values), len(values), set()
    for kind, name, operands, extra in nodes:
        xs = [values[i] for i in operands]
        used.update(operands)
        if kind == "unary":
            values.append(UNARY[name][table_index](xs[0]))
        elif kind == "binary":
            values.append(BINARY[name][table_index](xs[0], xs[1]))
        elif kind == "scalar":
            values.append(WITH_SCALAR[name][table_index](xs[0], scalars[extra]))
        elif kind == "identity":
            values.append(IDENTITY[name][table_index](xs[0]))
        else:
            values.append(REDUCE[name][table_index](xs[0], extra))
    sinks = [v for i, v in enumerate(values) if i >= n_start and i not in used]
    out = sinks[0]
    for v in sinks[1:]:
        out = out + v
    return out


def _shapes(c, f: Features, n: int):
    """A base shape and n shapes that broadcast to it."""
    lo = 0 if f.zero_size and c.boolean() else 1
    base = [c.integer(lo, f.max_dim) for _ in range(c.integer(0, 3))]
    shapes = []
    for _ in range(n):
        keep = c.integer(0, len(base))  # trailing dims (leading ones broadcast)
        dims = base[len(base) - keep:]
        shapes.append(tuple(d if c.boolean() else 1 for d in dims))
    return base, shapes


def _values(rng, shape, special: bool) -> np.ndarray:
    x = rng.uniform(-1.5, 1.5, shape)
    if special and x.size:
        picks = rng.integers(0, 4, shape)  # a quarter of the entries become -0.0 / 0.0
        x = np.where(picks == 0, rng.choice([-0.0, 0.0]), x)
    return x


def random_program(c, f: Features = Features()) -> Program:
    n_args = c.integer(1, 3)
    base, shapes = _shapes(c, f, n_args + (2 if f.free else 0))
    arg_shapes, free_shapes = shapes[:n_args], shapes[n_args:]
    if f.resize:  # outside tensors keep their shape while the arguments' sizes change
        free_shapes = [tuple(1 for _ in s) for s in free_shapes]
    value_ndims = [len(s) for s in arg_shapes + free_shapes + (free_shapes if f.grads else [])]
    names = ([f"%x{i}" for i in range(n_args)] + (["table['w']", "module.p"] if f.free else [])
             + (["table['w'].grad", "module.p.grad"] if f.grads else []))
    n_scalars = c.integer(1, 2) if f.scalars else 0
    zero_sign = c.choice([0.0, -0.0])  # one sign of zero per program (see test_properties)
    scalars = [c.choice([zero_sign if s == 0.0 and isinstance(s, float) else s for s in SCALARS])
               for _ in range(n_scalars)]
    kinds = ["unary", "binary", "binary", "reduce"] + ["scalar"] * bool(n_scalars)
    unary = sorted(k for k in UNARY if not f.ops or k in f.ops)
    binary = sorted(k for k in BINARY if not f.ops or k in f.ops)
    reduce = ["sum", "mean"] if f.zero_size else sorted(REDUCE)
    nodes, lines = [], [f"{name} = input {s}" for name, s in
                        zip(names, arg_shapes + free_shapes + (free_shapes if f.grads else []))]
    for _ in range(c.integer(1, f.max_nodes)):
        kind = c.choice(kinds)
        n = len(value_ndims)
        extra = None
        if kind == "unary":
            name, operands = c.choice(unary), [c.integer(0, n - 1)]
            ndim = value_ndims[operands[0]]
        elif kind == "binary":
            name, operands = c.choice(binary), [c.integer(0, n - 1), c.integer(0, n - 1)]
            ndim = max(value_ndims[operands[0]], value_ndims[operands[1]])
        elif kind == "scalar":
            name, operands, extra = c.choice(sorted(WITH_SCALAR)), [c.integer(0, n - 1)], c.integer(0, n_scalars - 1)
            ndim = value_ndims[operands[0]]
        else:
            name, operands = c.choice(reduce), [c.integer(0, n - 1)]
            ndim = value_ndims[operands[0]]
            if name == "softmax" and ndim == 0:
                name = "sum"
            if name == "softmax":
                extra = c.integer(-ndim, ndim - 1)
            else:  # keepdims=True keeps every shape broadcastable to the base
                extra = c.choice([None] + list(range(-ndim, ndim)))
        nodes.append((kind, name, tuple(operands), extra))
        value_ndims.append(ndim)
        names.append(f"%{len(names)}")
        args = " ".join(names[i] for i in operands)
        more = f" s{extra}" if kind == "scalar" else f" axis={extra}" if kind == "reduce" else ""
        lines.append(f"{names[-1]} = {name} {args}{more}")
    if f.free:  # make sure the outside tensors reach the output
        for k in range(n_args, n_args + 2 + (2 if f.grads else 0)):
            nodes.append(("binary", "add", (len(value_ndims) - 1, k), None))
            value_ndims.append(max(value_ndims[-1], value_ndims[k]))
            names.append(f"%{len(names)}")
            lines.append(f"{names[-1]} = add {names[-2] if k else ''} {names[k]}")
    if f.identity and c.boolean():
        name = c.choice(sorted(IDENTITY))
        operand = c.integer(0, len(value_ndims) - 1)
        nodes.append(("identity", name, (operand,), None))
        value_ndims.append(value_ndims[operand])
        names.append(f"%{len(names)}")
        lines.append(f"{names[-1]} = {name} {names[operand]}")
    lines.append("output = sum of the unused nodes")
    seed = c.integer(0, 2**32 - 1)
    rng = np.random.default_rng(seed)
    inputs = [_values(rng, s, f.special) for s in arg_shapes]
    alt = None
    if f.resize:
        sizes = {d: c.integer(1, f.max_dim + 2) for d in set(base)}
        alt = [_values(rng, tuple(sizes[d] if d != 1 else 1 for d in s), f.special) for s in arg_shapes]
    more = []
    for _ in range(f.sizes):  # every dimension of size > 1 takes a new random size
        sizes = {d: c.integer(2, f.max_dim + 3) for d in set(base)}
        more.append([_values(rng, tuple(sizes[d] if d != 1 else 1 for d in s), f.special)
                     for s in arg_shapes])
    state = None
    if f.free:
        state = State({"w": ta.tensor(_values(rng, free_shapes[0], f.special), requires_grad=f.grads)},
                      Holder(ta.tensor(_values(rng, free_shapes[1], f.special), requires_grad=f.grads)))
        if f.grads:
            for t in state.tensors():
                t.grad = ta.tensor(rng.uniform(-1, 1, t.shape))
    n_tensors = n_args

    def outside(kind):
        if state is None:
            return []
        ts = state.tensors()
        if kind == "grads":
            return [t.grad for t in ts] if f.grads else []
        return ts

    def fn(*xs):
        tensors, scal = xs[:n_tensors], xs[n_tensors:]
        return _evaluate(nodes, list(tensors) + outside("free") + outside("grads"), scal, 0)

    def ref(*xs):
        arrays, scal = xs[:n_tensors], xs[n_tensors:]
        extra = [t.numpy() for t in outside("free") + outside("grads")]
        with np.errstate(all="ignore"):
            return np.asarray(_evaluate(nodes, list(arrays) + extra, scal, 1))

    return Program(fn, ref, inputs, scalars, "\n".join(lines) + f"\n(seed {seed})", state, alt,
                   tuple(more))


# -- calling a program the way a user would --------------------------------------------------
def call_plan(program: Program) -> list:
    """The argument arrays of each call: three times at the traced sizes (trace, then
    compiled twice), at the other sizes and back when the program has them."""
    plan = [program.inputs, program.inputs, program.inputs]
    if program.alt_inputs is not None:
        plan += [program.alt_inputs, program.alt_inputs, program.inputs]
    if program.more_inputs:
        plan += list(program.more_inputs) + [program.inputs]
    return plan


def check_scenario(program: Program, backend: str, *, rebind: bool = False, arg_grad: bool = False,
                   flip_zero: bool = False, seed: int = 0) -> int:
    """Call the program compiled (or eagerly, backend="eager") as `call_plan` says, changing
    the outside state between calls, and compare every call with the NumPy twin.

    rebind: replace the outside tensors by new objects (a dict entry, a module attribute)
      instead of updating them in place with assign_;
    arg_grad: the function also reads its first argument's .grad, new on every call;
    flip_zero: the output is also multiplied by a scalar that is 0.0, then -0.0.
    Returns the number of calls that ran compiled."""
    from checks import assert_same_values

    rng = np.random.default_rng(seed)
    fn, ref = program.fn, program.ref
    if arg_grad:
        fn = _with_arg_grad(fn)
        ref = _with_grad_value(ref)
    if flip_zero:
        fn, ref = _times_last_scalar(fn), _times_last_scalar(ref)
    compiled = fn if backend == "eager" else ta.compile(fn, backend=backend)
    for k, arrays in enumerate(call_plan(program)):
        scalars = list(program.scalars)
        if flip_zero:
            scalars.append(0.0 if k < 2 else -0.0)
        if k and program.state is not None:
            _update_state(program.state, rng, rebind)
        args = [ta.tensor(a, requires_grad=arg_grad and i == 0) for i, a in enumerate(arrays)]
        extra = {}
        if arg_grad:
            grad = rng.uniform(-1, 1, arrays[0].shape)
            args[0].grad = ta.tensor(grad)
            extra["grad"] = grad
        out = compiled(*args, *scalars)
        with np.errstate(all="ignore"):
            expected = ref(*arrays, *scalars, **extra)
        assert_same_values(out, np.asarray(expected), f"call {k + 1} ({backend})\n{program!r}")
    if backend != "eager":
        assert compiled.stats["hits"] >= 1 and not compiled.gave_up, (
            f"never ran compiled: {compiled.stats}, {compiled.recompile_reasons}")
        return compiled.stats["hits"]
    return 0


def _with_arg_grad(fn):
    return lambda *xs: fn(*xs) + xs[0].grad


def _with_grad_value(ref):
    return lambda *xs, grad: ref(*xs) + grad


def _times_last_scalar(fn):
    return lambda *xs, **kw: fn(*xs[:-1], **kw) * xs[-1]


def _update_state(state: State, rng, rebind: bool) -> None:
    """New values for the outside tensors and their .grad: in place (assign_), or, with
    rebind, as new tensor objects stored in the dict entry and the attribute."""
    for owner, key in ((state.table, "w"), (state.module, "p")):
        old = owner[key] if isinstance(owner, dict) else getattr(owner, key)
        value = rng.uniform(-1.5, 1.5, old.shape)
        grad = None if old.grad is None else rng.uniform(-1, 1, old.shape)
        if not rebind:
            old.assign_(value)
            if grad is not None:
                old.grad.assign_(grad)
            continue
        new = ta.tensor(value, requires_grad=old.requires_grad)
        new.grad = None if grad is None else ta.tensor(grad)
        if isinstance(owner, dict):
            owner[key] = new
        else:
            setattr(owner, key, new)
