"""Comparing a compiled value with its reference, for check mode.

Integers and bools must be equal. Floats may differ by rounding (fused
kernels contract and reorder sums) within a dtype's tolerance, scaled by the
largest finite magnitude of the reference so a sum that cancels is not
flagged for its absolute error; NaN must meet NaN, infinities must be equal,
and a zero must have the reference's sign (`relu` giving -0.0 is a bug:
1/x then gives -inf).
"""
from __future__ import annotations

import numpy as np

# dtype -> (rtol, atol relative to the reference's largest finite magnitude)
TOLERANCES = {np.dtype(np.float16): (1e-2, 1e-3), np.dtype(np.float32): (1e-4, 1e-5),
              np.dtype(np.float64): (1e-9, 1e-12)}


def _float(x) -> str:
    """repr that keeps -0.0 and nan visible."""
    return repr(x.item()) if isinstance(x, np.generic) else repr(x)


def mismatch(actual, expected) -> str | None:
    """None when `actual` matches `expected`, else where and how they differ."""
    a, e = np.asarray(actual), np.asarray(expected)
    if a.shape != e.shape:
        return f"shape {a.shape}, expected {e.shape}"
    if a.dtype != e.dtype:
        return f"dtype {a.dtype}, expected {e.dtype}"
    if a.size == 0:
        return None
    if a.dtype.kind != "f":
        bad = a != e
    else:
        bad = ~close(a, e)
    if not bad.any():
        return None
    idx = tuple(int(i) for i in np.argwhere(bad)[0])
    where = f" at index {list(idx)}" if idx else ""
    count = int(bad.sum())
    more = f" ({count} of {a.size} elements differ)" if count > 1 else ""
    return f"{_float(a[idx])}, expected {_float(e[idx])}{where}{more}"


def close(a: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Elementwise: equal within the dtype's tolerance, NaN- and signed-zero-aware."""
    rtol, atol = TOLERANCES.get(a.dtype, TOLERANCES[np.dtype(np.float64)])
    with np.errstate(all="ignore"):
        finite = np.isfinite(e)
        scale = max(1.0, float(np.abs(e[finite]).max())) if finite.any() else 1.0
        both_nan = np.isnan(a) & np.isnan(e)
        zeros = (a == 0) & (e == 0)
        exact = (a == e) & (~zeros | (np.signbit(a) == np.signbit(e)))
        near = finite & np.isfinite(a) & ~zeros & (np.abs(a - e) <= atol * scale + rtol * np.abs(e))
    return both_nan | exact | near
