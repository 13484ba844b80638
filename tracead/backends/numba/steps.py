"""What one scheduled kernel does at call time (backend stage: run).

A step reads its inputs from, and writes its outputs to, the executable's
per-call slot list `env` (executable.py numbers every value and every
memory-plan buffer once, at build time). Everything a call would otherwise
recompute is decided when the step is linked: which entry the predicted
layouts select, which arrays need a reshape to the entry's view, where each
output lives in its planned buffer. A call does only what depends on the
arrays it got: one `flags.c_contiguous` test per input whose layout is not
known before the call (graph inputs, opaque results), and falls back to
choosing the entry from scratch when one differs from the prediction. A
fused step's predicted call is then written out as straight-line Python
(callgen.py); `run_general` below is the same call, table-driven.

  FusedStep   a generated module (codegen.py); outputs go into planned buffers
  MatmulStep  the matmul row's impl (np.matmul, out= a planned or scratch buffer), then
              the generated epilogue, which reads the product and writes its outputs elsewhere
  OpaqueStep  the primitive's NumPy impl; it allocates its own result, copied
              when it is a view of a buffer the plan gives to a later value
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numba
import numpy as np

from ...plan.schedule import Kernel
from . import threads


FLAT = "flat"  # an output argument that is the 1-d buffer view itself


@dataclass(frozen=True, slots=True)
class Out:
    """Where a step's output lives: value slot, buffer slot (a planned buffer, or a scratch
    one the executable allocates for the step), and the view on it."""

    slot: int
    buf: int
    size: int
    shape: tuple[int, ...]
    dtype: np.dtype
    whole: bool  # the buffer holds exactly `size` elements: no slice needed


@dataclass(frozen=True, slots=True)
class Alloc:
    """A buffer a step allocates when it starts: its slot, elements and dtype."""

    slot: int
    size: int
    dtype: np.dtype


@dataclass(frozen=True, slots=True)
class InArg:
    """One input argument of a call: its position, value slot, and the view the entry
    wants (None: the value's own shape)."""

    pos: int
    slot: int
    view: tuple[int, ...] | None


@dataclass(frozen=True, slots=True)
class OutArg:
    """One output argument: its position, value slot, the buffer slot it lives in,
    `cut` (elements to slice off a larger buffer, None when the buffer is exactly
    this size), `shape` (None when 1-d) and how the entry views it (FLAT: the 1-d
    buffer itself, None: the value's shape, or a view shape)."""

    pos: int
    slot: int
    buf: int
    cut: int | None
    shape: tuple[int, ...] | None
    view: object


@dataclass(frozen=True, slots=True)
class CallPlan:
    """One entry's call: the argument list with constants already in it (viewed for the
    entry once, at link time), the inputs and outputs to fill in per call, the function."""

    entry: object  # codegen's Entry
    args: list
    ins: tuple[InArg, ...]
    outs: tuple[OutArg, ...]
    fn: object


def place(env, out: Out):
    """The output's array, a C-contiguous view on its buffer: (flat 1-d, shaped)."""
    buf = env[out.buf]
    flat = buf if out.whole else buf[:out.size]
    value = flat if len(out.shape) == 1 else flat.reshape(out.shape)
    env[out.slot] = value
    return flat, value


class Step:
    """What the executable sets when it links a step (see executable.py)."""

    allocs: tuple = ()  # Alloc: buffers allocated when the step starts
    frees: tuple = ()  # slots dropped when it ends (values no later step reads, dead buffers)

    def prepare(self) -> None:
        """Called once allocs and frees are set."""


class FusedStep(Step):
    """Calls one generated module with its inputs viewed as the chosen entry expects."""

    def __init__(self, kernel: Kernel, code, module, record, jit: bool) -> None:
        self.kernel, self.record = kernel, record
        self.in_dtypes = [v.dtype for v in kernel.inputs]
        self.out_specs = [(v.shape, v.dtype) for v in kernel.outputs]
        nd = len(kernel.shape)
        self.full = [len(v.shape) <= nd and (1,) * (nd - len(v.shape)) + v.shape == tuple(kernel.shape)
                     for v in kernel.inputs]
        entries = {e.name: e for e in code.entries}
        self.flat, self.nd = entries.get("kernel_flat"), entries.get("kernel_nd")
        self.jit, self.parallel = jit, code.parallel
        self.fns = {name: getattr(module, name) if jit else getattr(module, name).py_func
                    for name in entries}
        # A chunked reduction over the outer axis adds its chunks' partials in `name`_combine.
        self.combines = {name: getattr(module, name + "_combine") if jit
                         else getattr(module, name + "_combine").py_func
                         for name, e in entries.items() if e.part is not None}

    def choose(self, contiguous: list[bool]):
        """The flat entry when every full-shape input is C-contiguous (or there is no N-d one)."""
        if self.flat is not None and (self.nd is None or all(c for c, f in zip(contiguous, self.full) if f)):
            return self.flat
        return self.nd

    def signature(self, layouts: list[str]) -> tuple[str, list[tuple[str, int, str]]]:
        """The entry and argument types (dtype, ndim, layout) the first call will most likely use."""
        entry = self.choose([lay == "C" for lay in layouts])
        sig = [(np.dtype(dt).str, len(view), lay if entry is self.nd or len(self.kernel.shape) <= 1 else "C")
               for dt, view, lay in zip(self.in_dtypes, entry.in_views, layouts)]
        sig += [(np.dtype(dt).str, len(view), "C") for (_, dt), view in zip(self.out_specs, entry.out_views)]
        if entry.part is not None:
            sig.append((np.dtype(entry.part[1]).str, len(entry.part[0]), "C"))
        if entry.chunks:
            sig += [CHUNK_INDEX, CHUNK_INDEX]
        return entry.name, sig

    def precompile(self, layouts: list[str]) -> None:
        """Compile (or load from Numba's cache) the signature the first call will most likely use."""
        name, sig = self.signature(layouts)
        self.fns[name].compile(numba_signature(sig))
        if name in self.combines:
            self.combines[name].compile(numba_signature(sig))

    # -- linking and running ----------------------------------------------------------
    def link(self, ins: list[int], outs: list[Out], layouts: list[str], known: list[bool],
             constants: dict) -> None:
        """ins: input slots; layouts: predicted ("C" or not) per input; known: the layout is
        certain before the call (constants, values our kernels wrote); constants: slot ->
        array, viewed for the entry once, here."""
        self.in_slots, self.outs, self.constants = tuple(ins), tuple(outs), constants
        self.entry = self.choose([lay == "C" for lay in layouts])
        # Only full-shape inputs decide flat vs N-d, and only if both entries exist and
        # nothing known already rules the flat one out.
        self.checks: tuple[int, ...] = ()
        if self.entry is self.flat and self.nd is not None:
            self.checks = tuple(s for s, f, k in zip(ins, self.full, known) if f and not k)
        self.args = {e.name: self._arg_plan(e) for e in (self.flat, self.nd) if e is not None}
        self.fast = self.args[self.entry.name]
        # Numba may compile at call time only if a predicted type can differ from the one
        # compiled up front: a layout other than C, or a 1-d kernel's input of unknown layout.
        # Those calls check its overload count, to report the compile (explain).
        watch = self.jit and any(lay != "C" or (len(self.kernel.shape) <= 1 and not k)
                                 for lay, k in zip(layouts, known))
        self.overloads = self.fns[self.entry.name].overloads if watch else None
        self.seen = len(self.overloads) if watch else 0

    def _arg_plan(self, entry) -> CallPlan:
        args: list = []
        ins = []
        for s, v, view in zip(self.in_slots, self.kernel.inputs, entry.in_views):
            view = None if tuple(view) == tuple(v.shape) else tuple(view)
            fixed = self.constants.get(s)
            if fixed is not None:
                args.append(fixed if view is None else fixed.reshape(view))
            else:
                ins.append(InArg(len(args), s, view))
                args.append(None)
        outs = []
        for o, view in zip(self.outs, entry.out_views):
            view = FLAT if entry is self.flat else None if tuple(view) == o.shape else tuple(view)
            outs.append(OutArg(len(args), o.slot, o.buf, None if o.whole else o.size,
                               None if len(o.shape) == 1 else o.shape, view))
            args.append(None)
        fn = self.fns[entry.name]
        if entry.chunks:
            fn = threads.pooled(fn, entry.chunks, self.combines.get(entry.name), entry.part)
        return CallPlan(entry, args, tuple(ins), tuple(outs), fn)

    def prepare(self) -> None:
        """Calls run the predicted call as generated straight-line code (callgen.py),
        unless this step watches for Numba compiles."""
        from .callgen import fast_call  # callgen reads this module's FLAT

        self.run = self.run_general if self.overloads is not None else fast_call(self)

    def run(self, env) -> None:
        self.run_general(env)

    def run_general(self, env) -> None:
        for a in self.allocs:
            env[a.slot] = np.empty(a.size, a.dtype)
        plan = self.fast
        for slot in self.checks:
            if not env[slot].flags.c_contiguous:  # a layout we did not predict
                plan = self.args[self.nd.name]
                break
        entry, fn, args = plan.entry, plan.fn, plan.args.copy()
        for i in plan.ins:
            args[i.pos] = env[i.slot] if i.view is None else env[i.slot].reshape(i.view)
        for o in plan.outs:  # place(), inlined
            flat = env[o.buf] if o.cut is None else env[o.buf][:o.cut]
            value = env[o.slot] = flat if o.shape is None else flat.reshape(o.shape)
            args[o.pos] = flat if o.view is FLAT else value if o.view is None else value.reshape(o.view)
        if plan is self.fast:
            fn(*args)
            if self.overloads is not None and len(self.overloads) != self.seen:
                self._note_compile(entry, args, None)  # Numba compiled a signature we did not predict
        else:
            self._call_timed(entry, fn, args)
        for slot in self.frees:
            env[slot] = None

    def _call_timed(self, entry, fn, args) -> None:
        if not self.jit:
            fn(*args)
            return
        overloads = self.fns[entry.name].overloads
        before = len(overloads)
        start = time.perf_counter()
        fn(*args)
        if len(overloads) != before:
            self._note_compile(entry, args, time.perf_counter() - start)

    def _note_compile(self, entry, args, seconds: float | None) -> None:
        """A signature we did not predict: Numba compiled it during the call."""
        if seconds is not None:
            self.record.compile_seconds += seconds
        self.record.runtime_compiles.append(f"{entry.name}{tuple(numba.typeof(a) for a in args)}")
        if self.overloads is not None:
            self.seen = len(self.overloads)


CHUNK_INDEX = ("<i8", 0, "")  # a chunked entry's c0 / c1 argument in a signature: an int64


def _array_type(dtype, ndim: int, layout: str):
    if not layout:  # a scalar argument (CHUNK_INDEX)
        return numba.from_dtype(np.dtype(dtype))
    return numba.types.Array(numba.from_dtype(np.dtype(dtype)), ndim, layout)


def numba_signature(sig) -> tuple:
    """Numba argument types of a `FusedStep.signature` (plain data: it also goes to
    compile workers, compile_workers.py)."""
    return tuple(_array_type(dt, ndim, layout) for dt, ndim, layout in sig)


class OpaqueStep(Step):
    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.node = node = kernel.nodes[0]
        # Kernel inputs are de-duplicated; the impl takes the node's (x[i, i] reads i twice).
        self.positions = [kernel.inputs.index(v) for v in node.inputs]

    def link(self, ins: list[int], out: int, private: list[int]) -> None:
        """private: input slots whose buffer the plan hands to a later value while our
        result may still be read, so a view of them must become a copy."""
        node = self.node
        self.arg_slots = tuple(ins[i] for i in self.positions)
        self.out_slot, self.private = out, tuple(private)
        self.prim, self.kwargs = node.prim, node.kwargs

    def run(self, env) -> None:
        args = [env[s] for s in self.arg_slots]
        out = self.prim.apply(args, self.kwargs, self.node.out)
        if out.shape != self.node.out.shape:  # later kernels index it without bounds checks
            raise ValueError(f"{self.node.prim.name} returned shape {out.shape}, the graph says "
                             f"{self.node.out.shape}")
        for slot in self.private:
            if np.may_share_memory(out, env[slot]):
                out = out.copy()
                break
        env[self.out_slot] = out
        for slot in self.frees:
            env[slot] = None


class MatmulStep(Step):
    """np.matmul (BLAS) into a buffer, then the generated epilogue.

    The product is a graph value's planned buffer when a later kernel reads it, else a
    scratch buffer of the step; never an epilogue output's. Written in place, the
    epilogue's loop reads and writes the same array through two arguments: LLVM's
    vectorised loop checks at run time that they do not overlap, the check fails, and
    the scalar fallback runs, with a branch per `where`/`relu` element that a random
    mask mispredicts half the time (W2's ReLU-backward `where`: benchmarks/NOTES.md,
    W2). Telling LLVM the two are one array does not help either:
    it turns `where(mask, x, 0)` into a masked store, microcoded on AMD CPUs."""

    def __init__(self, kernel: Kernel, epilogue: FusedStep | None) -> None:
        self.mm = kernel.nodes[0]
        self.prim = self.mm.prim  # the row's impl runs a row stack times a matrix as one GEMM
        self.kernel, self.epilogue = kernel, epilogue
        self.positions = [kernel.inputs.index(v) for v in self.mm.inputs]
        self.keep_product = any(v.id == self.mm.out.id for v in kernel.outputs)

    def link(self, ins: list[int], product: Out) -> None:
        """product: where np.matmul writes (its own planned buffer, or a scratch buffer)."""
        self.arg_slots = tuple(ins[i] for i in self.positions)
        self.product = product
        # np.matmul(out=) casts only within a kind; then compute and convert.
        self.use_out = all(v.dtype == self.mm.out.dtype for v in self.mm.inputs)

    def prepare(self) -> None:
        if self.epilogue is not None:
            self.epilogue.prepare()

    def run(self, env) -> None:
        for alloc in self.allocs:
            env[alloc.slot] = np.empty(alloc.size, alloc.dtype)
        a, b = [env[s] for s in self.arg_slots]
        _, value = place(env, self.product)
        if self.use_out:
            self.prim.apply((a, b), {}, self.mm.out, into=value)  # vec @ vec fills a 0-d `value`
        else:
            value[...] = self.prim.apply((a, b), {}, self.mm.out)
        if self.epilogue is not None:
            self.epilogue.run(env)
        for slot in self.frees:
            env[slot] = None
