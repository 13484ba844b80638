"""What compiling one variant cost, stage by stage (`variant.ledger`).

    trace        the traced eager run (it is also the first call's result)
    pass NAME    each graph pass (fold, simplify, cse, dce), summed over graphs
    plan         fusion planning (plan/fuse.py, split.py)
    memory plan  buffer assignment (plan/memory.py)
    codegen      kernel source generation (backends/numba/codegen.py)
    cache load   writing/importing kernel modules (backends/numba/cache.py)
    llvm         Numba compiling (or loading from its cache) each kernel's signature
    compile workers (wait)  waiting for worker processes compiling new kernels
                 (backends/numba/compile_workers.py), after this process did its share
    other        the rest of the backend (linking steps, call code)

Kernels: `compiled` ran Numba/LLVM now, `loaded` came from the on-disk cache,
`reused` were identical (up to renaming) to a kernel this process already
had. Break-even: how many compiled calls repay the compile, against the
eager run the trace timed (an upper bound of an eager call: it includes
recording the graph, so the figure is optimistic by that much).
`str(ledger)` is the compact section explain and TRACEAD_DEBUG=1 print.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from ..units import seconds_text

BACKEND_STAGES = ("plan", "memory plan", "codegen", "cache load", "llvm", "compile workers (wait)")


@dataclass(frozen=True, slots=True)
class KernelCost:
    label: str  # forward / backward
    index: int
    kind: str
    nodes: int
    cache: str  # the kernel record's cache status
    codegen_seconds: float
    load_seconds: float
    llvm_seconds: float

    @property
    def status(self) -> str:
        if "not jitted" in self.cache:
            return "none"
        if self.cache.startswith("miss"):
            return "compiled"
        if self.cache.startswith("hit (in memory)"):
            return "reused"
        if self.cache.startswith("hit"):
            return "loaded"
        return "none"


@dataclass(frozen=True)
class CompileLedger:
    stages: dict  # stage name -> seconds (see the module docstring)
    kernels: tuple[KernelCost, ...] = ()
    eager_call_seconds: float | None = None
    compiled_call_seconds: float | None = None
    parallel_workers: int = 0  # worker processes that compiled kernels (0: in-process)
    notes: tuple[str, ...] = field(default=())

    @property
    def total_seconds(self) -> float:
        return sum(v for k, v in self.stages.items() if not k.startswith("pass "))

    def counts(self) -> dict:
        out = {"compiled": 0, "loaded": 0, "reused": 0}
        for k in self.kernels:
            if k.status in out:
                out[k.status] += 1
        return out

    @property
    def break_even_calls(self) -> float | None:
        """Calls after which compiling paid for itself (None: not known yet; inf: never)."""
        if self.eager_call_seconds is None or self.compiled_call_seconds is None:
            return None
        saving = self.eager_call_seconds - self.compiled_call_seconds
        extra = self.total_seconds - self.eager_call_seconds  # the first call ran eagerly anyway
        return math.inf if saving <= 0 else max(extra, 0.0) / saving

    def as_dict(self) -> dict:
        return {"stages": dict(self.stages), "total_seconds": self.total_seconds,
                "kernels": self.counts(), "break_even_calls": self.break_even_calls,
                "eager_call_seconds": self.eager_call_seconds,
                "compiled_call_seconds": self.compiled_call_seconds,
                "parallel_workers": self.parallel_workers,
                "per_kernel": [{"label": k.label, "index": k.index, "kind": k.kind, "nodes": k.nodes,
                                "status": k.status, "codegen_s": k.codegen_seconds,
                                "load_s": k.load_seconds, "llvm_s": k.llvm_seconds}
                               for k in self.kernels]}

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def lines(self) -> list[str]:
        """The compact section explain and TRACEAD_DEBUG=1 print."""
        stages = ", ".join(f"{k} {seconds_text(v)}" for k, v in self.stages.items() if v >= 5e-5 or k == "trace")
        c = self.counts()
        lines = [f"compile ledger: {seconds_text(self.total_seconds)} total ({stages})",
                 f"  kernels: {c['compiled']} compiled, {c['loaded']} loaded from the cache, "
                 f"{c['reused']} reused (identical up to renaming)"
                 + (f", {self.parallel_workers} worker processes" if self.parallel_workers else "")]
        slow = sorted((k for k in self.kernels if k.llvm_seconds > 0), key=lambda k: -k.llvm_seconds)[:3]
        if slow:
            lines.append("  slowest LLVM: " + ", ".join(
                f"{k.label} kernel {k.index} ({k.nodes} nodes) {seconds_text(k.llvm_seconds)}" for k in slow))
        if self.eager_call_seconds is not None and self.compiled_call_seconds is not None:
            # One call each, and the first compiled call pays one-time warm-up (Numba
            # dispatch, first allocations): too little to promise a break-even here.
            lines.append(f"  first calls: traced (eager) {seconds_text(self.eager_call_seconds)}, first compiled "
                         f"{seconds_text(self.compiled_call_seconds)} incl. warm-up; ta.profile(fn, *args) "
                         "measures steady state and the break-even")
        lines += [f"  {n}" for n in self.notes]
        return lines


def build_ledger(variant) -> CompileLedger:
    """The ledger of a built Variant (runtime/variant.py)."""
    stages = {"trace": variant.seconds.get("trace", 0.0)}
    for records in variant.pass_records.values():
        for r in records:
            stages[f"pass {r.name}"] = stages.get(f"pass {r.name}", 0.0) + r.seconds
    backend_total = variant.seconds.get("backend", 0.0)
    kernels, workers = [], 0
    for exe in (variant.forward_exec, variant.backward_exec):
        if exe is None:
            continue
        for name, seconds in getattr(exe, "timings", {}).items():
            stages[name] = stages.get(name, 0.0) + seconds
        workers = max(workers, getattr(exe, "workers", 0))
        for r in getattr(exe, "kernels", ()):
            if not getattr(r, "path", None):
                continue  # opaque / BLAS kernels: nothing generated
            kernels.append(KernelCost(r.label, r.index, r.kind, len(r.node_ids), r.cache,
                                      getattr(r, "codegen_seconds", 0.0), getattr(r, "load_seconds", 0.0),
                                      r.compile_seconds))
    known = sum(stages.get(k, 0.0) for k in BACKEND_STAGES)
    if backend_total:
        stages["other"] = max(backend_total - known, 0.0)
    passes = variant.seconds.get("passes")
    if passes is not None:
        stages = {"trace": stages.pop("trace"), "passes": passes, **stages}
    return CompileLedger(stages, tuple(kernels), variant.capture.seconds,
                         getattr(variant, "first_call_seconds", None), workers)
