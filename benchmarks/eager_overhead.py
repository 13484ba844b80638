"""Eager mode against its peers, side by side in one process (issue 15, deliverable 4).

    python -m benchmarks.eager_overhead [--rounds R] [--n N] [--only W1|W4] [--dtype float32]

Targets: W1 tracead eager <= 1.2x hand-written NumPy; W4 tracead eager <= torch
eager. The machine is shared, so the competitors are timed in interleaved
rounds (tracead, peer, tracead, peer, ...) and we report the median of each
one's pooled per-call samples and the median of the per-round ratios: a slow
phase of the machine hits both sides of a round alike.

The implementations are the benchmark runner's own (benchmarks/peers_*.py and
benchmarks/tracead_impls.py), so these figures are the runner's figures.
For a load-independent count of the per-op overhead, run W4 under callgrind:

    valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out \\
        python -m benchmarks.eager_overhead --callgrind W4
and read the total `Ir` (instructions) from `callgrind_annotate /tmp/cg.out | head`.
"""
from __future__ import annotations

import argparse
import statistics

import numpy as np

from . import timing
from .workloads import IMPLEMENTATIONS, check, load_peers, load_tracead, make_w1, make_w4

PAIRS = {"W1": ("tracead eager", "numpy"), "W4": ("tracead eager", "torch eager")}
TARGET = {"W1": 1.2, "W4": 1.0}


def _case(workload: str, n: int, dtype: str):
    return make_w1(n, np.dtype(dtype).type) if workload == "W1" else make_w4()


def side_by_side(workload: str, rounds: int, n: int, dtype: str) -> dict:
    case = _case(workload, n, dtype)
    ours_name, peer_name = PAIRS[workload]
    fns = {name: IMPLEMENTATIONS[workload][name](case) for name in (ours_name, peer_name)}
    for name, fn in fns.items():  # both give the right answer before we time them
        errs = check(case, fn())
        assert all(e < 1e-3 for e in errs.values()), (name, errs)
    per_round = {name: [] for name in fns}
    ratios = []
    target_seconds = 0.4 if workload == "W1" else 0.25
    for _ in range(rounds):
        got = {name: timing.measure(fn, target_seconds=target_seconds, warmup=1)
               for name, fn in fns.items()}
        for name, t in got.items():
            per_round[name].append(t)
        ratios.append(got[ours_name].median / got[peer_name].median)
    merged = {name: timing.merge(ts) for name, ts in per_round.items()}
    return {"workload": workload, "variant": case.variant, "ours": merged[ours_name].median,
            "peer": merged[peer_name].median, "peer_name": peer_name,
            "ratio": statistics.median(ratios), "ratios": ratios}


def _fmt(seconds: float) -> str:
    return f"{seconds * 1e3:8.2f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:8.1f} us"


def report(row: dict) -> str:
    ok = "meets" if row["ratio"] <= TARGET[row["workload"]] else "misses"
    spread = f"{min(row['ratios']):.2f}-{max(row['ratios']):.2f}"
    return (f"{row['workload']} {row['variant']:18s} tracead eager {_fmt(row['ours'])}  "
            f"{row['peer_name']} {_fmt(row['peer'])}  ratio {row['ratio']:.2f}x "
            f"(rounds {spread}; target <= {TARGET[row['workload']]}x: {ok})")


def callgrind_body(workload: str, calls: int) -> None:
    """A fixed number of eager calls, for instruction counts under valgrind."""
    case = _case(workload, 4096, "float32")
    fn = IMPLEMENTATIONS[workload]["tracead eager"](case)
    for _ in range(calls):
        fn()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--n", type=int, default=4_000_000)
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--only", choices=sorted(PAIRS))
    ap.add_argument("--callgrind", choices=sorted(PAIRS),
                    help="run only N tracead eager calls (see --calls) for valgrind")
    ap.add_argument("--calls", type=int, default=200)
    args = ap.parse_args()
    if args.callgrind:  # tracead alone: importing the peers would dwarf the calls
        load_tracead()
        callgrind_body(args.callgrind, args.calls)
        return
    load_peers(verbose=False)
    for workload in [args.only] if args.only else sorted(PAIRS):
        print(report(side_by_side(workload, args.rounds, args.n, args.dtype)), flush=True)


if __name__ == "__main__":
    main()
