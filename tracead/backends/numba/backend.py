"""The Numba backend: Schedule -> generated, cached, jitted kernels (backend stage: compile + run).

`NumbaBackend(options).compile(graph, label)` plans kernels
(`plan.fuse.plan_fusion`), turns each fusible kernel into a generated module
(codegen.py) loaded through the disk cache (cache.py), compiles its likely
signature up front, and returns a `NumbaExecutable` (executable.py) that
runs the steps (steps.py) over the memory plan's buffers. Opaque kernels call
their primitive's NumPy impl; matmul kernels call np.matmul (BLAS) and run
their elementwise epilogue as a generated loop reading the product (never in
place: steps.MatmulStep says why).

Compiling waits until every kernel is generated: then a graph's new kernels,
when there are enough, compile partly in worker processes (compile_workers.py)
while this process compiles the rest, and load from the shared disk cache.
Per-stage seconds go to `executable.timings` (the variant's compile ledger).

Parallel kernels are serial functions over chunks of their outer loop, run by a
small pool of threads (threads.py); Numba's own threading layer is never started.

Options: parallel_threshold (work units; codegen.PARALLEL_THRESHOLD, or env
TRACEAD_PARALLEL_THRESHOLD; 0 makes every kernel parallel), jit
(False runs the generated Python without Numba, for pdb; also TRACEAD_DEBUG=4),
compile_workers (worker processes for cold compiles; 0: none) and
parallel_compile_threshold (estimated seconds of new kernels before using them).
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np

from ... import config
from ...plan.fuse import plan_fusion
from ...plan.memory import plan_memory
from ...plan.schedule import Kernel, Schedule
from ...plan.split import compile_weight
from . import cache, compile_workers
from .codegen import PARALLEL_THRESHOLD, generate
from .executable import NumbaExecutable, private_inputs
from .writer import Names
from .steps import FusedStep, MatmulStep, OpaqueStep

__all__ = ["NumbaBackend", "NumbaExecutable", "FusedStep", "MatmulStep", "OpaqueStep", "KernelRecord", "plan"]

def plan(graph) -> Schedule:
    return drop_dead_kernels(plan_fusion(graph))


def drop_dead_kernels(schedule: Schedule) -> Schedule:
    """Without the dce pass (`disable=["dce"]`) a kernel may compute only values nobody
    reads: it has no outputs, and every prim is pure, so it is dropped (kernels renumbered)."""
    if all(k.outputs for k in schedule.kernels):
        return schedule
    live = [k for k in schedule.kernels if k.outputs]
    return Schedule(schedule.graph, tuple(dataclasses.replace(k, index=i) for i, k in enumerate(live)))


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
    codegen_seconds: float = 0.0
    load_seconds: float = 0.0

    def describe(self) -> str:
        return (f"{self.label} kernel {self.index} [{self.kind}] cache {self.cache}, "
                f"compile {self.compile_seconds * 1e3:.0f} ms" + (" parallel" if self.parallel else ""))


class NumbaBackend:
    name = "numba"

    def __init__(self, options: dict) -> None:
        self.options = options
        default = config.parallel_threshold()
        self.parallel_threshold = int(options.get(
            "parallel_threshold", PARALLEL_THRESHOLD if default is None else default))
        self.jit = bool(options.get("jit", config.debug_level() < 4))
        # Cold compiles in worker processes (compile_workers.py): how many, above what
        # estimated work in seconds; compile_workers=0 keeps everything in-process.
        self.compile_workers = int(options.get("compile_workers", compile_workers.default_workers()))
        self.parallel_compile_threshold = float(options.get("parallel_compile_threshold",
                                                            compile_workers.THRESHOLD_SECONDS))
        self._pending: list[Pending] = []

    runtime_sizes = True  # compile(runtime_sizes=...) is understood (runtime/variant.py)

    def compile(self, graph, label: str = "graph", runtime_sizes=frozenset()) -> NumbaExecutable:
        """runtime_sizes: sizes the kernels read from their arguments instead of baking
        them in (a dynamic-shape instance's symbolic dims, codegen.generate)."""
        start = time.perf_counter()
        schedule = plan(graph)
        return self.compile_schedule(schedule, label, {"plan": time.perf_counter() - start},
                                     runtime_sizes)

    def compile_schedule(self, schedule: Schedule, label: str = "graph",
                         timings: dict | None = None, runtime_sizes=frozenset()) -> NumbaExecutable:
        """timings: seconds per stage so far, completed here (the compile ledger's)."""
        timings = dict(timings or {})
        self._runtime = frozenset(runtime_sizes)
        start = time.perf_counter()
        names = Names(schedule.graph)
        memory = plan_memory(schedule)
        timings["memory plan"] = time.perf_counter() - start
        private = private_inputs(schedule, memory)
        # Predicted memory layout per value ("C" or "A"), so the signature compiled up
        # front is the one calls use; `known`: certain before the call, never checked.
        layout = {v.id: "C" for v in schedule.graph.inputs}
        known = set()
        for vid, c in schedule.graph.constants.items():
            layout[vid] = "C" if np.asarray(c).flags.c_contiguous else "A"
            known.add(vid)
        steps, records = [], []
        for kernel in schedule.kernels:
            record = KernelRecord(kernel.index, kernel.kind, label, tuple(n.out.id for n in kernel.nodes),
                                  "", reason=kernel.reason)
            if kernel.kind == "opaque":
                node = kernel.nodes[0]
                record.source = f"# {names.node(node)}\n# runs as {node.prim.name}'s NumPy impl\n"
                steps.append(OpaqueStep(kernel))
                # A view, unless it is copied out of a buffer the plan reuses (executable.py).
                # (`Prim.strided`: its NumPy impl may return a strided view, so the next
                # kernel is compiled for any layout, the signature it will see.)
                view = node.prim.strided and kernel.index not in private
                layout.update((v.id, "A" if view else "C") for v in kernel.outputs)
            elif kernel.kind == "matmul":
                steps.append(self._matmul(kernel, names, record, layout, memory))
                known.update(v.id for v in kernel.outputs)
                known.add(kernel.nodes[0].out.id)
            else:
                steps.append(self._fused(kernel, names, record, layout))
                layout.update((v.id, "C") for v in kernel.outputs)
                known.update(v.id for v in kernel.outputs)
            records.append(record)
        workers = self._compile_pending(timings)
        for stage, attr in (("codegen", "codegen_seconds"), ("cache load", "load_seconds"),
                            ("llvm", "compile_seconds")):
            timings[stage] = sum(getattr(r, attr) for r in records)
        executable = NumbaExecutable(schedule, steps, records, memory, layout, known)
        executable.timings, executable.workers = timings, workers
        return executable

    def _fused(self, kernel: Kernel, names: Names, record: KernelRecord, layout, note: str = "",
               in_place: tuple = ()) -> FusedStep:
        """Generate and load the kernel's module; its compile waits in self._pending
        (`_compile_pending`), so a graph's new kernels can compile side by side."""
        start = time.perf_counter()
        code = generate(kernel, names, self.parallel_threshold, note, getattr(self, "_runtime", frozenset()),
                        in_place)
        record.codegen_seconds += time.perf_counter() - start
        start = time.perf_counter()
        loaded = cache.load(code.body)
        record.load_seconds += time.perf_counter() - start
        record.source, record.path, record.cache = loaded.text, str(loaded.path), loaded.status
        record.entries, record.parallel = tuple(e.name for e in code.entries), code.parallel
        step = FusedStep(kernel, code, loaded.module, record, self.jit)
        step.lease = loaded.lease  # keeps the module registered while this step lives (cache.py)
        if not self.jit:
            record.cache = f"{loaded.status}; not jitted (jit=False / TRACEAD_DEBUG=4)"
        else:
            layouts = ["C" if v.size <= 1 else layout.get(v.id, "C") for v in kernel.inputs]
            self._pending.append(pending_compile(step, layouts, loaded))
        return step

    def _compile_pending(self, timings: dict) -> int:
        """Compile (or load from Numba's cache) every pending kernel's likely signature.
        New kernels worth it go partly to worker processes first (compile_workers.py);
        returns how many workers ran."""
        pending, self._pending = self._pending, []
        jobs, seen = [], set()
        for p in pending:
            if p.loaded.status.startswith("miss") and p.job not in seen:
                seen.add(p.job)
                weight = sum(compile_weight(n) for n in p.step.kernel.nodes)
                jobs.append(compile_workers.Job(p.job[0], p.loaded.key, p.job[1], p.job[2],
                                                compile_workers.estimate_seconds(weight)))
        _, remote = compile_workers.plan(jobs, self.compile_workers, self.parallel_compile_threshold)
        procs = [p for p in map(compile_workers.start, remote) if p is not None]
        in_workers = {(j.path, j.entry, j.sig) for b in remote for j in b} if procs else set()
        waited = False
        for p in sorted(pending, key=lambda p: p.job in in_workers):
            if procs and not waited and p.job in in_workers:
                start = time.perf_counter()  # our share is done: wait for the workers' cache
                compile_workers.finish(procs, timeout=120 + 4 * sum(j.seconds for j in jobs))
                timings["compile workers (wait)"] = time.perf_counter() - start
                waited = True
            self._precompile(p, p.job in in_workers)
        if procs and not waited:
            compile_workers.finish(procs, timeout=1.0)
        return len(procs)

    @staticmethod
    def _precompile(p: "Pending", by_worker: bool) -> None:
        step, record = p.step, p.step.record
        start = time.perf_counter()
        step.precompile(p.layouts)
        record.compile_seconds = time.perf_counter() - start
        if by_worker:
            record.cache += ("; a worker process failed, compiled here" if _numba_cache_missed(step)
                             else "; compiled by a worker process")
        if p.loaded.status == "hit" and _numba_cache_missed(step):
            record.cache = "miss: file cached, Numba's compiled code was not"
        config.debug_log(1, f"tracead: {record.describe()} {record.path}")
        config.debug_log(3, record.source)

    def _matmul(self, kernel: Kernel, names: Names, record: KernelRecord, layout, memory) -> MatmulStep:
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
                                   note=f"epilogue of {names.node(mm)} (np.matmul, BLAS)",
                                   in_place=_in_place(sub, mm.out, memory))
        else:
            record.source = f"# {names.node(mm)}\n# runs as np.matmul (BLAS)\n"
        layout.update((v.id, "C") for v in kernel.outputs)
        return MatmulStep(kernel, epilogue)


def _in_place(epilogue: Kernel, product, memory) -> tuple:
    """(input, output) positions of an epilogue whose output shares the product's buffer
    (the memory plan found no free one for the product), else ()."""
    host = memory.in_place.get(product.id)
    if host is None:
        return ()
    return ([u.id for u in epilogue.inputs].index(product.id),
            [v.id for v in epilogue.outputs].index(host))


@dataclass(frozen=True, slots=True)
class Pending:
    """A loaded kernel module whose likely signature is still to compile; `job` names
    that compile (module path, entry, argument types), as compile workers see it."""

    step: FusedStep
    layouts: list[str]
    loaded: cache.Loaded
    job: tuple


def pending_compile(step: FusedStep, layouts: list[str], loaded) -> Pending:
    entry, sig = step.signature(layouts)
    return Pending(step, layouts, loaded, (str(loaded.path), entry, tuple(sig)))


def _numba_cache_missed(step: FusedStep) -> bool:
    return any(sum(fn.stats.cache_misses.values()) for fn in step.fns.values()
               if hasattr(fn, "stats"))
