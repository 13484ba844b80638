"""This machine's memory bandwidth, measured once and cached (for `profile`).

A STREAM-style copy and triad over arrays much larger than the last-level
cache, with NumPy and with a Numba `prange` kernel on all cores; the figure
is the best median (STREAM reports the best kernel too). Bytes are counted
as STREAM does: copy moves 2 words per element, triad 3. Cached as JSON
under the tracead cache directory, keyed by host and CPU count; the
benchmarks (benchmarks/bandwidth.py) measure through this module and share
the file.
"""
from __future__ import annotations

import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Callable

import numpy as np

from .. import config

DEFAULT_ARRAY_BYTES = 256 << 20


def median_rate(fn, nbytes: float, runs: int) -> float:
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
        "numpy copy": median_rate(lambda: np.copyto(b, a), 16 * n, runs),
        "numpy add": median_rate(lambda: np.add(b, c, out=a), 24 * n, runs),
        f"numba copy ({threads} threads)": median_rate(lambda: copy(a, b), 16 * n, runs),
        f"numba triad ({threads} threads)": median_rate(lambda: triad(a, b, c, 3.0), 24 * n, runs),
    }


def cache_path() -> Path:
    """The JSON file holding the measured figures (the benchmarks share it)."""
    return Path(config.cache_dir()) / "bandwidth.json"


def machine_key() -> str:
    return f"{platform.node()}/{os.cpu_count()}cpu"


def read_cache(path: str | os.PathLike | None = None) -> dict:
    """The cache file's entries by key ({} when missing or unreadable)."""
    try:
        data = json.loads(Path(path or cache_path()).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_cache_entry(key: str, entry: dict, path: str | os.PathLike | None = None) -> None:
    """Store `entry` under `key`, keeping the other entries (atomically replaced)."""
    path = Path(path or cache_path())
    data = read_cache(path)
    data[key] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


def measure_bandwidth(remeasure: bool = False, *, path: str | os.PathLike | None = None,
                      array_bytes: int = DEFAULT_ARRAY_BYTES, save: bool = True,
                      stream: Callable[[], dict[str, float]] | None = None) -> float:
    """Memory bandwidth in GB/s: the best median of the STREAM kernels.

    Cached under this host and CPU count after the first measurement
    (`remeasure=True` refreshes it; `save=False` measures, when nothing is
    cached, without writing). `stream() -> {kernel: GB/s}` replaces
    `run_stream(array_bytes)`, e.g. to repeat a run disturbed by other processes.
    """
    key = machine_key()
    entry = read_cache(path).get(key)
    if not remeasure and isinstance(entry, dict):
        try:
            return float(entry["gbps"])
        except (KeyError, TypeError, ValueError):
            pass  # unreadable: measure again
    kernels = stream() if stream is not None else run_stream(array_bytes)
    gbps = max(kernels.values())
    if save:
        write_cache_entry(key, {"gbps": gbps, "kernels": kernels, "array_bytes": array_bytes,
                                "measured_at": time.strftime("%Y-%m-%d %H:%M:%S")}, path)
    return gbps


def cached_kernels(path: str | os.PathLike | None = None) -> dict[str, float]:
    """The per-kernel figures stored beside the cached bandwidth ({} if none)."""
    entry = read_cache(path).get(machine_key())
    return dict(entry.get("kernels", {})) if isinstance(entry, dict) else {}
