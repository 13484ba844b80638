"""`python -m benchmarks.scaling`: data-parallel training steps on 1 and 2 Ray workers.

Two training steps, both compiled (`compile=True`), each timed three ways:
in one process without Ray (`ta.compile` of the whole step: the baseline,
run in a child process with one Numba/BLAS thread, like each worker), and
with `tracead.distributed.DataParallel` on 1 and on 2 workers:

- digits: MLP 64-128-64-10, Adam, batch 64 of scikit-learn's bundled digits
  (the `examples/data_parallel.py` model; 17 k parameters, 69 kB);
- W2: MLP 784-512-256-10, SGD, batch 1024 of random data (the W2 workload
  of `python -m benchmarks`; 536 k parameters, 2.1 MB).

Per configuration: steps per second (median step time), and the medians of
the driver-observed phases of a step (compute: shards out, forward+backward;
all-reduce: the tree sum of the gradients; apply: the optimizer update on
every replica), each worker's compile seconds and kernels loaded from the
shared cache. Also the object store's bandwidth on this machine (a put/get
of the gradients), the figure to replace by the network's on a multi-node
cluster. Results: printed, and written to benchmarks/results/scaling.md/.json.

    python -m benchmarks.scaling [--steps 60] [--workers 1,2]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import tracead as ta
from tracead import nn, optim

RESULTS = Path(__file__).resolve().parent / "results"


def loss_fn(model, x, y):
    return nn.cross_entropy(model(x), y)


def digits_case():
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = ((x - x.mean(0)) / (x.std(0) + 1e-8)).astype(np.float32)
    rng = np.random.default_rng(0)
    batches = []
    for _ in range(8):
        idx = rng.permutation(len(x))[:64]
        batches.append((x[idx], y[idx].astype(np.int64)))
    return {"name": "digits MLP 64-128-64-10, Adam, B=64", "sizes": [64, 128, 64, 10],
            "optimizer": "adam", "batches": batches}


def w2_case():
    rng = np.random.default_rng(2)
    batches = [(rng.standard_normal((1024, 784)).astype(np.float32),
                rng.integers(0, 10, 1024).astype(np.int64)) for _ in range(4)]
    return {"name": "W2 MLP 784-512-256-10, SGD, B=1024", "sizes": [784, 512, 256, 10],
            "optimizer": "sgd", "batches": batches}


class ModelFactory:
    """Picklable by reference (this module is importable in the workers)."""

    def __init__(self, sizes):
        self.sizes = sizes

    def __call__(self):
        return nn.MLP(self.sizes, seed=0)


class OptimizerFactory:
    def __init__(self, kind):
        self.kind = kind

    def __call__(self, model):
        if self.kind == "adam":
            return optim.Adam(model.parameters(), lr=3e-3)
        return optim.SGD(model.parameters(), lr=0.01)


def in_process(case, steps: int) -> dict:
    model = ModelFactory(case["sizes"])()
    opt = OptimizerFactory(case["optimizer"])(model)

    @ta.compile
    def train_step(x, y):
        opt.zero_grad()
        loss = loss_fn(model, x, y)
        loss.backward()
        opt.step()
        return loss

    batches = case["batches"]
    start = time.perf_counter()
    for x, y in batches[:2]:
        train_step(x, y)
    compile_seconds = time.perf_counter() - start
    times = []
    for i in range(steps):
        x, y = batches[i % len(batches)]
        t = time.perf_counter()
        train_step(x, y)
        times.append(time.perf_counter() - t)
    assert train_step.stats["hits"] >= steps and train_step.stats["eager_calls"] == 0
    step = statistics.median(times)
    return {"config": "1 process, 1 thread, no Ray", "steps_per_s": 1 / step, "step_ms": 1e3 * step,
            "compile_s": [compile_seconds]}


def in_child_process(case_name: str, steps: int) -> dict:
    """`in_process` in a new process whose thread pools have one thread, like a worker's."""
    from tracead.distributed.cluster import worker_env

    env = {**os.environ, **worker_env(threads_per_worker=1)}
    done = subprocess.run([sys.executable, "-m", "benchmarks.scaling", "--baseline", case_name,
                           "--steps", str(steps)], env=env, capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parents[1])
    return json.loads(done.stdout.strip().splitlines()[-1])


