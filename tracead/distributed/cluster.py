"""Ray, loaded lazily: starting it, checking its CPUs, and the workers' environment.

`import tracead` (and `import tracead.distributed`) never imports Ray; only
building a `DataParallel` does, so Ray stays an optional dependency
(`pip install 'tracead[distributed]'`).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from .. import config

# One thread per worker: N workers each running Numba's, OpenMP's or BLAS's
# default pool (one thread per core) would oversubscribe the machine N times.
_THREAD_VARS = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
_PASSED_THROUGH = ("TRACEAD_DISABLE", "TRACEAD_DEBUG", "TRACEAD_MAX_VARIANTS")


def import_ray():
    try:
        import ray
    except ImportError as exc:
        raise ImportError("tracead.distributed needs Ray: pip install 'tracead[distributed]' "
                          "(or pip install ray)") from exc
    return ray


def ensure_started(address: str | None):
    """Ray, initialised: joins `address` ("auto", "ray://...") or starts a local cluster.

    Returns (ray, started): started is True if this call started Ray (so the
    caller shuts it down again).
    """
    ray = import_ray()
    if ray.is_initialized():
        return ray, False
    ray.init(address=address, include_dashboard=False, log_to_driver=True)
    return ray, True


def check_cpus(ray, num_workers: int, cpus_per_worker: float) -> None:
    total = ray.cluster_resources().get("CPU", 0.0)
    needed = num_workers * cpus_per_worker
    if needed > total:
        raise ValueError(
            f"DataParallel: {num_workers} workers x {cpus_per_worker:g} CPU each need {needed:g} "
            f"CPUs, but the Ray cluster has {total:g}. Use fewer workers, fewer CPUs per worker, "
            f"or a bigger cluster (ray.init(num_cpus=...), more nodes with `ray start`).")


def worker_env(threads_per_worker: int) -> dict[str, str]:
    """Environment for the worker processes: same tracead, same kernel cache, few threads."""
    package_root = str(Path(__file__).resolve().parents[2])  # the directory holding tracead/
    paths = [package_root] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    # The user's own directories on sys.path (not the interpreter's), so a worker
    # on this machine can import what the driver imports: loss functions and
    # factories defined in the user's modules are pickled by reference.
    prefixes = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    paths += [os.path.abspath(p) for p in sys.path
              if p and os.path.isdir(p) and not any(os.path.realpath(p).startswith(x) for x in prefixes)]
    env = {"PYTHONPATH": os.pathsep.join(dict.fromkeys(paths)),
           # Workers on one machine share the content-addressed kernel cache, so
           # only the first compiles a kernel and the others load it.
           "TRACEAD_CACHE_DIR": os.path.abspath(config.cache_dir())}
    env.update((name, str(threads_per_worker)) for name in _THREAD_VARS)
    env.update((name, os.environ[name]) for name in _PASSED_THROUGH if name in os.environ)
    return env
