"""W2 alone and with torch in the process: each implementation in its own child.

The main runner times every peer in one process, so its tracead W2 figure is
"with torch, JAX and numexpr loaded and their pools warm". A user's training
step usually runs without them, or with torch only. Here each W2 case is
timed in fresh processes (`child.py --steady`): tracead numba alone, tracead
numba after importing torch and running one op (its OpenMP pool started),
the same with BLAS capped at one thread inside compiled calls
(TRACEAD_BLAS_THREADS=1, see tracead/backends/numba/threads.py), and
torch.compile (torch always loaded). The three run in interleaved rounds
(rotating order) so the shared machine's noisy phases fall on all of them;
the figure per row is the median of the rounds' medians.
"""
from __future__ import annotations

import statistics
from typing import Any, Callable

from . import report, workloads

# (implementation, import torch and run one op first, extra environment, label)
TARGETS = (("tracead numba", False, {}, "tracead numba, alone"),
           ("tracead numba", True, {}, "tracead numba, torch loaded and run"),
           ("tracead numba", True, {"TRACEAD_BLAS_THREADS": "1"},
            "tracead numba, torch loaded, TRACEAD_BLAS_THREADS=1"),
           ("torch.compile", False, {}, "torch.compile (own process)"))


def targets(case_keys: list[str], peers: set[str] = frozenset()) -> list[dict[str, Any]]:
    """One entry per W2 case and TARGETS row whose implementation is registered (and peer chosen)."""
    impls = workloads.IMPLEMENTATIONS.get("W2", {})
    return [{"case": case, "impl": impl, "with_torch": with_torch, "env": env, "label": label,
             "module": impls[impl].__module__}
            for case in case_keys if case.startswith("W2 ")
            for impl, with_torch, env, label in TARGETS
            if impl in impls and (not peers or workloads.peer_of(impl) in peers)]


def run(case_keys: list[str], quick: bool, run_child: Callable[..., dict[str, Any]],
        peers: set[str] = frozenset(), rounds: int = 3, steady_s: float = 1.0) -> list[dict[str, Any]]:
    entries = targets(case_keys, peers)
    medians: dict[int, list[float]] = {i: [] for i in range(len(entries))}
    errors: dict[int, str] = {}
    for r in range(rounds):
        order = list(range(len(entries)))
        order = order[r % len(order):] + order[:r % len(order)] if order else []
        for i in order:
            extra = ["--steady", str(steady_s)] + (["--with-torch"] if entries[i]["with_torch"] else [])
            out = run_child(entries[i], quick, entries[i]["env"], extra=extra)
            if "error" in out:
                errors[i] = out["error"]
            elif out.get("median_s") is not None:
                medians[i].append(out["median_s"])
    rows = []
    for i, entry in enumerate(entries):
        row = {**entry, "rounds": medians[i]}
        row["median_s"] = statistics.median(medians[i]) if medians[i] else None
        if i in errors:
            row["error"] = errors[i]
        rows.append(row)
        print(f"  isolated {row['case']:10s} {row['label']:54s} {report.fmt_s(row['median_s'])}"
              + (f"  ({row['error']})" if "error" in row else ""), flush=True)
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    """A table per W2 case: time, and speed relative to torch.compile (>1: tracead faster)."""
    if not rows:
        return ""
    lines = ["## W2 alone and with torch loaded (one process per implementation)", "",
             "| case | implementation | median | torch.compile time / this |", "|---|---|---:|---:|"]
    for case in dict.fromkeys(r["case"] for r in rows):
        group = [r for r in rows if r["case"] == case]
        torch_s = next((r["median_s"] for r in group if r["impl"] == "torch.compile"), None)
        for r in group:
            ratio = f"{torch_s / r['median_s']:.2f}×" if torch_s and r["median_s"] else "—"
            lines.append(f"| {case} | {r['label']} | {report.fmt_s(r['median_s'])} | {ratio} |")
    return "\n".join(lines) + "\n"
