"""This machine's memory bandwidth, measured once and cached (for `profile`).

A STREAM-style copy and triad over arrays much larger than the last-level
cache, with NumPy and with a Numba `prange` kernel on all cores; the figure
is the best median (STREAM reports the best kernel too). Bytes are counted
as STREAM does: copy moves 2 words per element, triad 3. Cached as JSON
under the tracead cache directory, keyed by host and CPU count.
"""
from __future__ import annotations

import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from .. import config

DEFAULT_ARRAY_BYTES = 256 << 20


def _median_rate(fn, nbytes: float, runs: int) -> float:
    fn()
    rates = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        rates.append(nbytes / (time.perf_counter() - start) / 1e9)
    return statistics.median(rates)


def run_stream(array_bytes: int = DEFAULT_ARRAY_BYTES, runs: int = 5) -> dict[str, float]:
    """{kernel name: median GB/s} for NumPy and Numba copy/triad."""
    import numba

    threads = numba.get_num_threads()

    @numba.njit(parallel=True, cache=True)
    def copy(a, b):
        for i in numba.prange(a.shape[0]):
            b[i] = a[i]

    @numba.njit(parallel=True, cache=True)
    def triad(a, b, c, s):
        for i in numba.prange(a.shape[0]):
            a[i] = b[i] + s * c[i]

    n = array_bytes // 8
    a, b, c = np.ones(n), np.full(n, 2.0), np.full(n, 0.5)  # touch every page first
    return {
        "numpy copy": _median_rate(lambda: np.copyto(b, a), 16 * n, runs),
        "numpy add": _median_rate(lambda: np.add(b, c, out=a), 24 * n, runs),
        f"numba copy ({threads} threads)": _median_rate(lambda: copy(a, b), 16 * n, runs),
        f"numba triad ({threads} threads)": _median_rate(lambda: triad(a, b, c, 3.0), 24 * n, runs),
    }


def _cache_path() -> Path:
    return Path(config.cache_dir()) / "bandwidth.json"


def measure_bandwidth(remeasure: bool = False) -> float:
    """Memory bandwidth in GB/s (cached after the first measurement)."""
    path = _cache_path()
    key = f"{platform.node()}/{os.cpu_count()}cpu"
    data = {}
    if path.exists():
        try:
            data = json.loads(path.read_text())
            if not remeasure and key in data:
                return float(data[key]["gbps"])
        except (ValueError, KeyError, OSError, TypeError):
            data = {}  # unreadable: measure again
    kernels = run_stream()
    data[key] = {"gbps": max(kernels.values()), "kernels": kernels,
                 "measured_at": time.strftime("%Y-%m-%d %H:%M:%S")}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)
    return float(data[key]["gbps"])
