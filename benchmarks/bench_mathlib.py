"""Benchmark tracead's vectorisable math (mathlib) against NumPy and Numba's math.*.

    python benchmarks/bench_mathlib.py [N]

For exp, log, tanh and sigmoid, float32 and float64, N = 4_000_000 elements,
prints the median time (ms) of:

  numpy        np.exp(x, out=out) (sigmoid: 1/(1+exp(-x)) with out= buffers)
  numba math   @njit range loop calling math.exp / math.log / math.tanh (libm)
  mathlib      the same loop calling fexp / flog / ftanh / fsigmoid
  mathlib par  the mathlib loop as numba.prange with parallel=True

All Numba kernels use error_model="numpy" so the sigmoid division carries no
ZeroDivisionError branch (which would stop vectorisation, see vectorcheck.py).
The vector width column is vectorcheck.vector_width of the mathlib kernel.
"""
from __future__ import annotations

import math
import statistics
import sys
import time
from pathlib import Path

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tracead.backends.numba.mathlib import fexp, flog, fsigmoid, ftanh  # noqa: E402
from tracead.backends.numba.vectorcheck import vector_width  # noqa: E402


def _math_sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


_math_sigmoid_jit = numba.njit(_math_sigmoid)


def _numpy_sigmoid(x, out):
    np.negative(x, out=out)
    np.exp(out, out=out)
    out += 1
    np.reciprocal(out, out=out)


CASES = {  # name: (numpy(x, out), libm scalar, mathlib scalar, input range)
    "exp": (lambda x, out: np.exp(x, out=out), math.exp, fexp, (-10.0, 10.0)),
    "log": (lambda x, out: np.log(x, out=out), math.log, flog, (1e-3, 100.0)),
    "tanh": (lambda x, out: np.tanh(x, out=out), math.tanh, ftanh, (-5.0, 5.0)),
    "sigmoid": (_numpy_sigmoid, _math_sigmoid_jit, fsigmoid, (-10.0, 10.0)),
}


def _loop(scalar, parallel: bool):
    if parallel:
        @numba.njit(parallel=True, error_model="numpy")
        def kernel(x, out):
            for i in numba.prange(x.size):
                out[i] = scalar(x[i])
    else:
        @numba.njit(error_model="numpy")
        def kernel(x, out):
            for i in range(x.size):
                out[i] = scalar(x[i])
    return kernel


def _median_ms(fn, x, out, repeat: int = 15) -> float:
    fn(x, out)  # compile / warm up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(x, out)
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def main(n: int = 4_000_000) -> None:
    rng = np.random.default_rng(0)
    print(f"N = {n:,}, median ms, {numba.config.NUMBA_NUM_THREADS} threads for 'par'")
    print(f"{'function':10s} {'dtype':8s} {'numpy':>8s} {'numba math':>11s} {'mathlib':>8s}"
          f" {'mathlib par':>12s} {'vs numpy':>9s} {'vs math':>8s} {'width':>6s}")
    for name, (np_fn, libm, fast, (lo, hi)) in CASES.items():
        libm_loop, fast_loop, par_loop = _loop(libm, False), _loop(fast, False), _loop(fast, True)
        for dtype in (np.float32, np.float64):
            x = rng.uniform(lo, hi, n).astype(dtype)
            out = np.empty_like(x)
            t_np = _median_ms(np_fn, x, out)
            t_libm = _median_ms(libm_loop, x, out)
            t_fast = _median_ms(fast_loop, x, out)
            t_par = _median_ms(par_loop, x, out)
            width = vector_width(fast_loop, fast_loop.signatures[-1])
            print(f"{name:10s} {np.dtype(dtype).name:8s} {t_np:8.2f} {t_libm:11.2f} {t_fast:8.2f}"
                  f" {t_par:12.2f} {t_np / t_fast:8.1f}x {t_libm / t_fast:7.1f}x {width:6d}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 4_000_000)
