"""Compile time of large graphs: seconds per stage and how they grow.

    python -m benchmarks.compile_time [--sizes 100,1000,10000] [--only chain-vg,wide-fwd]
                                      [--timeout 600] [--no-w5] [--jit-off]

Every measurement runs in a new process with a fresh, empty kernel cache
(TRACEAD_CACHE_DIR and NUMBA_CACHE_DIR in a temporary directory), so it is a
cold compile: trace + passes + fusion plan + code generation + Numba/LLVM.
Graphs (n = operations in the user's function):
  chain   x -> tanh(0.9 * x + 0.1) repeated: n elementwise ops in a row, summed
  wide    n/3 independent terms tanh(c_i * x) + ..., summed (one wide kernel)
each forward only (`fwd`) or as `value_and_grad` (`vg`: the joint graph,
about three times the nodes). W5 is the cold first call of the W2 training
step in a new process (benchmarks.child), then warm (the cache it left).

Printed per graph: nodes traced, seconds of trace / passes / plan / codegen /
LLVM / cache load (the variant's compile ledger), kernels compiled and
loaded, the first call, and the growth exponent of the first call between
consecutive sizes (log t2/t1 / log n2/n1).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

GRAPHS = ("chain-fwd", "chain-vg", "wide-fwd", "wide-vg")
SIZE = 1000  # elements of the input vector: small, so kernels run serial and compile is what we time


def build(graph: str, n: int):
    import numpy as np

    import tracead as ta

    shape, mode = graph.split("-")

    def chain(x):
        for _ in range(n // 3):
            x = ta.tanh(x * 0.9 + 0.1)
        return x.sum()

    def wide(x):
        total = None
        for i in range(n // 3):
            term = ta.tanh(x * (1.0 + 0.001 * i))
            total = term if total is None else total + term
        return total.sum()

    def body(x):  # one elementwise kernel of n statements (the --curve measurement)
        for _ in range(n // 3):
            x = ta.tanh(x * 0.9 + 0.1)
        return x

    if shape == "body":
        from tracead.plan import fuse, split

        for module in (fuse, split):  # no cut: measure one kernel of n nodes
            module.MAX_KERNEL_NODES = module.MAX_KERNEL_COST = 10 ** 9
        return body, np.linspace(-1.0, 1.0, SIZE)
    fn = chain if shape == "chain" else wide
    return (ta.value_and_grad(fn) if mode == "vg" else fn), np.linspace(-1.0, 1.0, SIZE)


def _cpu() -> float:
    """CPU seconds of this process and its finished children (compile workers)."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _children_cpu() -> float:
    """CPU seconds of this process's finished children (the W5 processes)."""
    import resource

    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return kids.ru_utime + kids.ru_stime


def child(graph: str, n: int, jit: bool) -> dict:
    """One cold compile in this process (the parent set a fresh cache dir)."""
    start = time.perf_counter()
    import tracead as ta

    imported = time.perf_counter() - start
    fn, x = build(graph, n)
    # the curve measures one kernel in this process: no compile workers
    f = ta.compile(fn, jit=jit, **({"compile_workers": 0} if graph.startswith("body") else {}))
    t0, c0 = time.perf_counter(), _cpu()
    f(x)
    first, first_cpu = time.perf_counter() - t0, _cpu() - c0
    t0 = time.perf_counter()
    f(x)
    second = time.perf_counter() - t0
    variant = f.order[-1]
    out = {"graph": graph, "n": n, "jit": jit, "import_s": imported, "first_call_s": first,
           "first_call_cpu_s": first_cpu,
           "second_call_s": second, "nodes": len(variant.capture.graph.nodes),
           "stages": dict(variant.seconds)}
    ledger = getattr(variant, "ledger", None)
    if ledger is not None:
        out["ledger"] = ledger.as_dict()
    return out


def run_child(graph: str, n: int, jit: bool, timeout: float) -> dict:
    root = tempfile.mkdtemp(prefix="tracead-compile-time-")
    env = dict(os.environ, TRACEAD_CACHE_DIR=os.path.join(root, "tracead"),
               NUMBA_CACHE_DIR=os.path.join(root, "numba"))
    env.pop("TRACEAD_DEBUG", None)
    cmd = [sys.executable, "-m", "benchmarks.compile_time", "--child", graph, str(n)] + \
          ([] if jit else ["--jit-off"])
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if proc.returncode or not lines:
            return {"graph": graph, "n": n, "error": (proc.stderr or proc.stdout).strip()[-400:]}
        return json.loads(lines[-1])
    except subprocess.TimeoutExpired:
        return {"graph": graph, "n": n, "error": f"timeout after {timeout:.0f} s"}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def w5(timeout: float) -> tuple[dict, dict]:
    """Cold, then warm, first call of the W2 step in new processes (as `python -m benchmarks`)."""
    root = tempfile.mkdtemp(prefix="tracead-compile-time-w5-")
    env = dict(os.environ, TRACEAD_CACHE_DIR=os.path.join(root, "tracead"),
               NUMBA_CACHE_DIR=os.path.join(root, "numba"))
    cmd = [sys.executable, "-m", "benchmarks.child", "--module", "benchmarks.tracead_impls",
           "--case", "W2 B=1024", "--impl", "tracead numba"]
    runs = []
    try:
        for _ in range(2):
            start, cpu = time.perf_counter(), _children_cpu()
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
            wall = time.perf_counter() - start
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
            out = json.loads(lines[-1]) if lines else {"error": proc.stderr.strip()[-400:]}
            out["process_wall_s"] = wall
            out["process_cpu_s"] = _children_cpu() - cpu  # the whole process, imports included
            runs.append(out)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return runs[0], runs[1]