CASES = {"digits": digits_case, "w2": w2_case}


def data_parallel(case, workers: int, steps: int) -> dict:
    from tracead.distributed import DataParallel

    with DataParallel(loss_fn, ModelFactory(case["sizes"]), OptimizerFactory(case["optimizer"]),
                      num_workers=workers, compile=True) as dp:
        batches = case["batches"]
        for x, y in batches[:2]:  # compile (both halves), first joint call
            dp.step(x, y)
        warm = len(dp.timings)
        for i in range(steps):
            dp.step(*batches[i % len(batches)])
        timings = dp.timings[warm:]
        reports = dp.worker_reports()
        param_bytes = sum(v.nbytes for k, v in dp.state_dict().items() if k.startswith("model."))
    med = {phase: 1e3 * statistics.median(getattr(t, phase) for t in timings)
           for phase in ("total", "compute", "allreduce", "apply")}
    return {"config": f"DataParallel, {workers} worker{'s' * (workers > 1)}",
            "steps_per_s": 1e3 / med["total"], "step_ms": med["total"], "compute_ms": med["compute"],
            "allreduce_ms": med["allreduce"], "apply_ms": med["apply"],
            "compile_s": [r["compile_seconds"] for r in reports],
            "kernels_from_cache": [r["kernels_from_cache"] for r in reports],
            "param_bytes": param_bytes}


def object_store_bandwidth(nbytes: int = 64 * 2**20) -> float:
    """GB/s of moving an array through the object store between two processes on this node."""
    import ray

    @ray.remote(num_cpus=1)
    def touch(a):
        return float(a[0])

    array = np.ones(nbytes // 4, np.float32)
    ray.get(touch.remote(array))  # warm the worker
    samples = []
    for _ in range(3):
        t = time.perf_counter()
        ray.get(touch.remote(array))  # put (copy into shared memory) + task + read
        samples.append(time.perf_counter() - t)
    return nbytes / statistics.median(samples) / 1e9


def render(results: list[dict], bandwidth: float) -> str:
    lines = ["| workload | configuration | steps/s | step ms | compute ms | all-reduce ms | apply ms | "
             "compile s per worker | kernels from cache |", "|---|---|---:|---:|---:|---:|---:|---|---|"]
    for r in results:
        def fmt(key):
            return f"{r[key]:.2f}" if key in r else "—"
        lines.append(f"| {r['workload']} | {r['config']} | {r['steps_per_s']:.0f} | {r['step_ms']:.2f} | "
                     f"{fmt('compute_ms')} | {fmt('allreduce_ms')} | {fmt('apply_ms')} | "
                     f"{', '.join(f'{s:.2f}' for s in r['compile_s'])} | "
                     f"{', '.join(map(str, r.get('kernels_from_cache', []))) or '—'} |")
    lines.append(f"\nObject store, one node: {bandwidth:.2f} GB/s (64 MiB array to another process). "
                 f"Load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores.")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60, help="timed steps per configuration")
    parser.add_argument("--workers", default="1,2", help="worker counts, comma-separated")
    parser.add_argument("--baseline", choices=sorted(CASES), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.baseline:  # the child process of in_child_process
        print(json.dumps(in_process(CASES[args.baseline](), args.steps)))
        return 0
    import ray

    ray.init(include_dashboard=False, log_to_driver=False, object_store_memory=512 * 2**20)
    try:
        results = []
        for name, make_case in CASES.items():
            case = make_case()
            configs = [in_child_process(name, args.steps)]
            configs += [data_parallel(case, int(n), args.steps) for n in args.workers.split(",")]
            for r in configs:
                r["workload"] = case["name"]
                print(r, flush=True)
            results += configs
        bandwidth = object_store_bandwidth()
    finally:
        ray.shutdown()
    table = render(results, bandwidth)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "scaling.md").write_text(
        f"# Data-parallel scaling (`python -m benchmarks.scaling --steps {args.steps}`)\n\n{table}\n")
    (RESULTS / "scaling.json").write_text(json.dumps(
        {"results": results, "object_store_GBps": bandwidth, "steps": args.steps}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
