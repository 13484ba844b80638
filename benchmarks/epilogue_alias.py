"""Why W2's ReLU-backward `where` epilogue was slow: one array through two names.

    python -m benchmarks.epilogue_alias

The kernel is the one tracead generates for `where(mask, product, 0)` over a
1024x256 float32 matmul product (flat entry). Main-thread CPU time, median of
200 calls, buffers refilled before each call:

  apart      product and output are different arrays: LLVM's vectorised loop
  same array the output is the product's own array, passed as two arguments (the
             matmul epilogue before the fix): the run-time overlap check fails and
             the scalar fallback loop runs, one branch per element, which a random
             mask mispredicts half the time
  aliased    the same array, the loop reading it through the output's name
             (tracead's in-place epilogues now, writer.in_place): vectorised, but
             LLVM turns the select into a masked store, slow on AMD CPUs

Figures: benchmarks/NOTES.md, W2.
"""
from __future__ import annotations

import statistics
import time

import numpy as np
from numba import njit

SIZE = 1024 * 256


@njit(nogil=True, error_model="numpy")
def where_two_names(a0, a1, a2, out3):
    v2 = a2[0]
    for i0 in range(SIZE):
        v0 = a0[i0]
        v1 = a1[i0]
        out3[i0] = np.float32(v1 if v0 else v2)


@njit(nogil=True, error_model="numpy")
def where_one_name(a0, a1, a2, out3):
    a1 = out3  # in place: the caller passes one array for both
    v2 = a2[0]
    for i0 in range(SIZE):
        v0 = a0[i0]
        v1 = a1[i0]
        out3[i0] = np.float32(v1 if v0 else v2)


def cpu_ms(fn, mask, product, same: bool, repeat: int = 200) -> float:
    work, out, zero = np.empty_like(product), np.empty_like(product), np.zeros(1, np.float32)
    times = []
    for _ in range(repeat):
        np.copyto(work, product)
        start = time.thread_time()
        fn(mask, work, zero, work if same else out)
        times.append(time.thread_time() - start)
    expected = np.where(mask, product, np.float32(0))
    np.testing.assert_array_equal(work if same else out, expected)
    return statistics.median(times) * 1e3


def main() -> None:
    rng = np.random.default_rng(0)
    product = rng.standard_normal(SIZE).astype(np.float32)
    for name, mask in (("random mask", rng.random(SIZE) > 0.5), ("all true", np.ones(SIZE, bool))):
        print(f"{name}: apart {cpu_ms(where_two_names, mask, product, False):.3f} ms, "
              f"same array {cpu_ms(where_two_names, mask, product, True):.3f} ms, "
              f"aliased {cpu_ms(where_one_name, mask, product, True):.3f} ms")


if __name__ == "__main__":
    main()
