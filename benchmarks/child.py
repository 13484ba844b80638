"""One implementation in a fresh process: first-call latency (W5) and peak memory.

    python -m benchmarks.child --module benchmarks.peers_torch --case "W2 B=1024" \
        --impl torch.compile [--quick] [--memory] [--steady 1.0] [--with-torch]

Imports only the peer module that registered the implementation, builds the
case, and prints one JSON line: `import_s` (the peer module and its
framework), `setup_s` (the factory), `first_call_s` (trace + compile, or a
load from a warm on-disk cache), `second_call_s`, and with --memory the
`peak_memory` figures of two steady-state calls, with --steady S the
steady-state `median_s` over about S seconds. --with-torch imports torch and
runs one op first (its OpenMP pool started) before anything else, to time an
implementation sharing the process with torch (`isolation.py`). The parent
chooses the environment: cache directories for W5, MALLOC_MMAP_THRESHOLD_ for
memory.
"""
from __future__ import annotations

import time

_T_START = time.perf_counter()

import argparse  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--module", required=True)
    ap.add_argument("--case", required=True)
    ap.add_argument("--impl", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--memory", action="store_true")
    ap.add_argument("--steady", type=float, default=0.0, help="also time the steady state for ~S seconds")
    ap.add_argument("--with-torch", action="store_true", help="import torch and run one op first")
    args = ap.parse_args(argv)
    if args.with_torch:
        start_torch()

    from . import workloads
    from .timing import measure, peak_memory, time_once

    t0 = time.perf_counter()
    importlib.import_module(args.module)
    import_s = time.perf_counter() - t0
    case = next(c for c in workloads.make_cases(args.quick) if c.key == args.case)
    factory = workloads.IMPLEMENTATIONS[case.workload][args.impl]
    setup_s, fn = time_once(lambda: factory(case))
    first_s, result = time_once(fn)
    errors = workloads.check(case, workloads.snapshot(case.workload, result))
    del result
    second_s, _ = time_once(fn)
    out = {"import_s": import_s, "setup_s": setup_s, "first_call_s": first_s,
           "second_call_s": second_s, "process_s": time.perf_counter() - _T_START, **errors}
    if args.memory:
        out.update(peak_memory(fn))
    if args.steady:
        out["median_s"] = measure(fn, target_seconds=args.steady).median
    sys.stdout.write("\n" + json.dumps(out) + "\n")


def start_torch() -> None:
    """Import torch and run one matmul, so its OpenMP/BLAS pools exist and have run."""
    import torch

    a = torch.ones(256, 256)
    float((a @ a).relu().sum())


if __name__ == "__main__":
    main()
