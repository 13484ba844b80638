"""A learning-rate schedule through a compiled SGD step: float arguments as graph inputs.

    python -m benchmarks.lr_schedule [numba|interpret]

Trains a 784-128-10 MLP (batch 64, float32) for 10 steps with a new learning rate
each step, compiled with the default (`dynamic=None`: the float is a graph input)
and with `dynamic=False` (every float specialised, as before). Prints the variants
compiled and the wall time of the 10 steps (each first compile included), then the
per-call time of a step once compiled (minimum of 20 calls) for both. An untimed
warm-up compile first takes Numba's process start-up (imports, disk-cache loads) out.
"""
from __future__ import annotations

import sys
import time

import numpy as np

import tracead as ta


def _step_fn(model):
    def step(x, y, lr):
        loss = ta.nn.cross_entropy(model(x), y)
        for p in model.parameters():
            p.grad = None
        loss.backward()
        for p in model.parameters():
            p.assign_(p - lr * p.grad)
        return loss
    return step


def main(backend: str = "numba") -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 784)).astype(np.float32)
    y = rng.integers(0, 10, 64)
    lrs = [0.1 * 0.9 ** k for k in range(10)]
    for dynamic in (None, False):  # warm-up: Numba's imports and disk-cache loads, untimed
        ta.compile(_step_fn(ta.nn.MLP([784, 128, 10], seed=1)), backend=backend,
                   dynamic=dynamic)(x, y, 0.5)
    for dynamic in (None, False):
        model = ta.nn.MLP([784, 128, 10], seed=0)
        cf = ta.compile(_step_fn(model), backend=backend, dynamic=dynamic, max_variants=20)
        start = time.perf_counter()
        for lr in lrs:
            cf(x, y, lr)
        total = time.perf_counter() - start
        best = float("inf")
        for _ in range(20):
            t0 = time.perf_counter()
            cf(x, y, lrs[-1])
            best = min(best, time.perf_counter() - t0)
        print(f"dynamic={dynamic!s:5}  variants {len(cf.order):2}  10 steps {total:7.3f} s  "
              f"compiled step {best * 1e6:8.1f} us")


if __name__ == "__main__":
    main(*sys.argv[1:])
