"""The Numba backend: Schedule -> generated, cached, jitted kernels (backend stage: compile + run).

`NumbaBackend(options).compile(graph, label)` plans kernels (`passes.fuse.
plan_fusion`, or the fallback planner while that is missing), turns each
fusible kernel into a generated module (codegen.py) loaded through the disk
cache (cache.py), compiles its likely signature up front, and returns a
`NumbaExecutable`. Opaque kernels call their primitive's NumPy impl; matmul
kernels call np.matmul (BLAS) and run their elementwise epilogue as a
generated loop, in place in the matmul result when that is free.

Options: parallel_threshold (elements; codegen.PARALLEL_THRESHOLD), jit
(False runs the generated Python without Numba, for pdb; also TRACEAD_DEBUG=4).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numba
import numpy as np

from ... import config
from ...ir.cost import bytes_moved, flops
from ...passes.schedule import Kernel, Schedule
from . import cache
from .codegen import PARALLEL_THRESHOLD, generate
from .source import Names

# Opaque prims whose NumPy impl returns a strided view (predicts the layout
# the next kernel sees, so the signature compiled up front is the one used).
_VIEW_PRIMS = frozenset({"transpose", "getitem"})


def plan(graph) -> Schedule:
    try:
        from ...passes.fuse import plan_fusion
    except ImportError:
        from .fallback_plan import plan_fallback as plan_fusion
    return plan_fusion(graph)


@dataclass
class KernelRecord:
    """What explain and profile show about one kernel."""

    index: int
    kind: str
    label: str
    node_ids: tuple[int, ...]
    source: str
    path: str | None = None
    cache: str = "none (NumPy call)"
    compile_seconds: float = 0.0
    entries: tuple[str, ...] = ()
    parallel: bool = False
    reason: str = ""
    runtime_compiles: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return (f"{self.label} kernel {self.index} [{self.kind}] cache {self.cache}, "
                f"compile {self.compile_seconds * 1e3:.0f} ms" + (" parallel" if self.parallel else ""))


class FusedStep:
    """Calls one generated module: views the arrays as its entry expects, allocates outputs."""

    def __init__(self, kernel: Kernel, code, module, record: KernelRecord, jit: bool) -> None:
        self.kernel, self.record = kernel, record
        self.in_dtypes = [v.dtype for v in kernel.inputs]
        self.out_specs = [(v.shape, v.dtype) for v in kernel.outputs]
        nd = len(kernel.shape)
        self.full = [len(v.shape) <= nd and (1,) * (nd - len(v.shape)) + v.shape == tuple(kernel.shape)
                     for v in kernel.inputs]
        entries = {e.name: e for e in code.entries}
        self.flat, self.nd = entries.get("kernel_flat"), entries.get("kernel_nd")
        self.jit = jit
        self.fns = {name: getattr(module, name) if jit else getattr(module, name).py_func
                    for name in entries}

    def choose(self, contiguous: list[bool]):
        """The flat entry when every full-shape input is C-contiguous (or there is no N-d one)."""
        if self.flat is not None and (self.nd is None or all(c for c, f in zip(contiguous, self.full) if f)):
            return self.flat
        return self.nd

    def __call__(self, arrays, outs=None):
        arrays = [a if isinstance(a, np.ndarray) and a.dtype == dt else np.asarray(a, dt)
                  for a, dt in zip(arrays, self.in_dtypes)]
        outs = outs or [np.empty(shape, dtype) for shape, dtype in self.out_specs]
        entry = self.choose([a.flags.c_contiguous for a in arrays])
        args = [a.reshape(view) for a, view in zip(arrays, entry.in_views)]
        args += [o.reshape(view) for o, view in zip(outs, entry.out_views)]
        fn = self.fns[entry.name]
        if not self.jit:
            fn(*args)
            return outs
        before = len(fn.overloads)
        start = time.perf_counter()
        fn(*args)
        if len(fn.overloads) != before:  # a signature we did not predict: Numba compiled it now
            self.record.compile_seconds += time.perf_counter() - start
            self.record.runtime_compiles.append(f"{entry.name}{tuple(numba.typeof(a) for a in args)}")
        return outs

    def precompile(self, layouts: list[str]) -> None:
        """Compile (or load from Numba's cache) the signature the first call will most likely use."""
        entry = self.choose([lay == "C" for lay in layouts])
        sig = [_array_type(dt, len(view), lay if entry is self.nd or len(self.kernel.shape) <= 1 else "C")
               for dt, view, lay in zip(self.in_dtypes, entry.in_views, layouts)]
        sig += [_array_type(dt, len(view), "C") for (_, dt), view in zip(self.out_specs, entry.out_views)]
        self.fns[entry.name].compile(tuple(sig))


def _array_type(dtype, ndim: int, layout: str):
    return numba.types.Array(numba.from_dtype(np.dtype(dtype)), ndim, layout)


class OpaqueStep:
    def __init__(self, kernel: Kernel) -> None:
        self.node = node = kernel.nodes[0]
        # Kernel inputs are de-duplicated; the impl takes the node's (x[i, i] reads i twice).
        self.positions = [kernel.inputs.index(v) for v in node.inputs]

    def __call__(self, arrays):
        node = self.node
        out = np.asarray(node.prim.impl(*(arrays[i] for i in self.positions), **node.kwargs))
        return [out if out.dtype == node.out.dtype else out.astype(node.out.dtype)]


class MatmulStep:
    """np.matmul (BLAS), then the generated epilogue; it writes into the product when nothing else reads it."""

    def __init__(self, kernel: Kernel, epilogue: FusedStep | None) -> None:
        self.mm = kernel.nodes[0]
        self.kernel, self.epilogue = kernel, epilogue
        self.positions = [kernel.inputs.index(v) for v in self.mm.inputs]
        self.keep_product = any(v.id == self.mm.out.id for v in kernel.outputs)
        if epilogue is not None:
            ep = epilogue.kernel
            self.ep_args = [None if v.id == self.mm.out.id else kernel.inputs.index(v) for v in ep.inputs]
            # The product's buffer can take the first epilogue output of its type.
            self.reuse = None if self.keep_product else next(
                (i for i, v in enumerate(ep.outputs) if v.dtype == self.mm.out.dtype), None)

    def __call__(self, arrays):
        product = np.asarray(np.matmul(*(arrays[i] for i in self.positions)))  # vec @ vec: a scalar
        if product.dtype != self.mm.out.dtype:
            product = product.astype(self.mm.out.dtype)
        if self.epilogue is None:
            return [product]
        ep_in = [product if i is None else arrays[i] for i in self.ep_args]
        outs = None
        if self.reuse is not None:
            outs = [product if i == self.reuse else np.empty(v.shape, v.dtype)
                    for i, v in enumerate(self.epilogue.kernel.outputs)]
        ep_out = dict(zip((v.id for v in self.epilogue.kernel.outputs), self.epilogue(ep_in, outs)))
        ep_out[self.mm.out.id] = product
        return [ep_out[v.id] for v in self.kernel.outputs]


class NumbaExecutable:
    def __init__(self, schedule: Schedule, steps, records: list[KernelRecord]) -> None:
        self.schedule, self.graph = schedule, schedule.graph
        self.steps, self.kernels = steps, records
        self.memory_plan = _memory_plan(schedule)  # for explain; buffers are not reused yet
        keep = {v.id for v in self.graph.outputs}
        last: dict[int, int] = {}
        for i, k in enumerate(schedule.kernels):
            for v in k.inputs:
                last[v.id] = i
        self.freed: list[list[int]] = [[] for _ in schedule.kernels]
        for vid, i in last.items():
            if vid not in keep:
                self.freed[i].append(vid)

    def _start(self, args) -> dict:
        if len(args) != len(self.graph.inputs):
            raise ValueError(f"graph takes {len(self.graph.inputs)} inputs, got {len(args)}")
        env = dict(self.graph.constants)
        env.update((v.id, a) for v, a in zip(self.graph.inputs, args))
        return env

    def __call__(self, args):
        env = self._start(args)
        for kernel, step, freed in zip(self.schedule.kernels, self.steps, self.freed):
            outs = step([env[v.id] for v in kernel.inputs])
            env.update(zip((v.id for v in kernel.outputs), outs))
            for vid in freed:  # drop values no later kernel reads
                env.pop(vid, None)
        return [env[v.id] for v in self.graph.outputs]

    def run_timed(self, args):
        """Run kernel by kernel, timing each (for `profile`)."""
        env, timings = self._start(args), []
        for kernel, step in zip(self.schedule.kernels, self.steps):
            start = time.perf_counter()
            outs = step([env[v.id] for v in kernel.inputs])
            seconds = time.perf_counter() - start
            env.update(zip((v.id for v in kernel.outputs), outs))
            timings.append({"index": kernel.index, "kind": kernel.kind,
                            "ops": " ".join(n.prim.name for n in kernel.nodes), "seconds": seconds,
                            "bytes": bytes_moved(kernel.inputs, kernel.outputs),
                            "flops": sum(flops(n) for n in kernel.nodes)})
        return [env[v.id] for v in self.graph.outputs], timings


class NumbaBackend:
    name = "numba"

    def __init__(self, options: dict) -> None:
        self.options = options
        self.parallel_threshold = int(options.get("parallel_threshold", PARALLEL_THRESHOLD))
        self.jit = bool(options.get("jit", config.debug_level() < 4))

    def compile(self, graph, label: str = "graph") -> NumbaExecutable:
        return self.compile_schedule(plan(graph), label)

    def compile_schedule(self, schedule: Schedule, label: str = "graph") -> NumbaExecutable:
        names = Names(schedule.graph)
        layout = {v.id: "C" for v in schedule.graph.inputs}  # predicted memory layout per value
        layout.update((vid, "C" if np.asarray(c).flags.c_contiguous else "A")
                      for vid, c in schedule.graph.constants.items())
        steps, records = [], []
        for kernel in schedule.kernels:
            record = KernelRecord(kernel.index, kernel.kind, label, tuple(n.out.id for n in kernel.nodes),
                                  "", reason=kernel.reason)
            if kernel.kind == "opaque":
                node = kernel.nodes[0]
                record.source = f"# {names.node(node)}\n# runs as {node.prim.name}'s NumPy impl\n"
                steps.append(OpaqueStep(kernel))
                view = node.prim.name in _VIEW_PRIMS
                layout.update((v.id, "A" if view else "C") for v in kernel.outputs)
            elif kernel.kind == "matmul":
                steps.append(self._matmul(kernel, names, record, layout))
            else:
                steps.append(self._fused(kernel, names, record, layout))
                layout.update((v.id, "C") for v in kernel.outputs)
            records.append(record)
        return NumbaExecutable(schedule, steps, records)

    def _fused(self, kernel: Kernel, names: Names, record: KernelRecord, layout, note: str = "") -> FusedStep:
        code = generate(kernel, names, self.parallel_threshold, note)
        loaded = cache.load(code.body)
        record.source, record.path, record.cache = loaded.text, str(loaded.path), loaded.status
        record.entries, record.parallel = tuple(e.name for e in code.entries), code.parallel
        step = FusedStep(kernel, code, loaded.module, record, self.jit)
        if not self.jit:
            record.cache = f"{loaded.status}; not jitted (jit=False / TRACEAD_DEBUG=4)"
        else:
            start = time.perf_counter()
            step.precompile(["C" if v.size <= 1 else layout.get(v.id, "C") for v in kernel.inputs])
            record.compile_seconds = time.perf_counter() - start
            if loaded.status == "hit" and _numba_cache_missed(step):
                record.cache = "miss: file cached, Numba's compiled code was not"
        config.debug_log(1, f"tracead: {record.describe()} {record.path}")
        config.debug_log(3, record.source)
        return step

    def _matmul(self, kernel: Kernel, names: Names, record: KernelRecord, layout) -> MatmulStep:
        mm = kernel.nodes[0]
        layout[mm.out.id] = "C"
        epilogue = None
        outputs = tuple(v for v in kernel.outputs if v.id != mm.out.id)
        if len(kernel.nodes) > 1 and outputs:
            produced = {n.out.id for n in kernel.nodes[1:]}
            inputs: dict[int, object] = {}
            for node in kernel.nodes[1:]:
                for v in node.inputs:
                    if v.id not in produced:
                        inputs.setdefault(v.id, v)
            sub = Kernel(kernel.index, "elementwise", kernel.nodes[1:], tuple(inputs.values()), outputs,
                         mm.out.shape, kernel.reason)
            epilogue = self._fused(sub, names, record, layout,
                                   note=f"epilogue of {names.node(mm)} (np.matmul, BLAS)")
        else:
            record.source = f"# {names.node(mm)}\n# runs as np.matmul (BLAS)\n"
        layout.update((v.id, "C") for v in kernel.outputs)
        return MatmulStep(kernel, epilogue)


def _memory_plan(schedule: Schedule):
    try:
        from ...passes.memory import plan_memory
    except ImportError:
        return None
    return plan_memory(schedule)


def _numba_cache_missed(step: FusedStep) -> bool:
    return any(sum(fn.stats.cache_misses.values()) for fn in step.fns.values()
               if hasattr(fn, "stats"))
