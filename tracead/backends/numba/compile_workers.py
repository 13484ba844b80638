"""Cold compiles of one graph's kernels in worker processes (backend stage: compile).

Numba compiles under the GIL, so threads do not help. Instead, when a graph
has enough new kernels (estimated work over `threshold_seconds`), part of
them go to worker processes: each imports the kernel modules (the files
cache.py wrote) and compiles the signature the main process will ask for,
with `cache=True`, so the compiled code lands in the shared on-disk cache.
The main process compiles its own share meanwhile, waits, and then compiles
every kernel as usual: for the workers' kernels that is a cache load.

Robust by construction: a worker is only an accelerator of the disk cache.
If it fails, hangs (timeout: it is killed), or compiles nothing, the main
process's normal compile does the work in-process, with the same result.

    python -m tracead.backends.numba.compile_workers < jobs.json   # what a worker runs

A worker costs a Numba and tracead import to start, so it wins only when the
graph has several seconds of new kernels; below `THRESHOLD_SECONDS` everything
stays in-process (figures: benchmarks/NOTES.md, `python -m benchmarks.compile_time`).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass

THRESHOLD_SECONDS = 4.0  # estimated compile work below which no worker is started
START_SECONDS = 1.0  # what starting a worker costs (imports)


@dataclass(frozen=True, slots=True)
class Job:
    """One kernel signature to compile: the module file, its cache key, entry, argument types."""

    path: str
    key: str
    entry: str
    sig: tuple  # ((dtype str, ndim, layout), ...): steps.numba_signature
    seconds: float  # estimated compile time (for balancing and the threshold)


def estimate_seconds(weight: int) -> float:
    """CPU seconds to compile a kernel of `weight` (plan.split.compile_weight sums): a
    fixed cost plus a cost per weight, fitted to benchmarks/compile_curve.md."""
    return 0.15 + 0.004 * weight


def plan(jobs: list[Job], workers: int, threshold: float = THRESHOLD_SECONDS) -> tuple[list[Job], list[list[Job]]]:
    """(jobs for this process, jobs per worker): longest first to the least loaded, the
    main process starting START_SECONDS ahead; no worker when the work is small."""
    total = sum(j.seconds for j in jobs)
    if workers <= 0 or len(jobs) < 2 or total < threshold:
        return list(jobs), []
    loads = [0.0] + [START_SECONDS] * workers
    bins: list[list[Job]] = [[] for _ in loads]
    for job in sorted(jobs, key=lambda j: -j.seconds):
        k = min(range(len(loads)), key=loads.__getitem__)
        bins[k].append(job)
        loads[k] += job.seconds
    return bins[0], [b for b in bins[1:] if b]


def default_workers() -> int:
    return max((os.cpu_count() or 1) - 1, 0)


def start(jobs: list[Job]) -> subprocess.Popen | None:
    """A worker process compiling `jobs` (None if it could not start)."""
    payload = json.dumps([[j.path, j.key, j.entry, j.sig] for j in jobs])
    try:
        proc = subprocess.Popen([sys.executable, "-m", "tracead.backends.numba.compile_workers"],
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env=dict(os.environ))
        proc.stdin.write(payload.encode())
        proc.stdin.close()
        return proc
    except OSError:
        return None


def finish(procs: list[subprocess.Popen], timeout: float) -> int:
    """Wait for the workers (killing any still running after `timeout` seconds, from now);
    the number that succeeded. Whatever they did not compile, the caller compiles."""
    deadline = time.monotonic() + timeout
    ok = 0
    for proc in procs:
        try:
            ok += proc.wait(timeout=max(deadline - time.monotonic(), 0.1)) == 0
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return ok


def _work(payload: str) -> None:
    from . import cache
    from .steps import numba_signature

    for path, key, entry, sig in json.loads(payload):
        module = cache.import_module(path, key)
        getattr(module, entry).compile(numba_signature(sig))
        combine = getattr(module, entry + "_combine", None)  # a chunked reduction's (steps.FusedStep)
        if combine is not None:
            combine.compile(numba_signature(sig))


if __name__ == "__main__":
    _work(sys.stdin.read())
