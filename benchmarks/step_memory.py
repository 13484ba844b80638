"""Peak memory per training step, eager vs compiled, for W2, W6 and W7; where the step's time goes.

    python -m benchmarks.step_memory [--only W2,W7] [--torch] [--profile]

Per case, deterministic figures first:
- `tracemalloc` peak of one steady-state step above what was resident before it
  (NumPy's allocator reports to tracemalloc, so this is every array a tracead
  step allocates; Numba's own allocations are not seen, and a compiled step
  makes none outside the planned buffers). The step alone: unlike the runner's
  W2 row it does not copy the parameters out afterwards.
- the compiled forward graph's memory plan: bytes allocated (planned) and the
  most bytes live at once;
- BLAS calls per step (matmul kernels, with their operand shapes, `T` marking
  an operand passed as a transposed view: NumPy hands it to gemm with a
  transpose flag, no copy) and opaque kernels that copy (reshape of a
  transposed view, im2col, col2im, ...), with the bytes every kernel reads and
  writes (the schedule's byte count).
--torch: torch eager's RSS high-water mark per step, in a child process (torch's
allocator is invisible to tracemalloc; RSS has page granularity and counts
allocator caching, so it is an upper bound, not the same measure).
--profile: `ta.profile`'s per-kernel times (noisy on a shared machine), summed
per kernel kind, and the slowest kernels.
"""
from __future__ import annotations

import argparse
import collections
import gc
import math
import tracemalloc

import numpy as np

import tracead as ta

from . import workloads as W
from .workloads_models import make_w6, make_w7


def _step(case, compiled: bool):
    """(step callable, its arguments): the training step a user writes, eager or compiled."""
    wrap = ta.compile if compiled else (lambda f: f)
    if case.workload == "W2":
        from .tracead_impls import mlp_step

        params = [ta.tensor(p, requires_grad=True) for p in case.data["params"]]
        f = wrap(mlp_step(params, np.float32(case.data["lr"])))
        return f, (case.data["X"], case.data["y"])
    from examples.char_gpt import CharGPT, make_step as gpt_step
    from examples.cnn_digits import SmallCNN, make_step as cnn_step

    d = case.data
    if case.workload == "W6":
        model, make = CharGPT(d["vocab"], d["d"], d["heads"], d["layers"], d["context"]), gpt_step
    else:
        model, make = SmallCNN(), cnn_step
    model.load_state_dict(d["params"])
    opt = ta.optim.AdamW(model.parameters(), lr=d["lr"], weight_decay=d["weight_decay"])
    x, y = d["x"], d["y"]
    f = wrap(make(model, opt))
    if not compiled:  # a compiled call turns NumPy arguments into Tensors; so does eager here
        x, y = ta.tensor(x), ta.tensor(y)
    return f, (x, y)


def step_peak(fn, args, calls: int = 2) -> int:
    """tracemalloc peak bytes of `calls` steps above the bytes traced before them.

    Tracing starts before two warm-up steps, so the parameters and optimizer state
    resident before the measured steps were allocated under tracing: the step that
    replaces them is seen to free them (traced from a later start, the old arrays'
    release would be invisible and each measured step would seem to keep one extra
    copy of every parameter)."""
    tracemalloc.start()
    try:
        fn(*args)
        fn(*args)
        gc.collect()
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        for _ in range(calls):
            out = fn(*args)
            del out
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def _shape(v, transposed: bool) -> str:
    return "x".join(map(str, v.shape)) + ("T" if transposed else "")


