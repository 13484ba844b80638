"""Kernel -> readable Python/Numba source (backend stage: codegen).

One generated module per scheduled Kernel, with explicit loops (no Numba
array expressions), one statement per graph node, each commented with the
node (`%12 = mul %10 %11`) and the user line that created it. Identifiers are
positional within the kernel (writer.Names.for_kernel), so kernels identical
up to renaming are the same code and share one cache entry.

Reading one kernel from schedule to source: `generate` below checks the
kernel, decides parallel or serial and writes the module header, then hands
the kernel to its kind's generator, which walks it once and writes each of
its functions through one `writer.Writer`:

  elementwise  gen_elementwise.py  pointwise statements, stores of every output
  reduce       gen_reduce.py       prologue as above, then sum/max (three forms)
  rowwise      gen_rowwise.py      per row of the last axis, a few loops along it

(scalar.py turns one node into one expression from its primitive's template.)

Shapes are static (a variant is compiled for fixed shapes; a dynamic-shape
instance's symbolic sizes are read at run time, writer.size_expr, but whether
a dim is 1 is always known), so broadcasting is index arithmetic written into the source: an input of shape (64, 1) in a
(64, 128) loop is read as `a3[i0, 0]`, and it is read, and everything
computed from it, in the outer loop only (statements sit at the shallowest
loop depth where all their inputs are known).

Entry points (the backend picks one per call, see steps.py):
  kernel_flat  one flat loop over C-contiguous arrays; exists when every
               input is full-shape or a single element (0-d, size 1);
               the only entry of 0-d and 1-d kernels (then any layout).
  kernel_nd    a loop nest over the kernel shape; any strides (transposed
               inputs), partial broadcasting, reductions over some axes.

Every inner loop must vectorise (check with vectorcheck.py): hence
error_model="numpy" (no ZeroDivisionError branch), float32 constants in
float32 code (scalar.py), mathlib instead of libm, reduce_steps for running
reductions, and unsigned indices in loops that do not start at 0.

A kernel runs parallel when its estimated work, elements times per-element
cost (`Prim.cost`, so an exp counts like 8 adds) over 2, exceeds
PARALLEL_THRESHOLD (options["parallel_threshold"] overrides it). Parallel
kernels are serial too (no Numba parfors): their functions take the range of
fixed chunks `c0, c1` of their outer loop to run (writer.chunk_loops), and
threads.py's pool runs the chunks on several threads.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import gen_elementwise, gen_reduce, gen_rowwise, scalar
from .writer import Entry, Names, Writer, pad, runtime_sizes, shape_comment, type_str
from .writer import in_place as writer_in_place

# Work (elements x per-element cost / 2, see kernel_cost) above which a kernel
# runs on the thread pool (threads.py): elements of a cheap 2-op loop such as
# `2*x + 1`. The pool pays when the serial time exceeds about twice its
# dispatch cost (waking a sleeping thread and waiting for it); cheap and costly
# loops break even at about the same work. Under load from other processes a
# second thread gains nothing, another reason to err towards serial
# (figures: benchmarks/NOTES.md).
PARALLEL_THRESHOLD = 262144

# kind -> generator(kernel, names, parallel) -> [(Entry, function source), ...]
GENERATORS = {"elementwise": gen_elementwise.generate, "reduce": gen_reduce.generate,
              "rowwise": gen_rowwise.generate}


@dataclass(frozen=True, slots=True)
class KernelCode:
    body: str  # module text (the cache adds its key and environment lines)
    entries: tuple[Entry, ...]
    parallel: bool


def generate(kernel, names: Names, parallel_threshold: int = PARALLEL_THRESHOLD,
             note: str = "", runtime: frozenset = frozenset(), in_place: tuple = ()) -> KernelCode:
    """runtime: sizes read from the arguments at run time (writer.runtime_sizes), the
    symbolic dims of a dynamic-shape instance; every other size is a literal.
    in_place: (input, output) positions the caller passes one array for (writer.in_place)."""
    check_contract(kernel)
    generator = GENERATORS.get(kernel.kind)
    if generator is None:
        raise ValueError(f"no code generator for {kernel.kind!r} kernels")
    names = names.for_kernel(kernel)
    size = int(np.prod(kernel.shape, dtype=np.int64))
    # Serial or parallel is decided per size: a dynamic kernel has at most the two sources.
    parallel = size * max(kernel_cost(kernel), 2) // 2 > parallel_threshold
    runtime = {n for n in runtime if n >= 2}
    if runtime & set(kernel.shape):
        runtime.add(size)  # the length of a flat entry's loop
    with runtime_sizes(runtime), writer_in_place(in_place):
        functions = generator(kernel, names, parallel)
        body = _module_header(kernel, names, note) + "".join("\n\n" + text for _, text in functions)
    return KernelCode(body, tuple(entry for entry, _ in functions), parallel)


def kernel_cost(kernel) -> int:
    """Estimated work per element of the kernel's space (`Prim.cost` units)."""
    return sum(n.prim.cost for n in kernel.nodes)


def check_contract(kernel) -> None:
    """The shapes the loops assume (plan/schedule.py). Numba does not check bounds, so a
    kernel breaking them would read or write out of bounds: refuse it instead."""
    shape, nd = tuple(kernel.shape), len(kernel.shape)
    row = shape[:-1] + (1,)
    for v in kernel.inputs:
        if len(v.shape) > nd or any(d not in (1, n) for d, n in zip(pad(v.shape, nd), shape)):
            raise ValueError(f"kernel {kernel.index}: input {names_of(v)} does not broadcast to {shape}")
    reduced = {kernel.nodes[-1].out.id} if kernel.kind == "reduce" else set()
    for v in kernel.outputs:
        ok = (v.id in reduced or tuple(v.shape) == shape
              or (kernel.kind == "rowwise" and pad(v.shape, nd) == row))
        if not ok:
            raise ValueError(f"kernel {kernel.index} [{kernel.kind}]: output {names_of(v)} is not "
                             f"of the kernel's shape {shape}")


def names_of(var) -> str:
    return f"%{var.id}:{type_str(var)}"


def _module_header(kernel, names: Names, note: str) -> str:
    """Comments saying what the kernel computes (node by node), then the imports."""
    w = Writer()
    w.line(comment=f"tracead {kernel.kind} kernel over [{shape_comment(kernel.shape)}]")
    w.line(comment="inputs:  " + " ".join(names.typed(v) for v in kernel.inputs))
    w.line(comment="outputs: " + " ".join(names.typed(v) for v in kernel.outputs))
    if note:
        w.line(comment=note)
    for node in kernel.nodes:
        w.line(comment="  " + names.node(node))
    w.line("import math")
    w.line()
    w.line("import numpy as np")
    w.line("from numba import njit")
    if scalar.MATHLIB_IMPORT:
        w.line(scalar.MATHLIB_IMPORT)
    return w.text()
