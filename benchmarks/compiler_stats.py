"""What the compiler does to each reference workload: nodes, kernels, memory.

For W1-W4 (tracead's own implementations in tracead_impls.py), prints what
`ta.explain` reports: nodes traced, nodes after each pass, kernels, and the
memory plan's peak bytes against the naive one-buffer-per-value peak.

    python -m benchmarks.compiler_stats [--quick]
"""
from __future__ import annotations

import argparse

import numpy as np

import tracead as ta

from . import tracead_impls as impls
from .workloads import make_cases


def _step_fn(case):
    """The function and arguments explain should look at, per workload."""
    if case.workload == "W1":
        return ta.value_and_grad(impls.w1_loss), (case.data["x"],)
    if case.workload == "W3":
        return ta.value_and_grad(impls.w3_loss), (case.data["x"], case.data["y"],
                                                  np.float32(case.data["eps"]))
    if case.workload == "W4":
        return (ta.value_and_grad(impls.micrograd, argnums=(0, 1)),
                (np.asarray(case.data["a"]), np.asarray(case.data["b"])))
    params = [ta.tensor(p, requires_grad=True) for p in case.data["params"]]
    return impls.mlp_step(params, np.float32(case.data["lr"])), (case.data["X"], case.data["y"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes")
    args = ap.parse_args()
    print(f"{'workload':<24}{'traced':>7}  {'passes (nodes after each)':<44}{'kernels':>8}"
          f"{'naive MB':>10}{'planned MB':>11}{'ratio':>7}")
    for case in make_cases(quick=args.quick):
        if case.workload not in ("W1", "W2", "W3", "W4"):  # W5 is compile latency; W6/W7 step models
            continue
        fn, fargs = _step_fn(case)
        report = ta.explain(ta.compile(fn), *fargs)
        s = report.stats
        chain = " ".join(f"{r.name}:{r.nodes_after}" for g in report.parts for r in g.passes)
        ratio = s["peak_bytes_planned"] / s["peak_bytes_naive"] if s["peak_bytes_naive"] else 0
        print(f"{case.key:<24}{s['nodes_traced']:>7}  {chain:<44}{s['kernels']:>8}"
              f"{s['peak_bytes_naive'] / 1e6:>10.2f}{s['peak_bytes_planned'] / 1e6:>11.2f}{ratio:>7.2f}")


if __name__ == "__main__":
    main()