def schedule_summary(f) -> list[str]:
    """Memory plan, BLAS calls and copying opaque kernels of the compiled step's forward graph."""
    ex = f.order[-1].forward_exec
    plan, kernels = ex.memory_plan, ex.schedule.kernels
    producer = {v.id: k for k in kernels for v in k.outputs}

    def transposed(v) -> bool:
        k = producer.get(v.id)
        return k is not None and k.kind == "opaque" and k.nodes[0].prim.name == "transpose" \
            and v.id in plan.views

    blas = collections.Counter()
    copies = collections.Counter()
    moved = collections.Counter()
    for k in kernels:
        moved[k.kind] += sum(v.nbytes for v in k.inputs + k.outputs)
        node = k.nodes[0]
        if k.kind == "matmul":
            a, b = node.inputs
            blas[f"{_shape(a, transposed(a))} @ {_shape(b, transposed(b))}"] += 1
        elif k.kind == "opaque" and k.outputs[0].id not in plan.views:
            copies[node.prim.name] += 1
    lines = [f"  memory plan: {plan.peak_bytes_planned / 1e6:.2f} MB allocated, "
             f"{plan.peak_bytes_live / 1e6:.2f} MB live at most; {len(kernels)} kernels",
             f"  bytes read + written per step by kind (MB): "
             + ", ".join(f"{kind} {b / 1e6:.1f}" for kind, b in moved.most_common()),
             f"  BLAS calls ({sum(blas.values())}): " + ", ".join(
                 f"{s}" + (f" x{n}" if n > 1 else "") for s, n in blas.items()),
             "  opaque kernels with a result of their own: " + ", ".join(
                 f"{name} x{n}" for name, n in copies.most_common())]
    return lines


def profile_summary(f, args, top: int = 6) -> list[str]:
    report = ta.profile(f, *args, repeat=5, bandwidth=False)
    by_kind = collections.defaultdict(float)
    for k in report.kernels:
        by_kind[k.kind] += k.seconds
    total = sum(by_kind.values()) or math.nan
    lines = [f"  profile: eager {report.eager_seconds * 1e3:.2f} ms, compiled "
             f"{report.compiled_seconds * 1e3:.2f} ms per step (kernels sum {total * 1e3:.2f} ms)",
             "  time by kernel kind: " + ", ".join(
                 f"{kind} {s * 1e3:.2f} ms ({100 * s / total:.0f}%)"
                 for kind, s in sorted(by_kind.items(), key=lambda kv: -kv[1]))]
    for k in sorted(report.kernels, key=lambda k: -k.seconds)[:top]:
        lines.append(f"    {k.graph} kernel {k.index:>3} {k.kind:<11} {k.seconds * 1e6:8.1f} us  {k.ops[:70]}")
    return lines


def torch_rss(case) -> int | None:
    from .run import run_child

    out = run_child({"module": "benchmarks.peers_torch", "case": case.key, "impl": "torch eager"},
                    False, {"MALLOC_MMAP_THRESHOLD_": "65536"}, memory=True)
    return out.get("rss_peak")


def cases(only: set[str]) -> list:
    every = [W.make_w2(1024), W.make_w2(64), make_w6(W.Case), make_w7(W.Case)]
    return [c for c in every if not only or c.workload in only]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="comma-separated workloads (W2,W6,W7)")
    ap.add_argument("--torch", action="store_true", help="torch eager's RSS peak, in a child process")
    ap.add_argument("--profile", action="store_true", help="ta.profile per-kernel summary (timed)")
    args = ap.parse_args(argv)
    only = {w for w in args.only.split(",") if w}
    print(f"{'case':<14}{'eager MB':>10}{'compiled MB':>12}{'ratio':>7}{'torch RSS MB':>14}")
    for case in cases(only):
        eager = step_peak(*_step(case, compiled=False))
        f, fargs = _step(case, compiled=True)
        compiled = step_peak(f, fargs)
        torch = torch_rss(case) if args.torch else None
        torch_text = f"{torch / 1e6:14.2f}" if torch is not None else f"{'-':>14}"
        print(f"{case.key:<14}{eager / 1e6:10.2f}{compiled / 1e6:12.2f}{compiled / eager:7.2f}{torch_text}",
              flush=True)
        assert f.stats["hits"] >= 1 and not f.stats["eager_calls"]
        for line in schedule_summary(f):
            print(line)
        if args.profile:
            for line in profile_summary(f, fargs):
                print(line)


if __name__ == "__main__":
    main()
