"""Rendering of benchmark results: progress lines, markdown, machine info, chart.

Ratios are speedups: time(baseline) / time(implementation), so > 1 means
faster than the baseline. "vs numpy" uses the hand-written NumPy peer (plain
Python for W4, which has no NumPy version); "vs torch.compile" the
torch.compile peer of the same case.
"""
from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

from tracead.units import bytes_text

from . import bandwidth
from .workloads import Case

ERROR_TOLERANCE = {"float32": 1e-3, "float64": 1e-9}


def fmt_s(s: float | None) -> str:
    if s is None:
        return "—"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.1f} µs"


def fmt_bytes(b: float | None) -> str:
    if b is None:
        return "—"
    return bytes_text(int(b))  # the library's one size formatter


def fmt_err(e: float | None) -> str:
    return "—" if e is None else f"{e:.1e}"


def add_throughput(row: dict[str, Any], case: Case, bw_gbps: float, sgemm_gflops: float | None = None) -> None:
    """Attach the traffic floor, achieved GB/s (share of bandwidth) and, for W2, GFLOP/s."""
    nbytes = bandwidth.traffic_bytes(case.workload, **case.params)
    row["floor_bytes"] = nbytes
    row["floor_s"] = nbytes / (bw_gbps * 1e9) if nbytes else None
    median = row.get("median_s")
    if median and nbytes:
        row["gbps"] = nbytes / median / 1e9
        row["bw_share"] = row["gbps"] / bw_gbps
    if median and case.workload == "W2":
        row["gflops"] = bandwidth.mlp_step_flops(case.params["batch"]) / median / 1e9
        if sgemm_gflops:
            row["flop_share"] = row["gflops"] / sgemm_gflops
    dtype = case.params.get("dtype", "float64" if case.workload == "W4" else "float32")
    tol = ERROR_TOLERANCE[dtype]
    row["tolerance"] = tol
    row["check_ok"] = "error" not in row and max(row.get("value_err", 0.0), row.get("grad_err", 0.0)) <= tol


def progress_line(row: dict[str, Any]) -> str:
    head = f"{row['case']:26s} {row['impl']:22s}"
    if "error" in row:
        return f"{head} FAILED {row['error']}"
    flag = "" if row.get("check_ok", True) else "  CHECK FAILED"
    return (f"{head} {fmt_s(row['median_s']):>10s} ±{fmt_s(row['iqr_s']):>9s}  first {fmt_s(row['first_call_s']):>9s}"
            f"  grad err {fmt_err(row.get('grad_err'))}{flag}")


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {"python": platform.python_version(), "cpus": os.cpu_count(),
                            "platform": platform.platform()}
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
    except (OSError, StopIteration):
        info["cpu"] = platform.processor()
    for mod in ("numpy", "numba", "numexpr", "torch", "jax", "tracead"):
        try:
            m = __import__(mod)
            info[mod] = getattr(m, "__version__", "?")
        except Exception:
            continue
    try:
        import numba
        info["numba_threads"] = numba.get_num_threads()
        info["numba_threading_layer"] = numba.threading_layer()
    except Exception:
        pass
    try:
        import torch
        info["torch_threads"] = torch.get_num_threads()
    except Exception:
        pass
    return info


def _baseline(rows: list[dict[str, Any]], case: str, names: tuple[str, ...]) -> float | None:
    for name in names:
        for r in rows:
            if r["case"] == case and r["impl"] == name and r.get("median_s"):
                return r["median_s"]
    return None


def _ratio(base: float | None, t: float | None) -> str:
    return f"{base / t:.2f}×" if base and t else "—"


def _throughput(r: dict[str, Any]) -> str:
    if r.get("gflops"):
        share = f" ({100 * r['flop_share']:.0f}%)" if r.get("flop_share") else ""
        return f"{r['gflops']:.0f} GFLOP/s{share}"
    if r.get("gbps"):
        return f"{r['gbps']:.1f} GB/s ({100 * r['bw_share']:.0f}%)"
    return "—"


