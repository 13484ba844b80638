"""`ta.profile(fn, *args)`: eager against compiled, side by side, kernel by kernel.

Both run in this process on the same inputs; warm-up calls are excluded and
every figure is a median. Kernels are timed one by one by the executable's
`run_timed` (fewer fused kernels = fewer rows), with the bytes each kernel
must move (inputs read + outputs written) against this machine's measured
memory bandwidth, and FLOP/s for matmuls. `fn` runs many times: a function
with effects (an optimizer step) keeps applying them.
"""
from __future__ import annotations

import math
import statistics
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from ..runtime.compiled import CompiledFunction
from ..runtime.restore import preserved_state
from ..trace import pytree
from ..units import seconds_text


def median_seconds(call, min_time: float = 0.3, max_repeat: int = 1000) -> float:
    """Median wall time of `call()` after one warm-up, over about `min_time` seconds."""
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
    """One kernel's median time and the bytes it must move (for the roofline share)."""

    graph: str
    index: int
    kind: str
    ops: str
    seconds: float
    bytes_moved: int
    flops: int = 0

    def gbps(self) -> float:
        """Achieved bandwidth in GB/s."""
        return self.bytes_moved / self.seconds / 1e9 if self.seconds > 0 else 0.0


@dataclass
class ProfileReport:
    """Eager vs compiled per call, the compile cost, and per-kernel timings; print it."""

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
        """Eager seconds per call over compiled seconds per call."""
        return self.eager_seconds / self.compiled_seconds

    @property
    def compile_overhead_seconds(self) -> float:
        """What the first (tracing + compiling) call cost beyond one eager call."""
        return max(0.0, self.first_call_seconds - self.eager_seconds)

    @property
    def break_even_calls(self) -> int | None:
        """Calls after which compiling has paid for itself (None: never, compiled is not faster)."""
        saving = self.eager_seconds - self.compiled_seconds
        if saving <= 0:
            return None
        return max(1, math.ceil(self.compile_overhead_seconds / saving))

    def verdict(self) -> str:
        """One line: was compiling worth it, and after how many calls."""
        calls = self.break_even_calls
        if calls is None:
            return (f"not worth compiling: a compiled call is not faster than eager "
                    f"({seconds_text(self.compiled_seconds)} vs {seconds_text(self.eager_seconds)})")
        return (f"compiling pays off after {calls} calls: the first call costs "
                f"{seconds_text(self.compile_overhead_seconds)} more than eager, each later call saves "
                f"{seconds_text(self.eager_seconds - self.compiled_seconds)}")

    def to_dict(self) -> dict:
        """All figures as plain data (for JSON)."""
        out = asdict(self)
        out["speedup"] = self.speedup
        out["compile_overhead_seconds"] = self.compile_overhead_seconds
        out["break_even_calls"] = self.break_even_calls
        return out

    def __str__(self) -> str:
        lines = [
            f"tracead.profile({self.name}) backend={self.backend}",
            f"  eager     {seconds_text(self.eager_seconds):>10} per call",
            f"  compiled  {seconds_text(self.compiled_seconds):>10} per call   speedup {self.speedup:.2f}x",
            f"  first call (trace + compile) {seconds_text(self.first_call_seconds)}: " + ", ".join(
                f"{k} {seconds_text(v)}" for k, v in self.compile_seconds.items()),
            f"  {self.verdict()}",
        ]
        if self.kernels:
            bw = self.bandwidth_gbps
            lines.append(f"  kernels (machine bandwidth {bw:.1f} GB/s)" if bw else "  kernels")
            lines.append(f"    {'graph':<9}{'#':>3} {'kind':<12}{'time':>10}{'MB':>9}{'GB/s':>8}"
                         f"{'% bw':>7}{'GFLOP/s':>9}  ops")
            for k in self.kernels:
                share = f"{100 * k.gbps() / bw:6.0f}%" if bw else "      -"
                gflops = f"{k.flops / k.seconds / 1e9:9.1f}" if k.flops and k.seconds else " " * 9
                lines.append(f"    {k.graph:<9}{k.index:>3} {k.kind:<12}{seconds_text(k.seconds):>10}"
                             f"{k.bytes_moved / 1e6:9.2f}{k.gbps():8.1f}{share}{gflops}  {k.ops[:60]}")
        return "\n".join(lines)


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
    """Time `fn(*args, **kwargs)` eagerly and compiled, kernel by kernel.

    `fn` is a plain or a `ta.compile`d function (its backend and options are
    used; a fresh wrapper is compiled, so the first-call figure includes
    tracing and compiling). Returns a `ProfileReport`: medians per call, the
    speedup, the compile cost and after how many calls compiling pays off
    (`break_even_calls`), and each kernel's time, bytes moved and share of
    this machine's memory bandwidth (measured once and cached; pass
    `bandwidth=False` to skip). `fn` runs many times; the tensors it changes
(parameters, `.grad`s) are put back afterwards, other Python state is not.
    """
    if isinstance(fn, CompiledFunction):
        python_fn, backend, options = fn.fn, fn.backend_name, fn.options
    else:
        python_fn, backend, options = fn, "numba", {}
    if backend == "eager":
        backend = "interpret"
    compiled = CompiledFunction(python_fn, backend, **options)
    # The traced first call notes every tensor the function touches; all the runs
    # below (eager, compiled) are undone (training steps take no step).
    with preserved_state(compiled, args, kwargs) as snapshot:
        start = time.perf_counter()
        compiled(*args, **kwargs)
        first = time.perf_counter() - start
        snapshot.restore()
        eager_fn = CompiledFunction(python_fn, "eager")  # the arguments the compiled calls see
        eager = median_seconds(lambda: eager_fn(*args, **kwargs))
        snapshot.restore()
        compiled_time = median_seconds(lambda: compiled(*args, **kwargs))
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
