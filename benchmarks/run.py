"""Benchmark runner: every workload x every installed peer, side by side in one process.

    python -m benchmarks [--only W1,W3] [--peers numpy,torch] [--quick]
                         [--no-memory] [--no-w5] [--no-isolation] [--target-seconds 1.5]

For each case and implementation: setup (the factory), first call (compile /
trace latency; its result is checked against the float64 reference), then
the steady state (`timing.measure`: median and IQR), with the implementations
of a case timed in interleaved rounds so the machine's noisy phases are shared. Afterwards, unless
disabled, each implementation's transient peak memory is measured in a
fresh child process, and W5 (first-call latency in new processes, cold and
warm on-disk caches) runs, and W2 is timed again with each of tracead numba
(alone, and with torch loaded and run) and torch.compile in its own process
(`isolation.py`). Results go to benchmarks/results/latest.{md,json}
and, with matplotlib, speedups.png.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from . import bandwidth, isolation, report, workloads
from .timing import CpuMonitor, measure, merge, time_once

RESULTS_DIR = Path(__file__).parent / "results"
REPO_ROOT = Path(__file__).parent.parent

# W5: per peer, the environment variable that moves its on-disk compile cache
# (a fresh directory per W5 run). Add tracead's here when it has one.
W5_CACHE_ENV = {
    "TORCHINDUCTOR_CACHE_DIR": "torchinductor",
    "NUMBA_CACHE_DIR": "numba",
    "JAX_COMPILATION_CACHE_DIR": "jax",
    "TRACEAD_CACHE_DIR": "tracead",
}
W5_FIXED_ENV = {
    "TORCHINDUCTOR_FX_GRAPH_CACHE": "1",
    "TORCHINDUCTOR_AUTOGRAD_CACHE": "1",
    "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
    "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
}


def prepare(case: workloads.Case, name: str, factory) -> tuple[dict[str, Any], Any]:
    """Build one implementation: time the factory and the first call, check the result."""
    row: dict[str, Any] = {"case": case.key, "workload": case.workload, "variant": case.variant,
                           "impl": name, "peer": workloads.peer_of(name),
                           "module": getattr(factory, "__module__", ""),
                           "note": getattr(factory, "note", "")}
    try:
        row["setup_s"], fn = time_once(lambda: factory(case))
        row["first_call_s"], result = time_once(fn)
        row.update(workloads.check(case, workloads.snapshot(case.workload, result)))
        return row, fn
    except Exception as exc:  # one broken peer must not stop the suite
        _record_error(row, exc)
        return row, None


def _record_error(row: dict[str, Any], exc: BaseException) -> None:
    row["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
    row["traceback"] = traceback.format_exc(limit=6)


def time_case(entries: list[tuple[dict[str, Any], Any]], target_seconds: float, rounds: int) -> None:
    """Time every built implementation of one case in `rounds` interleaved rounds (rotating order)."""
    live = [(row, fn) for row, fn in entries if fn is not None]
    parts: dict[int, list] = {id(row): [] for row, _ in live}
    for r in range(rounds):
        order = live[r % len(live):] + live[:r % len(live)] if live else []
        for row, fn in order:
            if "error" in row:
                continue
            try:
                parts[id(row)].append(measure(fn, target_seconds=target_seconds / rounds,
                                              warmup=2 if r == 0 else 1))
            except Exception as exc:
                _record_error(row, exc)
    for row, _ in live:
        if "error" not in row and parts[id(row)]:
            t = merge(parts[id(row)])
            row.update(median_s=t.median, iqr_s=t.iqr, samples=t.samples, number=t.number)


def run_child(row_or_target: dict[str, Any], quick: bool, env: dict[str, str], memory: bool = False,
              timeout: float = 600.0, extra: list[str] = ()) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.child", "--module", row_or_target["module"],
           "--case", row_or_target["case"], "--impl", row_or_target["impl"]]
    cmd += ["--quick"] if quick else []
    cmd += ["--memory"] if memory else []
    cmd += list(extra)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=REPO_ROOT, env={**os.environ, **env}, capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"child timed out after {timeout:.0f} s"}
    wall = time.perf_counter() - t0
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return {"error": f"child exit {proc.returncode}: {tail[0][:300]}"}
    out = json.loads(lines[-1])
    out["wall_s"] = wall
    return out


def measure_memory(rows: list[dict[str, Any]], quick: bool) -> None:
    """Transient peak bytes per call, each implementation in its own process (see timing.py)."""
    env = {"MALLOC_MMAP_THRESHOLD_": "65536"}
    for row in rows:
        if "median_s" not in row or row["workload"] == "W4":
            continue
        out = run_child(row, quick, env, memory=True)
        row["rss_peak"] = out.get("rss_peak")
        row["tracemalloc_peak"] = out.get("tracemalloc_peak")
        if "error" in out:
            row["memory_error"] = out["error"]
        print(f"  memory {row['case']:26s} {row['impl']:22s} "
              f"{report.fmt_bytes(row.get('rss_peak'))}", flush=True)


def w5_targets(rows: list[dict[str, Any]], case_keys: list[str],
               peers: set[str]) -> list[dict[str, Any]]:
    """Every implementation of the first W2 case, plus numba's W1 and W3 kernels (numba has no W2).

    Built from the registry, so `--only W5` works without the timing runs;
    in-process figures are attached when the timing rows exist.
    """
    first = {w: next((k for k in case_keys if k.startswith(w + " ")), None) for w in ("W1", "W2", "W3")}
    wanted = [(first["W2"], n) for n in workloads.IMPLEMENTATIONS["W2"]]
    wanted += [(first[w], n) for w in ("W1", "W3") for n in workloads.IMPLEMENTATIONS[w]
               if workloads.peer_of(n) == "numba"]
    targets = []
    for case, name in wanted:
        if case is None or (peers and workloads.peer_of(name) not in peers):
            continue
        row = next((r for r in rows if r["case"] == case and r["impl"] == name), None)
        if row is not None and "error" in row:
            continue
        factory = workloads.IMPLEMENTATIONS[case.split()[0]][name]
        targets.append({"case": case, "impl": name, "peer": workloads.peer_of(name),
                        "module": factory.__module__, "first_call_s": (row or {}).get("first_call_s"),
                        "median_s": (row or {}).get("median_s")})
    return targets


def run_w5(targets: list[dict[str, Any]], quick: bool) -> list[dict[str, Any]]:
    out = []
    for target in targets:
        cache_root = Path(tempfile.mkdtemp(prefix="tracead-bench-w5-"))
        env = {k: str(cache_root / v) for k, v in W5_CACHE_ENV.items()} | W5_FIXED_ENV
        try:
            cold = run_child(target, quick, env)
            warm = run_child(target, quick, env)
        finally:
            shutil.rmtree(cache_root, ignore_errors=True)
        entry = {"case": target["case"], "impl": target["impl"], "peer": target["peer"],
                 "in_process_first_call_s": target.get("first_call_s"),
                 "steady_median_s": target.get("median_s"), "cold": cold, "warm": warm}
        out.append(entry)
        print(f"  W5 {target['case']:12s} {target['impl']:22s} cold first call "
              f"{report.fmt_s(cold.get('first_call_s'))}, warm {report.fmt_s(warm.get('first_call_s'))}"
              + (f"  ({cold.get('error') or warm.get('error')})" if "error" in cold or "error" in warm else ""),
              flush=True)
    return out


# A case timed while other processes took more than this share of the CPUs
# is timed again (after waiting for quiet), up to --retries times.
BUSY_THRESHOLD = 0.15

THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS",
              "NUMEXPR_NUM_THREADS")


def limit_threads(n: int) -> None:
    """Give every peer n threads; must run before any peer is imported (children inherit it)."""
    for var in THREAD_ENV:
        os.environ[var] = str(n)
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                               f" --xla_cpu_multi_thread_eigen={'true' if n > 1 else 'false'}"
                               f" intra_op_parallelism_threads={n}").strip()


def wait_for_quiet(max_wait: float, threshold: float = 0.1) -> float:
    """Wait (up to max_wait s) for a 1 s window in which other processes use < threshold of the CPUs."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < max_wait:
        with CpuMonitor() as mon:
            time.sleep(1.0)
        if mon.foreign_share is None or mon.foreign_share < threshold:
            break
    waited = time.perf_counter() - t0
    if waited > 1.5:
        print(f"  (waited {waited:.0f} s for other processes to leave the CPUs)", flush=True)
    return waited


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="comma-separated workloads, e.g. W1,W3,W5")
    ap.add_argument("--peers", default="", help="comma-separated peers: numpy,python,numexpr,numba,torch,jax,tracead")
    ap.add_argument("--quick", action="store_true", help="small sizes, short timings, no memory/W5 (smoke test)")
    ap.add_argument("--target-seconds", type=float, default=None, help="timing budget per implementation")
    ap.add_argument("--rounds", type=int, default=None,
                    help="interleaved timing rounds per case (default 3; quick 1)")
    ap.add_argument("--threads", type=int, default=None,
                    help="threads per peer (sets OMP/BLAS/NUMBA/NUMEXPR/XLA limits; default: all cores)")
    ap.add_argument("--wait-quiet", type=float, default=None,
                    help="before each case wait up to this many s for other processes to go idle "
                         "(default 60; quick 0)")
    ap.add_argument("--retries", type=int, default=None,
                    help="re-time a case when other processes were busy during it (default 2; quick 0)")
    ap.add_argument("--no-memory", action="store_true", help="skip the per-implementation peak-memory children")
    ap.add_argument("--no-w5", action="store_true", help="skip the compile-latency children")
    ap.add_argument("--no-isolation", action="store_true",
                    help="skip timing W2 in separate processes (tracead alone / with torch loaded)")
    ap.add_argument("--remeasure-bandwidth", action="store_true")
    ap.add_argument("--bandwidth-cache", default=None, help="JSON cache file (default ~/.cache/tracead/bandwidth.json)")
    ap.add_argument("--out", default=str(RESULTS_DIR), help="directory for latest.md/json and speedups.png")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    only = {w.strip().upper() for w in args.only.split(",") if w.strip()}
    peers = {p.strip().lower() for p in args.peers.split(",") if p.strip()}
    target = args.target_seconds or (0.15 if args.quick else 2.0)
    rounds = args.rounds or (1 if args.quick else 3)
    started = time.time()
    load_start = os.getloadavg()

    if args.retries is None:
        args.retries = 0 if args.quick else 2
    wait_quiet = args.wait_quiet if args.wait_quiet is not None else (0.0 if args.quick else 60.0)
    if args.threads:
        limit_threads(args.threads)
    workloads.load_peers(verbose=True)
    if peers:
        for p in sorted(peers - {workloads.peer_of(n) for impls in workloads.IMPLEMENTATIONS.values() for n in impls}):
            print(f"skipped peer {p}: no implementation registered (not installed?)")
    if args.quick and not args.remeasure_bandwidth:
        bw = bandwidth.measure_bandwidth(args.bandwidth_cache, array_bytes=256 << 20, save=False)
    else:
        bw = bandwidth.measure_bandwidth(args.bandwidth_cache, remeasure=args.remeasure_bandwidth)
    sgemm = bandwidth.measure_sgemm_gflops(args.bandwidth_cache, remeasure=args.remeasure_bandwidth)
    print(f"memory bandwidth: {bw:.1f} GB/s; float32 matmul: {sgemm:.0f} GFLOP/s")

    rows: list[dict[str, Any]] = []
    cases = workloads.make_cases(args.quick)
    case_keys = [c.key for c in cases]
    for case in cases:
        if only and case.workload not in only:
            continue
        if wait_quiet:
            wait_for_quiet(wait_quiet)
        entries = []
        for name, factory in workloads.IMPLEMENTATIONS[case.workload].items():
            if not peers or workloads.peer_of(name) in peers:
                entries.append(prepare(case, name, factory))
                gc.collect()
        for attempt in range(args.retries + 1):
            with CpuMonitor() as mon:
                time_case(entries, target, rounds)
            busy = mon.foreign_share or 0.0
            if busy < BUSY_THRESHOLD or attempt == args.retries:
                break
            print(f"  other processes used {100 * busy:.0f}% of the CPUs: timing {case.key} again", flush=True)
            wait_for_quiet(max(wait_quiet, 30.0))
        for row, _ in entries:
            row["foreign_cpu"], row["steal_cpu"] = mon.foreign_share, mon.steal_share
            report.add_throughput(row, case, bw, sgemm)
            rows.append(row)
            print(report.progress_line(row), flush=True)
        del entries
        case.data.clear()  # free the inputs before the next case
        gc.collect()
    del cases

    if not args.quick and not args.no_memory and rows:
        print("peak memory (one child process per implementation):", flush=True)
        measure_memory(rows, args.quick)
    w5 = []
    if not args.quick and not args.no_w5 and (not only or "W5" in only):
        print("W5 compile latency (new processes, fresh cache dir: cold, then warm):", flush=True)
        w5 = run_w5(w5_targets(rows, case_keys, peers), args.quick)

    isolated = []
    if not args.quick and not args.no_isolation and (not only or "W2" in only):
        print("W2 in separate processes (tracead alone, tracead with torch loaded, torch.compile):", flush=True)
        isolated = isolation.run(case_keys, args.quick, run_child, peers, rounds=rounds)

    results = {"machine": report.machine_info(), "bandwidth_gbps": bw, "sgemm_gflops": sgemm,
               "bandwidth_kernels": bandwidth.cached_kernels(args.bandwidth_cache),
               "quick": args.quick, "target_seconds": target, "rounds": rounds,
               "threads": args.threads, "wait_quiet_s": wait_quiet, "rows": rows, "w5": w5, "isolated": isolated,
               "skipped": dict(workloads.SKIPPED), "wall_s": time.time() - started,
               "loadavg_start": load_start, "loadavg_end": os.getloadavg()}
    text = report.markdown(results) + "\n" + isolation.markdown(isolated)
    print()
    print(text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.md").write_text(text)
    (out / "latest.json").write_text(json.dumps(results, indent=1, default=str))
    png = report.plot_speedups(rows, out / "speedups.png")
    print(f"wrote {out / 'latest.md'}, {out / 'latest.json'}" + (f", {png}" if png else " (no chart)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
