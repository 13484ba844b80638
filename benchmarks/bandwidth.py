"""Machine memory bandwidth and matmul rate, and per-workload memory-traffic floors.

The bandwidth is the library's measurement (`tracead.tools.bandwidth`, also
what `ta.profile` compares kernels with): STREAM's copy and triad kernels
with NumPy and with a Numba `prange` kernel on all cores, the best median,
cached in the same JSON file. It is the number every "achieved GB/s" in the
benchmark report is compared with. Here it runs on larger arrays (see
DEFAULT_ARRAY_BYTES) and, on a shared machine, a measurement during which
other processes were busy is repeated (up to 3 times; the quietest is kept).

Byte counting follows STREAM: copy moves 2 words per element (read a, write
b), triad 3 (read b, c; write a). Write-allocate traffic is not counted, so
the figure is what a program "sees", which is what the floors below use too.

    python -m benchmarks.bandwidth [--remeasure] [--size-mb 1024]
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

from tracead.tools import bandwidth as library
from tracead.tools.bandwidth import median_rate, cached_kernels, run_stream

# This VM reports a 480 MiB L3 (KVM passes the host's through), so "far larger
# than cache" means about 1 GiB per array; 3 arrays then need 3 GiB of RAM.
DEFAULT_ARRAY_BYTES = 1 << 30


def _cpu_jiffies() -> tuple[int, float] | None:
    """(busy jiffies of the whole machine, this process's CPU seconds), Linux only."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:8]]
    except (OSError, ValueError):
        return None
    t = os.times()
    return v[0] + v[1] + v[2] + v[5] + v[6], t.user + t.system


def _measure_quietly(measure, tries: int = 3, threshold: float = 0.15):
    """Run `measure()`; if other processes took > threshold of the CPUs meanwhile
    (the machine may be shared), run it again, up to `tries` times, keeping the
    quietest run. Returns (result, share of the CPUs other processes used or None)."""
    best = None
    for _ in range(tries):
        before, t0 = _cpu_jiffies(), time.perf_counter()
        result = measure()
        after, wall = _cpu_jiffies(), time.perf_counter() - t0
        share = None
        if before and after:
            busy = (after[0] - before[0]) / os.sysconf("SC_CLK_TCK") - (after[1] - before[1])
            share = min(1.0, max(0.0, busy / (wall * (os.cpu_count() or 1))))
        if best is None or (share is not None and share < best[1]):
            best = (result, share)
        if share is None or share < threshold:
            break
    return best


def measure_bandwidth(cache_path: str | os.PathLike | None = None, *, remeasure: bool = False,
                      array_bytes: int = DEFAULT_ARRAY_BYTES, save: bool = True) -> float:
    """Memory bandwidth of this machine in GB/s: the library's measurement and cache
    (default file: tracead's cache directory), repeated while other processes were busy."""
    return library.measure_bandwidth(
        remeasure, path=cache_path, array_bytes=array_bytes, save=save,
        stream=lambda: _measure_quietly(lambda: run_stream(array_bytes))[0])


def measure_sgemm_gflops(cache_path: str | os.PathLike | None = None, *, remeasure: bool = False,
                         n: int = 2048) -> float:
    """float32 NumPy matmul (BLAS) GFLOP/s on (n, n) @ (n, n): W2's compute reference.

    Cached beside the bandwidth figure under "<host>/<cpus>cpu/sgemm".
    """
    key = f"{library.machine_key()}/sgemm"
    entry = library.read_cache(cache_path).get(key)
    if not remeasure and isinstance(entry, dict) and "gflops" in entry:
        return float(entry["gflops"])
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(np.float32)
    b = rng.standard_normal((n, n)).astype(np.float32)
    # same helper as the bandwidth: its "bytes" are FLOPs here
    gflops, foreign = _measure_quietly(lambda: median_rate(lambda: a @ b, 2.0 * n ** 3, 7))
    library.write_cache_entry(key, {"gflops": gflops, "n": n, "foreign_cpu": foreign,
                                    "measured_at": time.strftime("%Y-%m-%d %H:%M:%S")}, cache_path)
    return gflops


# ---------------------------------------------------------------------------
# Memory-traffic floors: bytes every implementation must read or write at
# least once (inputs read once, outputs written once; intermediates may live
# in registers or cache). Floor time = bytes / bandwidth.

MLP_SIZES = (784, 512, 256, 10)


def mlp_param_count(sizes: tuple[int, ...] = MLP_SIZES) -> int:
    return sum(i * o + o for i, o in zip(sizes[:-1], sizes[1:]))


def traffic_bytes(workload: str, **p) -> int:
    """Minimum bytes moved by one call of a workload (see module docstring)."""
    if workload == "W1":  # read x, write dloss/dx
        return 2 * p["n"] * p["itemsize"]
    if workload == "W2":  # read X, labels and params; write updated params
        return p["batch"] * 784 * 4 + p["batch"] * 8 + 2 * mlp_param_count() * 4
    if workload == "W3":  # read x and labels, write dloss/dx
        return 2 * p["rows"] * p["cols"] * 4 + p["rows"] * 8
    return 0  # W4 (a handful of scalars) and W5 are not about memory


def mlp_step_flops(batch: int, sizes: tuple[int, ...] = MLP_SIZES) -> int:
    """Matmul FLOPs of one MLP SGD step: forward, dW for every layer, dX for all but the first."""
    layers = list(zip(sizes[:-1], sizes[1:]))
    per_matmul = [2 * batch * i * o for i, o in layers]
    return 3 * sum(per_matmul) - per_matmul[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--remeasure", action="store_true")
    ap.add_argument("--size-mb", type=int, default=DEFAULT_ARRAY_BYTES >> 20, help="MiB per array")
    ap.add_argument("--cache", default=None)
    args = ap.parse_args()
    gbps = measure_bandwidth(args.cache, remeasure=args.remeasure, array_bytes=args.size_mb << 20)
    for name, rate in cached_kernels(args.cache).items():
        print(f"{name:28s} {rate:7.2f} GB/s")
    print(f"bandwidth: {gbps:.2f} GB/s")
    print(f"float32 matmul: {measure_sgemm_gflops(args.cache, remeasure=args.remeasure):.0f} GFLOP/s")


if __name__ == "__main__":
    main()
