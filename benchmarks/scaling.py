"""`python -m benchmarks.scaling`: data-parallel training steps on 1 and 2 Ray workers.

Two training steps, both compiled (`compile=True`), each timed three ways:
in one process without Ray (`ta.compile` of the whole step: the baseline;
this process, re-executed with one Numba/BLAS thread like each worker), and
with `tracead.distributed.DataParallel` on 1 and on 2 workers, the three
taking turns (`measure`) so that the shared machine's load hits them alike:

- digits: MLP 64-128-64-10, Adam, batch 64 of scikit-learn's bundled digits
  (the `examples/data_parallel.py` model; 17 k parameters, 69 kB);
- W2: MLP 784-512-256-10, SGD, batch 1024 of random data (the W2 workload
  of `python -m benchmarks`; 536 k parameters, 2.1 MB).

Per configuration: steps per second (median step time), and the medians of
the driver-observed phases of a step (compute: shards out, forward+backward;
all-reduce: the tree sum of the gradients; apply: the optimizer update on
every replica); the mean forward+backward time inside the slowest worker,
wall-clock and CPU (the CPU time is the work itself: on a busy machine the
wall-clock time adds the waits for a core; for the baseline, the CPU time of
its whole step); each worker's compile seconds and kernels loaded from the
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


class InProcess:
    """The baseline: the whole step `ta.compile`d, in this (1-thread) process, no Ray."""

    def __init__(self, case) -> None:
        model = ModelFactory(case["sizes"])()
        opt = OptimizerFactory(case["optimizer"])(model)

        def train_step(x, y):
            opt.zero_grad()
            loss = loss_fn(model, x, y)
            loss.backward()
            opt.step()
            return loss

        self.name, self.batches = "1 process, 1 thread, no Ray", case["batches"]
        self.step = ta.compile(train_step)
        start = time.perf_counter()
        for x, y in self.batches[:2]:  # compile, then the first compiled call
            self.step(x, y)
        self.compile_s = [time.perf_counter() - start]
        self.times: list[float] = []
        self.cpu_times: list[float] = []

    def run(self, steps: int) -> None:
        for i in range(steps):
            x, y = self.batches[i % len(self.batches)]
            t, cpu = time.perf_counter(), time.thread_time()
            self.step(x, y)
            self.times.append(time.perf_counter() - t)
            self.cpu_times.append(time.thread_time() - cpu)

    def result(self) -> dict:
        assert self.step.stats["eager_calls"] == 0 and self.step.stats["hits"] >= len(self.times)
        step = statistics.median(self.times)
        return {"config": self.name, "steps_per_s": 1 / step, "step_ms": 1e3 * step,
                "step_cpu_ms": 1e3 * statistics.median(self.cpu_times), "compile_s": self.compile_s}

    def close(self) -> None:
        pass


class Parallel:
    """`DataParallel` on `workers` Ray workers, compiled."""

    def __init__(self, case, workers: int) -> None:
        from tracead.distributed import DataParallel

        self.name = f"DataParallel, {workers} worker{'s' * (workers > 1)}"
        self.batches = case["batches"]
        self.dp = DataParallel(loss_fn, ModelFactory(case["sizes"]), OptimizerFactory(case["optimizer"]),
                               num_workers=workers, compile=True)
        for x, y in self.batches[:2]:
            self.dp.step(x, y)
        self.warm = len(self.dp.timings)
        self.warm_reports = self.dp.worker_reports()

    def run(self, steps: int) -> None:
        for i in range(steps):
            self.dp.step(*self.batches[i % len(self.batches)])

    def result(self) -> dict:
        timings = self.dp.timings[self.warm:]
        reports = self.dp.worker_reports()
        med = {phase: 1e3 * statistics.median(getattr(t, phase) for t in timings)
               for phase in ("total", "compute", "allreduce", "apply")}
        params = sum(v.nbytes for k, v in self.dp.state_dict().items() if k.startswith("model."))
        # Mean time of forward+backward inside the workers (the slowest worker per step is
        # what the driver waits for; the difference to compute_ms is Ray's and the shards').
        in_worker, in_worker_cpu = (
            max(1e3 * (r[key] - w[key]) / len(timings) for r, w in zip(reports, self.warm_reports))
            for key in ("gradient_seconds", "gradient_cpu_seconds"))
        return {"config": self.name, "steps_per_s": 1e3 / med["total"], "step_ms": med["total"],
                "compute_ms": med["compute"], "worker_fwd_bwd_ms": in_worker,
                "worker_fwd_bwd_cpu_ms": in_worker_cpu,
                "allreduce_ms": med["allreduce"],
                "apply_ms": med["apply"], "compile_s": [r["compile_seconds"] for r in reports],
                "kernels_from_cache": [r["kernels_from_cache"] for r in reports], "param_bytes": params}

    def close(self) -> None:
        self.dp.shutdown()


CASES = {"digits": digits_case, "w2": w2_case}


def measure(case, worker_counts: list[int], steps: int, rounds: int = 5) -> list[dict]:
    """Interleaved: every configuration runs steps/rounds steps per round, in turn, so
    the shared machine's load swings hit them all alike."""
    configs = [InProcess(case)] + [Parallel(case, n) for n in worker_counts]
    try:
        for _ in range(rounds):
            for config in configs:
                config.run(max(1, steps // rounds))
        return [dict(config.result(), workload=case["name"]) for config in configs]
    finally:
        for config in configs:
            config.close()


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


def in_worker(result: dict) -> str:
    if "step_cpu_ms" in result:  # the baseline: CPU time of its whole step
        return f" (CPU {result['step_cpu_ms']:.2f} whole step)"
    if "worker_fwd_bwd_ms" not in result:
        return ""
    return f" ({result['worker_fwd_bwd_ms']:.2f}, {result['worker_fwd_bwd_cpu_ms']:.2f})"


def render(results: list[dict], bandwidth: float, load: list[float]) -> str:
    lines = ["| workload | configuration | steps/s | step ms | compute ms (in worker: wall, CPU) | all-reduce ms | "
             "apply ms | compile s per worker | kernels from cache |",
             "|---|---|---:|---:|---:|---:|---:|---|---|"]
    for r in results:
        def fmt(key):
            return f"{r[key]:.2f}" if key in r else "—"
        lines.append(f"| {r['workload']} | {r['config']} | {r['steps_per_s']:.0f} | {r['step_ms']:.2f} | "
                     f"{fmt('compute_ms')}{in_worker(r)} | "
                     f"{fmt('allreduce_ms')} | {fmt('apply_ms')} | "
                     f"{', '.join(f'{s:.2f}' for s in r['compile_s'])} | "
                     f"{', '.join(map(str, r.get('kernels_from_cache', []))) or '—'} |")
    lines.append(f"\nObject store, one node: {bandwidth:.2f} GB/s (64 MiB array to another process). "
                 f"Load average (1 min) before/after: {load[0]:.1f}/{load[1]:.1f} on {os.cpu_count()} cores.")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help="timed steps per configuration")
    parser.add_argument("--workers", default="1,2", help="worker counts, comma-separated")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.workers.split(",")]
    import ray

    # Logical CPUs for all the configurations' workers at once (they take turns, see
    # `measure`): an idle actor uses no CPU.
    # Ray runs its workers at nice 15 by default; on a machine shared with other work
    # that starves them against this nice-0 baseline, so this run uses nice 0 throughout.
    ray.init(num_cpus=sum(counts), include_dashboard=False, log_to_driver=False,
             object_store_memory=512 * 2**20, _system_config={"worker_niceness": 0})
    load = [os.getloadavg()[0]]
    try:
        results = []
        for make_case in CASES.values():
            for r in measure(make_case(), counts, args.steps):
                print(r, flush=True)
                results.append(r)
        bandwidth = object_store_bandwidth()
    finally:
        ray.shutdown()
    load.append(os.getloadavg()[0])
    table = render(results, bandwidth, load)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "scaling.md").write_text(
        f"# Data-parallel scaling (`python -m benchmarks.scaling --steps {args.steps}`)\n\n{table}\n")
    (RESULTS / "scaling.json").write_text(json.dumps(
        {"results": results, "object_store_GBps": bandwidth, "steps": args.steps,
         "load_average": load}, indent=1))
    return 0


if __name__ == "__main__":
    # One thread per process, the baseline (this process) like every worker: set
    # before NumPy and Numba start their thread pools, hence the re-exec.
    from tracead.distributed.cluster import worker_env

    env = worker_env(threads_per_worker=1)
    if os.environ.get("OPENBLAS_NUM_THREADS") != "1":
        os.execve(sys.executable, [sys.executable, "-m", "benchmarks.scaling", *sys.argv[1:]],
                  {**os.environ, **env})
    raise SystemExit(main())