def markdown(res: dict[str, Any]) -> str:
    rows, m = res["rows"], res["machine"]
    out = ["# tracead benchmark: peers side by side", ""]
    versions = ", ".join(f"{k} {m[k]}" for k in ("numpy", "numba", "numexpr", "torch", "jax", "tracead") if k in m)
    out.append(f"Machine: {m.get('cpu')}, {m.get('cpus')} CPUs, Python {m.get('python')}; {versions}; "
               f"torch threads {m.get('torch_threads', '—')}, numba {m.get('numba_threads', '—')} threads "
               f"({m.get('numba_threading_layer', '—')})"
               + (f"; every peer limited to {res['threads']} thread(s)" if res.get("threads") else "") + ".")
    kernels = ", ".join(f"{k} {v:.1f}" for k, v in res.get("bandwidth_kernels", {}).items())
    out.append(f"Memory bandwidth: **{res['bandwidth_gbps']:.1f} GB/s** (best median of STREAM kernels, "
               f"GB/s: {kernels or 'cached'}); float32 matmul (BLAS, 2048³): "
               f"**{res.get('sgemm_gflops') or 0:.0f} GFLOP/s**.")
    out.append(f"Times are medians per call ({'quick mode, ' if res['quick'] else ''}~{res['target_seconds']} s "
               f"of samples each in {res.get('rounds', 1)} interleaved rounds, warm-up excluded). Speedup columns: baseline time / this time "
               "(> 1 = faster). W4's baseline is plain Python.")
    out.append("")
    cases = list(dict.fromkeys(r["case"] for r in rows))
    impls = list(dict.fromkeys(r["impl"] for r in rows))
    if cases:
        out += ["## Summary: median time per call", ""]
        out.append("| implementation | " + " | ".join(cases) + " |")
        out.append("|---|" + "---:|" * len(cases))
    for impl in impls if cases else []:
        cells = []
        for case in cases:
            r = next((r for r in rows if r["case"] == case and r["impl"] == impl), None)
            cells.append("—" if r is None else ("failed" if "error" in r else fmt_s(r.get("median_s"))))
        out.append(f"| {impl} | " + " | ".join(cells) + " |")
    out.append("")
    for case in cases:
        crow = [r for r in rows if r["case"] == case]
        floor = crow[0].get("floor_s")
        title = f"### {case}"
        if floor:
            title += (f" — traffic floor {fmt_bytes(crow[0]['floor_bytes'])} → {fmt_s(floor)} "
                      f"at {res['bandwidth_gbps']:.1f} GB/s")
        foreign = crow[0].get("foreign_cpu")
        if foreign is not None:
            title += f" — other processes used {100 * foreign:.0f}% of the CPUs while it was timed"
        out += [title, "", "| implementation | median | IQR | vs numpy | vs torch.compile | first call | "
                "throughput | peak mem/call | value err | grad err |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        base_np = _baseline(rows, case, ("numpy", "python"))
        base_tc = _baseline(rows, case, ("torch.compile",))
        for r in crow:
            if "error" in r:
                out.append(f"| {r['impl']} | failed: {r['error'][:120]} |" + " |" * 8)
                continue
            flag = "" if r.get("check_ok", True) else " ⚠"
            out.append(f"| {r['impl']} | {fmt_s(r['median_s'])} | {fmt_s(r['iqr_s'])} | "
                       f"{_ratio(base_np, r['median_s'])} | {_ratio(base_tc, r['median_s'])} | "
                       f"{fmt_s(r['first_call_s'])} | {_throughput(r)} | {fmt_bytes(r.get('rss_peak'))} | "
                       f"{fmt_err(r.get('value_err'))} | {fmt_err(r.get('grad_err'))}{flag} |")
        out.append("")
    if res.get("w5"):
        out += ["## W5: compile latency (first call)", "",
                "In-process: the first call during this run (framework already imported, other graphs "
                "compiled). New process: a child imports only that peer; cold = empty on-disk caches, "
                "warm = the caches the cold child left (torch Inductor FX-graph + AOTAutograd caches, "
                "JAX persistent cache, Numba cache=True).", "",
                "| case | implementation | in-process | cold: import | cold: first call | warm: import | "
                "warm: first call | steady state |", "|---|---|---:|---:|---:|---:|---:|---:|"]
        for w in res["w5"]:
            c, h = w["cold"], w["warm"]
            err = c.get("error") or h.get("error")
            out.append(f"| {w['case']} | {w['impl']} | {fmt_s(w['in_process_first_call_s'])} | "
                       f"{fmt_s(c.get('import_s'))} | {fmt_s(c.get('first_call_s'))} | {fmt_s(h.get('import_s'))} | "
                       f"{fmt_s(h.get('first_call_s'))} | {fmt_s(w['steady_median_s'])} |"
                       + (f" {err}" if err else ""))
        out.append("")
    notes = dict.fromkeys(f"{r['workload']} {r['impl']}: {r['note']}" for r in rows if r.get("note"))
    out += ["## Notes", ""] + [f"- {n}" for n in notes]
    out.append("- Throughput: bytes that must be read/written at least once (benchmarks/bandwidth.py) / median, "
               "and its share of the measured bandwidth; W2 shows matmul GFLOP/s and its share of the "
               "measured float32 matmul rate instead. Peak mem/call: "
               "transient RSS high-water above the resident set, in a child process (benchmarks/timing.py).")
    out.append("- Errors: max|got - ref| / max|ref| against a float64 NumPy reference; ⚠ marks a result "
               "above the tolerance (1e-3 float32, 1e-9 float64). W2's gradient is recovered from the update.")
    for what, why in res.get("skipped", {}).items():
        out.append(f"- skipped {what}: {why.strip().splitlines()[0]}")
    for r in rows:
        if "error" in r:
            out.append(f"- {r['case']} {r['impl']} failed: {r['error']}")
    out.append(f"- Wall time of the run: {res['wall_s']:.0f} s; load average at start "
               f"{res['loadavg_start'][0]:.2f}, at end {res['loadavg_end'][0]:.2f}. The machine is shared: "
               "multi-threaded peers (torch, numba, XLA, numexpr) suffer most when another process takes a core.")
    return "\n".join(out) + "\n"


def plot_speedups(rows: list[dict[str, Any]], path: Path) -> Path | None:
    """Grouped horizontal bars: speedup over the numpy (W4: python) baseline, log scale."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    cases = list(dict.fromkeys(r["case"] for r in rows))
    impls = list(dict.fromkeys(r["impl"] for r in rows))
    if not any(r.get("median_s") for r in rows):
        return None
    fig, ax = plt.subplots(figsize=(12, 0.9 + 0.55 * len(cases) * max(1, len(impls)) / 3))
    height = 0.8 / max(1, len(impls))
    cmap = plt.get_cmap("tab20")
    for j, impl in enumerate(impls):
        ys, xs = [], []
        for i, case in enumerate(cases):
            r = next((r for r in rows if r["case"] == case and r["impl"] == impl), None)
            base = _baseline(rows, case, ("numpy", "python"))
            if r and r.get("median_s") and base:
                ys.append(i + j * height)
                xs.append(base / r["median_s"])
        ax.barh(ys, xs, height=height, label=impl, color=cmap(j % 20))
    ax.set_xscale("log")
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_yticks([i + 0.4 - height / 2 for i in range(len(cases))], cases)
    ax.invert_yaxis()
    ax.set_xlabel("speedup over hand-written NumPy (W4: plain Python), log scale; median per call")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