CURVE_SIZES = (24, 48, 96, 192, 384, 768, 1536)


def curve(timeout: float, repeats: int = 3) -> int:
    """Median first-call CPU seconds (codegen + Numba + LLVM; CPU time, as the machine
    is shared) of one elementwise kernel of n statements (n/3 tanh, n/3 mul, n/3 add),
    and per statement: where it climbs is split.MAX_KERNEL_COST's knee."""
    import statistics

    print(f"{'statements':>10}{'weight':>8}{'cpu s':>8}{'ms/statement':>14}{'ms/weight':>11}"
          f"   (median of {repeats}, fresh cache)")
    for n in CURVE_SIZES:
        runs = [run_child("body-fwd", n, True, timeout) for _ in range(repeats)]
        ok = [r["first_call_cpu_s"] for r in runs if "error" not in r]
        if not ok:
            print(f"{n:>10}  error: {runs[-1]['error'][-200:]}")
            continue
        med, weight = statistics.median(ok), n // 3 * 10
        print(f"{n:>10}{weight:>8}{med:>8.2f}{med / n * 1e3:>14.1f}{med / weight * 1e3:>11.1f}", flush=True)
    return 0


def _fmt(seconds) -> str:
    return "—" if seconds is None else f"{seconds:.2f}"


def row_text(r: dict) -> str:
    if "error" in r:
        return f"{r['graph']:<10}{r['n']:>7}  error: {r['error'].splitlines()[-1] if r['error'] else ''}"
    st, led = r.get("stages", {}), r.get("ledger", {})
    stage = led.get("stages", {})
    kernels = led.get("kernels", {})
    return (f"{r['graph']:<10}{r['n']:>7}{r['nodes']:>7}"
            f"{_fmt(st.get('trace')):>8}{_fmt(st.get('passes')):>8}"
            f"{_fmt(stage.get('plan')):>8}{_fmt(stage.get('codegen')):>8}"
            f"{_fmt(stage.get('llvm')):>8}{_fmt(stage.get('cache load')):>8}"
            f"{_fmt(st.get('backend')):>9}{_fmt(r['first_call_s']):>9}{_fmt(r.get('first_call_cpu_s')):>8}"
            f"{kernels.get('compiled', '—'):>6}/{kernels.get('loaded', '—'):<5}")


def exponent(rows: list[dict], graph: str) -> str:
    pts = [(r["n"], r["first_call_s"]) for r in rows if r["graph"] == graph and "error" not in r]
    parts = []
    for (n1, t1), (n2, t2) in zip(pts, pts[1:]):
        parts.append(f"{n1}->{n2}: {math.log(t2 / t1) / math.log(n2 / n1):.2f}")
    return ", ".join(parts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", nargs=2, metavar=("GRAPH", "N"), help=argparse.SUPPRESS)
    ap.add_argument("--sizes", default="100,1000,10000")
    ap.add_argument("--only", default=",".join(GRAPHS), help="graphs: " + ", ".join(GRAPHS))
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per measurement")
    ap.add_argument("--jit-off", action="store_true", help="jit=False: trace, passes, plan, codegen only")
    ap.add_argument("--no-w5", action="store_true")
    ap.add_argument("--curve", action="store_true",
                    help="compile seconds of one elementwise kernel vs its statements (the split knee)")
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]), not args.jit_off)))
        return 0
    if args.curve:
        return curve(args.timeout)
    sizes = [int(s) for s in args.sizes.split(",")]
    graphs = [g for g in args.only.split(",") if g]
    print(f"{'graph':<10}{'n':>7}{'nodes':>7}{'trace':>8}{'passes':>8}{'plan':>8}{'codegen':>8}"
          f"{'llvm':>8}{'load':>8}{'backend':>9}{'first':>9}{'(cpu)':>8}  compiled/loaded"
          f"   (seconds; fresh cache)")
    rows = []
    for graph in graphs:
        for n in sizes:
            rows.append(run_child(graph, n, not args.jit_off, args.timeout))
            print(row_text(rows[-1]), flush=True)
    print("growth exponent of the first call:")
    for graph in graphs:
        print(f"  {graph:<10} {exponent(rows, graph)}")
    if not args.no_w5 and not args.jit_off:
        cold, warm = w5(args.timeout)
        print(f"W5 (W2 B=1024 step, new process): cold first call {_fmt(cold.get('first_call_s'))} s, "
              f"warm first call {_fmt(warm.get('first_call_s'))} s (warm process incl. imports "
              f"{_fmt(warm.get('process_s'))} s); CPU of the whole process: cold "
              f"{_fmt(cold.get('process_cpu_s'))} s, warm {_fmt(warm.get('process_cpu_s'))} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
