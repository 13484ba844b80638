"""Fusing an elementwise chain: GELU-and-friends, value and gradient.

Eager mode makes one NumPy pass (and one temporary array) per op, forward and
backward; the compiled function fuses the joint forward+backward graph into a
couple of loops. Prints the time per call of both and the speedup.

    python examples/elementwise_fusion.py [N]
"""
import sys
import time

import numpy as np

import tracead as ta


def loss(x):
    return (ta.tanh(x) * ta.sigmoid(x) + 0.5 * x * x * ta.exp(-x * x) + ta.gelu(x)).sum()


def median_time(fn, *args, repeat: int = 7) -> float:
    fn(*args)  # warm-up (and, for the compiled one, compile)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    x = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    eager = ta.value_and_grad(loss)
    compiled = ta.compile(ta.value_and_grad(loss))
    (_, g1), _ = eager(x), compiled(x)
    _, g2 = compiled(x)
    rel = float(np.max(np.abs(g1.numpy() - g2.numpy())) / np.max(np.abs(g1.numpy())))
    t_eager, t_comp = median_time(eager, x), median_time(compiled, x)
    print(f"N={n} float32: eager {t_eager * 1e3:.2f} ms, compiled {t_comp * 1e3:.2f} ms, "
          f"speedup {t_eager / t_comp:.1f}x (max rel. grad difference {rel:.1e})")
    report = ta.explain(compiled, x)
    print(report.summary())


if __name__ == "__main__":
    main()
