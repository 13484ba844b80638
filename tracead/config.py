"""Environment flags, read when used so tests can change them.

TRACEAD_DISABLE=1   every compiled function runs eagerly
TRACEAD_DEBUG=N     1 logs compiles and verifies the graph after each pass,
                    2 prints the graph after each pass,
                    3 prints generated kernel source
TRACEAD_MAX_VARIANTS  default variant limit per compiled function (8)
TRACEAD_PARALLEL_THRESHOLD  work above which a kernel runs parallel (default: the
                    measured codegen.PARALLEL_THRESHOLD; 0 makes every kernel
                    parallel, e.g. to test the parallel loops on small inputs;
                    the `parallel_threshold=` option of compile wins)
TRACEAD_BLAS_THREADS  cap on BLAS threads while a compiled call with a matmul runs
                    (unset: each compiled graph times its calls with BLAS's own
                    count and with 1 and keeps the faster, threads.BlasTuner;
                    needs threadpoolctl; see backends/numba/threads.py)
TRACEAD_CACHE_DIR   where the on-disk kernel cache lives (default ~/.cache/tracead;
                    unwritable: a private temporary directory, with a warning)
TRACEAD_CHECK=1|grad  check mode for every compiled function (runtime/check.py);
                    TRACEAD_CHECK_CALLS=N checks N calls per variant (default 3)
"""
from __future__ import annotations

import os
import sys


def disabled() -> bool:
    return os.environ.get("TRACEAD_DISABLE", "") not in ("", "0")


def debug_level() -> int:
    try:
        return int(os.environ.get("TRACEAD_DEBUG", "0"))
    except ValueError:
        return 0


def debug_log(level: int, message: str) -> None:
    if debug_level() >= level:
        print(message, file=sys.stderr)


def max_variants() -> int:
    return int(os.environ.get("TRACEAD_MAX_VARIANTS", "8"))


def parallel_threshold() -> int | None:
    value = os.environ.get("TRACEAD_PARALLEL_THRESHOLD", "")
    return int(value) if value else None


def blas_threads() -> int | None:
    value = os.environ.get("TRACEAD_BLAS_THREADS", "")
    if not value:
        return None
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"TRACEAD_BLAS_THREADS must be a positive integer, got {value!r}")
    return n


def cache_dir() -> str:
    """An absolute path; TRACEAD_CACHE_DIR unset or empty means ~/.cache/tracead (an
    empty value must not mean the working directory)."""
    configured = os.environ.get("TRACEAD_CACHE_DIR", "")
    if not configured:
        configured = os.path.join(os.path.expanduser("~"), ".cache", "tracead")
    return os.path.abspath(configured)
