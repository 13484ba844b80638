"""Per-call cost of a compiled call on tiny functions, where guards dominate.

    python -m benchmarks.call_overhead [numba|interpret]

For each case: the minimum over 300 batches of 500 calls (the minimum resists
other processes on a shared machine better than the median). Cases: no free
tensor; a closed-over tensor; a tensor reached through a dict and a list (its
path is looked up on every call); W4 (`value_and_grad` of the micrograd
example on 0-d arrays).
"""
from __future__ import annotations

import sys
import time

import numpy as np

import tracead as ta
from examples.micrograd_example import micrograd_example


def _cases():
    w = ta.tensor(np.ones(3))
    model = {"layers": [{"w": ta.tensor(np.ones(3))}]}
    x = np.ones(3)
    return [("no free tensor", lambda x: x * 2.0, (x,)),
            ("closed-over tensor", lambda x: x * w, (x,)),
            ("nested path", lambda x: x * model["layers"][0]["w"], (x,)),
            ("W4", ta.value_and_grad(micrograd_example, argnums=(0, 1)),
             (np.asarray(-4.0), np.asarray(2.0)))]


def main(backend: str = "numba") -> None:
    for name, fn, args in _cases():
        cf = ta.compile(fn, backend=backend)
        cf(*args)
        cf(*args)
        best = float("inf")
        for _ in range(300):
            start = time.perf_counter()
            for _ in range(500):
                cf(*args)
            best = min(best, (time.perf_counter() - start) / 500)
        assert cf.stats["misses"] == 1 and cf.stats["eager_calls"] == 0, cf.stats
        print(f"{backend:9s} {name:20s} {best * 1e6:6.2f} us/call", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
