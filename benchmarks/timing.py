"""Timing and peak-memory measurement of zero-argument callables.

Timing (`measure`): warm-up calls are excluded; then, like `timeit.autorange`,
calls are batched so one sample lasts long enough for the clock to resolve
microsecond-scale calls (W4), and the number of samples is chosen so the
whole measurement takes about `target_seconds`. The machine is shared and
noisy, so we report the median per-call time and the interquartile range,
never the mean. The garbage collector is off while sampling (as in timeit).

Peak memory (`peak_memory`), checked on this machine (numpy 2.4):
- NumPy's data allocator reports to tracemalloc (PyTraceMalloc_Track, domain
  389047): a (4M,) float64 temporary shows as a 32 MB tracemalloc peak. Torch,
  JAX/XLA and Numba's NRT allocate through their own C allocators and are
  invisible to tracemalloc, so that figure is only meaningful for NumPy code.
- The allocator-neutral figure is the resident-set high-water mark: Linux
  lets a process reset VmHWM by writing "5" to /proc/self/clear_refs, so we
  reset it, read VmRSS, call the function, and read VmHWM again. The
  difference is the transient peak of one call above what was resident
  before it (inputs, parameters and caches excluded).
- RSS undercounts memory that malloc reuses from its free lists, and glibc
  raises its mmap threshold up to 32 MB after large frees. `memory_child`
  therefore runs each implementation in a fresh subprocess with
  MALLOC_MMAP_THRESHOLD_=65536 (set before the process starts: that fixes the
  threshold, so every large buffer is a fresh mmap that munmap returns to the
  OS). It is kept out of the timing process because it slows NumPy's
  temporaries down.
"""
from __future__ import annotations

import gc
import math
import os
import statistics
import time
import tracemalloc
from dataclasses import asdict, dataclass
from typing import Any, Callable


@dataclass(frozen=True, slots=True)
class Timing:
    median: float  # seconds per call
    iqr: float  # interquartile range of the per-call samples, seconds
    samples: int  # number of samples
    number: int  # calls per sample
    total: float  # wall time spent sampling, seconds
    times: tuple[float, ...] = ()  # the per-call samples themselves

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        del d["times"]
        return d


def merge(timings: list[Timing]) -> Timing:
    """Pool the samples of several measurements of one callable (e.g. interleaved rounds)."""
    times = [t for timing in timings for t in timing.times]
    q1, q3 = _quartiles(times)
    return Timing(statistics.median(times), q3 - q1, len(times), max(t.number for t in timings),
                  sum(t.total for t in timings), tuple(times))


def _quartiles(xs: list[float]) -> tuple[float, float]:
    if len(xs) < 2:
        return xs[0], xs[0]
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return q[0], q[2]


def measure(fn: Callable[[], Any], *, target_seconds: float = 1.5, warmup: int = 2,
            min_samples: int = 5, max_samples: int = 200) -> Timing:
    """Median seconds per call of `fn()` (warm-up excluded; see module docstring).

    To spread a noisy machine's slow phases fairly over competitors, callers
    can measure several callables in interleaved rounds and `merge` the results.
    """
    for _ in range(warmup):
        fn()
    # Estimate one call (the fastest of a few batches, so one slow outlier
    # doesn't shrink the plan), batching until a batch takes >= 20 ms.
    number, estimates, spent = 1, [], 0.0
    while spent < 0.1 and len(estimates) < 5 or not estimates:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        elapsed = time.perf_counter() - t0
        spent += elapsed
        if elapsed < 0.02 and number < 1 << 20:
            number *= 10 if elapsed < 0.002 else 2
            continue
        estimates.append(elapsed / number)
    per_call = min(estimates)
    # Each sample should last >= 5 ms, and at least min_samples should fit.
    sample_seconds = max(0.005, min(target_seconds / 20, target_seconds / min_samples))
    number = max(1, math.ceil(sample_seconds / max(per_call, 1e-9)))
    samples = int(min(max_samples, max(min_samples, target_seconds / (number * max(per_call, 1e-9)))))
    times = []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    start = time.perf_counter()
    try:
        for _ in range(samples):
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            times.append((time.perf_counter() - t0) / number)
    finally:
        if gc_was_enabled:
            gc.enable()
    q1, q3 = _quartiles(times)
    return Timing(statistics.median(times), q3 - q1, samples, number, time.perf_counter() - start, tuple(times))


def time_once(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Wall time of a single call (used for setup and first-call/compile latency)."""
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _proc_status_bytes(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_memory(fn: Callable[[], Any], calls: int = 2) -> dict[str, int | None]:
    """Transient peak bytes of `calls` calls of fn, above what is resident before.

    Returns {"rss_peak": VmHWM delta (all allocators; None where /proc can't do
    it), "tracemalloc_peak": traced delta (NumPy and Python objects only)}.
    Call `fn` at least once before (compilation is not a per-call cost).
    """
    result: dict[str, int | None] = {"rss_peak": None, "tracemalloc_peak": None}
    gc.collect()
    if _reset_hwm():
        before = _proc_status_bytes("VmRSS")
        for _ in range(calls):
            out = fn()
            del out
        hwm = _proc_status_bytes("VmHWM")
        if before is not None and hwm is not None:
            result["rss_peak"] = max(0, hwm - before)
    gc.collect()
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    try:
        # One call under tracing first: arrays it leaves resident (a training step's new
        # parameters) were allocated while traced, so the measured calls are seen to free
        # them; otherwise each measured call would seem to keep one more copy.
        del_out = fn()
        del del_out
        gc.collect()
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        for _ in range(calls):
            out = fn()
            del out
        _, peak = tracemalloc.get_traced_memory()
        result["tracemalloc_peak"] = max(0, peak - base)
    finally:
        if started:
            tracemalloc.stop()
    return result


class CpuMonitor:
    """CPU used by *other* processes (and hypervisor steal) while a block runs.

    The machine is shared: 2 cores and other sessions' test runs. Linux-only
    (/proc/stat); `foreign_share` is None elsewhere. Usage:
        with CpuMonitor() as mon: ...;  mon.foreign_share  # 0.0 .. 1.0 of all cores
    """

    def __init__(self) -> None:
        self.foreign_share: float | None = None
        self.steal_share: float | None = None

    @staticmethod
    def _stat() -> tuple[int, int] | None:
        try:
            with open("/proc/stat") as f:
                fields = [int(v) for v in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        # user nice system idle iowait irq softirq steal ...
        busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6]
        return busy, fields[7] if len(fields) > 7 else 0

    @staticmethod
    def _own() -> float:
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system

    def __enter__(self) -> "CpuMonitor":
        self._t0, self._stat0, self._own0 = time.perf_counter(), self._stat(), self._own()
        return self

    def __exit__(self, *exc: object) -> None:
        stat1 = self._stat()
        wall = time.perf_counter() - self._t0
        if self._stat0 is None or stat1 is None or wall <= 0:
            return
        hz = os.sysconf("SC_CLK_TCK")
        capacity = wall * (os.cpu_count() or 1)
        busy = (stat1[0] - self._stat0[0]) / hz
        own = self._own() - self._own0
        self.foreign_share = min(1.0, max(0.0, (busy - own) / capacity))
        self.steal_share = min(1.0, max(0.0, (stat1[1] - self._stat0[1]) / hz / capacity))
