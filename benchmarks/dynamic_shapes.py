"""Dynamic shapes: the kernels a dynamic variant runs against the static ones.

    TRACEAD_CACHE_DIR=$(mktemp -d) python -m benchmarks.dynamic_shapes [numba|interpret] [--quick]

(a fresh kernel cache: with a warm one, the "new size" kernels of an earlier run are
loaded from disk instead of compiled)

For W1-W3-like steps (W1's elementwise chain over a (B, 4096) batch, W2's
784-512-256-10 MLP SGD step, W3's layernorm + softmax cross-entropy over B rows)
with the batch size B changing:

- variants: what `dynamic=None` (automatic) and `dynamic=False` compile over a
  sweep of batch sizes (the last one ragged), and how many calls ran compiled;
- per call at one size, once compiled: the dynamic variant's instance against a
  `dynamic=False` variant at the same size, measured interleaved in one process
  (median of rounds; ratio dynamic / static);
- a new batch size: the first call of the dynamic function at a size nothing has
  compiled yet (instantiate the symbolic graph, plan, compile through the kernel
  cache; no trace) against a `dynamic=False` function's first call at another
  new size (trace, plan, compile).

The dynamic variant is instantiated per size (kernels specialised to each size,
served by the content-addressed kernel cache), so its kernels are the static
ones: the per-call ratio measures the runtime's overhead, not a different kernel.
"""
from __future__ import annotations

import statistics
import sys
import time
import warnings

import numpy as np

import tracead as ta
from benchmarks.tracead_impls import mlp_step, w1_loss, w3_loss
from benchmarks.workloads import init_mlp

SWEEP = [256, 192, 128, 320, 256, 64, 96, 160, 224, 288, 352, 57]


def _w1(backend, dynamic):
    f = ta.compile(ta.value_and_grad(w1_loss), backend=backend, dynamic=dynamic, max_variants=64)
    rng = np.random.default_rng(0)
    return f, lambda b: (rng.standard_normal((b, 4096)).astype(np.float32),)


def _w2(backend, dynamic):
    params = [ta.tensor(p, requires_grad=True) for p in init_mlp()]
    f = ta.compile(mlp_step(params, np.float32(0.01)), backend=backend, dynamic=dynamic, max_variants=64)
    rng = np.random.default_rng(2)
    return f, lambda b: (rng.standard_normal((b, 784)).astype(np.float32), rng.integers(0, 10, b))


def _w3(backend, dynamic):
    f = ta.compile(ta.value_and_grad(w3_loss), backend=backend, dynamic=dynamic, max_variants=64)
    rng = np.random.default_rng(3)
    return f, lambda b: ((2.0 * rng.standard_normal((b, 1024)) + 0.5).astype(np.float32),
                         rng.integers(0, 1024, b), np.float32(1e-5))


WORKLOADS = {"W1 (B, 4096) elementwise fwd+bwd": _w1, "W2 MLP 784-512-256-10 SGD step": _w2,
             "W3 layernorm + CE (B, 1024) fwd+bwd": _w3}


def _per_call(fns_args, rounds: int) -> list[float]:
    """Median seconds per call of each (fn, args), interleaved round by round (the order
    alternating, so neither always runs second, on warmer caches)."""
    samples = [[] for _ in fns_args]
    order = list(enumerate(fns_args))
    for _ in range(rounds):
        order.reverse()
        for k, (fn, args) in order:
            t0 = time.perf_counter()
            fn(*args)
            samples[k].append(time.perf_counter() - t0)
    return [statistics.median(s) for s in samples]


def _first_call(fn, args) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def run(backend: str = "numba", quick: bool = False) -> None:
    sweep = SWEEP[:6] if quick else SWEEP
    rounds = 15 if quick else 40
    print(f"backend {backend}; batch sizes {sweep}")
    print(f"{'workload':38} {'variants auto/static':>20} {'per call dyn':>12} {'static':>10} "
          f"{'ratio':>6} {'new size dyn':>12} {'static':>10}")
    for name, make in WORKLOADS.items():
        auto, data = make(backend, None)
        static, _ = make(backend, False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for b in sweep:
                args = data(b)
                auto(*args)
                static(*args)
        assert auto.stats["eager_calls"] == 0 and not auto.dynamic_off, auto.recompile_reasons
        # A size the dynamic variant serves by instantiation (the first size was a static
        # trace, the second the dynamic one), against a static variant there: interleaved
        # rounds, the lowest of three medians (the machine is shared).
        args = data(sweep[2])
        key = next(k for k, vs in auto.variants.items() if vs[0].dynamic is not None
                   and k[2][0][1][0] == sweep[2])
        assert auto.variants[key][0] not in auto.order  # an instance, not a traced variant
        runs = [_per_call([(auto, args), (static, args)], rounds) for _ in range(3)]
        dyn_t, static_t = min(r[0] for r in runs), min(r[1] for r in runs)
        # Sizes nobody has compiled (each function its own: the kernel cache would
        # otherwise serve the second one the first one's kernels): the first call.
        new_dyn, new_static = [], []
        for b in (sweep[0] + 8, sweep[0] + 40):
            new_dyn.append(_first_call(auto, data(b)))
            new_static.append(_first_call(static, data(b + 16)))
        variants = f"{len(auto.order)}/{len(static.order)}"
        print(f"{name:38} {variants:>20} {dyn_t * 1e3:10.3f}ms {static_t * 1e3:8.3f}ms "
              f"{dyn_t / static_t:6.2f} {statistics.median(new_dyn) * 1e3:10.1f}ms "
              f"{statistics.median(new_static) * 1e3:8.1f}ms")


if __name__ == "__main__":
    argv = [a for a in sys.argv[1:] if not a.startswith("--")]
    run(*(argv or ["numba"]), quick="--quick" in sys.argv)
