"""`ta.profile(fn, *args)`: eager against compiled, side by side, kernel by kernel.

Both run in this process on the same inputs; warm-up calls are excluded and
every figure is a median. Kernels are timed one by one by the executable's
`run_timed` (fewer fused kernels = fewer rows), with the bytes each kernel
must move (inputs read + outputs written) against this machine's measured
memory bandwidth, and FLOP/s for matmuls. `fn` runs many times: a function
with effects (an optimizer step) keeps applying them.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from ..runtime.compiled import CompiledFunction
from ..runtime.restore import StateSnapshot
from ..trace import pytree


def median_seconds(call, min_time: float = 0.3, max_repeat: int = 1000) -> float:
    call()  # warm-up
    start = time.perf_counter()
    call()
    once = max(time.perf_counter() - start, 1e-7)
    repeat = int(min(max(min_time / once, 5), max_repeat))
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@dataclass
class KernelTiming:
    graph: str
    index: int
    kind: str
    ops: str
    seconds: float
    bytes_moved: int
    flops: int = 0

    def gbps(self) -> float:
        return self.bytes_moved / self.seconds / 1e9 if self.seconds > 0 else 0.0


@dataclass
class ProfileReport:
    name: str
    backend: str
    eager_seconds: float
    compiled_seconds: float
    first_call_seconds: float
    compile_seconds: dict
    kernels: list[KernelTiming] = field(default_factory=list)
    bandwidth_gbps: float | None = None

    @property
    def speedup(self) -> float:
        return self.eager_seconds / self.compiled_seconds

    def to_dict(self) -> dict:
        out = asdict(self)
        out["speedup"] = self.speedup
        return out

    def __str__(self) -> str:
        lines = [
            f"tracead.profile({self.name}) backend={self.backend}",
            f"  eager     {_time(self.eager_seconds):>10} per call",
            f"  compiled  {_time(self.compiled_seconds):>10} per call   speedup {self.speedup:.2f}x",
            f"  first call (trace + compile) {_time(self.first_call_seconds)}: " + ", ".join(
                f"{k} {_time(v)}" for k, v in self.compile_seconds.items()),
        ]
        if self.kernels:
            bw = self.bandwidth_gbps
            lines.append(f"  kernels (machine bandwidth {bw:.1f} GB/s)" if bw else "  kernels")
            lines.append(f"    {'graph':<9}{'#':>3} {'kind':<12}{'time':>10}{'MB':>9}{'GB/s':>8}"
                         f"{'% bw':>7}{'GFLOP/s':>9}  ops")
            for k in self.kernels:
                share = f"{100 * k.gbps() / bw:6.0f}%" if bw else "      -"
                gflops = f"{k.flops / k.seconds / 1e9:9.1f}" if k.flops and k.seconds else " " * 9
                lines.append(f"    {k.graph:<9}{k.index:>3} {k.kind:<12}{_time(k.seconds):>10}"
                             f"{k.bytes_moved / 1e6:9.2f}{k.gbps():8.1f}{share}{gflops}  {k.ops[:60]}")
        return "\n".join(lines)


def _time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} us"


def _kernel_timings(label: str, executable, args, repeat: int) -> tuple[list, list]:
    run_timed = getattr(executable, "run_timed", None)
    if run_timed is None:
        return [], executable(args)
    samples, outs = [], None
    for _ in range(repeat):
        outs, timings = run_timed(args)
        samples.append(timings)
    rows = []
    for i, first in enumerate(samples[0]):
        seconds = statistics.median(s[i]["seconds"] for s in samples)
        rows.append(KernelTiming(label, first["index"], first["kind"], first["ops"], seconds,
                                 first["bytes"], first.get("flops", 0)))
    return rows, outs


def profile(fn, *args, repeat: int = 9, bandwidth: bool = True, **kwargs) -> ProfileReport:
    if isinstance(fn, CompiledFunction):
        python_fn, backend, options = fn.fn, fn.backend_name, fn.options
    else:
        python_fn, backend, options = fn, "numba", {}
    if backend == "eager":
        backend = "interpret"
    compiled = CompiledFunction(python_fn, backend, **options)
    # The traced first call notes every tensor the function touches; all the runs
    # below (eager, compiled) are undone at the end (training steps take no step).
    compiled.snapshot = snapshot = StateSnapshot()
    try:
        start = time.perf_counter()
        compiled(*args, **kwargs)
        first = time.perf_counter() - start
        snapshot.restore()
        eager_fn = CompiledFunction(python_fn, "eager")  # the arguments the compiled calls see
        eager = median_seconds(lambda: eager_fn(*args, **kwargs))
        snapshot.restore()
        compiled_time = median_seconds(lambda: compiled(*args, **kwargs))
    finally:
        snapshot.restore()
    variant = compiled.order[-1]
    leaves, _ = pytree.flatten((args, kwargs))
    arrays = variant.input_arrays(leaves)
    rows, outs = _kernel_timings("forward", variant.forward_exec, arrays, repeat)
    if variant.backward_exec is not None:
        saved = outs[len(outs) - variant.n_saved:]
        seeds = [np.ones(variant.forward_graph.outputs[k].shape, variant.forward_graph.outputs[k].dtype)
                 for k in variant.diff_outputs]
        more, _ = _kernel_timings("backward", variant.backward_exec, list(saved) + seeds, repeat)
        rows += more
    bw = None
    if bandwidth and rows:
        from .bandwidth import measure_bandwidth

        bw = measure_bandwidth()
    return ProfileReport(getattr(python_fn, "__name__", "fn"), backend, eager, compiled_time, first,
                         dict(variant.seconds), rows, bw)
