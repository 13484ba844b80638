"""Accuracy, special values and vectorisation of tracead.backends.numba.mathlib.

Every function runs the way generated kernels use it: inside an @njit loop
over an array.  Errors are measured in ulp (distance between the integer
encodings of the floats) against
  * NumPy in the same dtype (the contract), and
  * a wider reference: NumPy in float64 for float32 inputs, np.longdouble for
    float64 inputs (80-bit on x86), rounded back; this is the real error.
"""
from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pytest
from numba import njit, prange

from tracead.backends.numba import mathlib
from tracead.backends.numba.mathlib import fexp, fexpm1, flog, flog1p, fsigmoid, ftanh
from tracead.backends.numba.reduce_steps import add_reassoc, fmaximum
from tracead.backends.numba.vectorcheck import analyse_asm, vector_report


def _drop_stale_numba_cache() -> None:
    """Numba's cache only watches this file, not mathlib.py: drop it when mathlib changes."""
    cache_dir = Path(__file__).parent / "__pycache__"
    stamp = cache_dir / "test_mathlib.mathlib-stamp"
    digest = hashlib.sha256(Path(mathlib.__file__).read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    for cached in cache_dir.glob("test_mathlib.*.nb[ic]"):
        cached.unlink()
    cache_dir.mkdir(exist_ok=True)
    stamp.write_text(digest)


_drop_stale_numba_cache()


# One kernel per function (a closure over the function would not be cacheable).
@njit(cache=True)
def _loop_exp(x, out):
    for i in range(x.size):
        out[i] = fexp(x[i])


@njit(cache=True)
def _loop_expm1(x, out):
    for i in range(x.size):
        out[i] = fexpm1(x[i])


@njit(cache=True)
def _loop_log(x, out):
    for i in range(x.size):
        out[i] = flog(x[i])


@njit(cache=True)
def _loop_log1p(x, out):
    for i in range(x.size):
        out[i] = flog1p(x[i])


@njit(cache=True)
def _loop_tanh(x, out):
    for i in range(x.size):
        out[i] = ftanh(x[i])


@njit(cache=True)
def _loop_sigmoid(x, out):
    for i in range(x.size):
        out[i] = fsigmoid(x[i])


@njit(cache=True, parallel=True)
def _ploop_exp(x, out):
    for i in prange(x.size):
        out[i] = fexp(x[i])


def _np_sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, x.dtype.type(1), e) / (1 + e)


# name: (kernel, NumPy reference, max ulp vs NumPy same dtype, max ulp vs wide reference)
CASES = {
    "exp": (_loop_exp, np.exp, 2, 1),
    "expm1": (_loop_expm1, np.expm1, 2, 2),
    "log": (_loop_log, np.log, 4, 1),  # NumPy's own float32 log is up to 3 ulp off
    "log1p": (_loop_log1p, np.log1p, 2, 1),
    "tanh": (_loop_tanh, np.tanh, 3, 2),
    "sigmoid": (_loop_sigmoid, _np_sigmoid, 3, 2),
}
DTYPES = (np.float32, np.float64)


def run(name: str, x: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    CASES[name][0](x, out)
    return out


def reference(name: str, x: np.ndarray, wide: bool) -> np.ndarray:
    ref = CASES[name][1]
    with np.errstate(all="ignore"):
        if wide:
            wider = np.float64 if x.dtype == np.float32 else np.longdouble
            return ref(x.astype(wider)).astype(x.dtype)
        return ref(x).astype(x.dtype)


def ulp_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a - b| in ulp; nan == nan and inf == inf count 0, nan vs number counts inf."""
    itype = np.int32 if a.dtype == np.float32 else np.int64
    lowest = np.iinfo(itype).min

    def ordered(v):  # monotone map float -> int (both zeros -> 0)
        bits = v.view(itype).astype(np.int64)
        return np.where(bits < 0, lowest - bits, bits)

    ka, kb = ordered(a), ordered(b)
    with np.errstate(over="ignore"):
        dist = np.abs(ka - kb).astype(np.float64)
    dist[(np.sign(ka) * np.sign(kb)) < 0] = np.inf  # opposite signs: never close
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    dist[nan_a != nan_b] = np.inf
    dist[nan_a & nan_b] = 0
    return dist


def samples(dtype, n: int = 100_000) -> np.ndarray:
    """Dense samples over the whole finite range, plus the interesting intervals."""
    rng = np.random.default_rng(1234)
    finfo = np.finfo(dtype)
    utype = np.uint32 if dtype == np.float32 else np.uint64
    bits = rng.integers(0, np.iinfo(utype).max, n, dtype=utype, endpoint=True).view(dtype)
    lo, hi = np.log(float(finfo.smallest_subnormal)), np.log(float(finfo.max))
    magnitudes = np.exp(rng.uniform(lo, hi, n)) * rng.choice([-1.0, 1.0], n)
    parts = [bits[np.isfinite(bits)], magnitudes,
             rng.uniform(-750, 750, n), rng.uniform(-110, 110, n), rng.uniform(-25, 25, n),
             rng.uniform(-1.5, 1.5, n), rng.uniform(-1e-3, 1e-3, n),
             rng.uniform(0.5, 2.0, n), rng.uniform(-1.0, -0.9, n)]
    with np.errstate(over="ignore"):
        return np.concatenate([p.astype(dtype) for p in parts])


def special_values(dtype) -> np.ndarray:
    f = np.finfo(dtype)
    tiny, sub = float(f.tiny), float(f.smallest_subnormal)
    values = [0.0, -0.0, math.inf, -math.inf, math.nan, float(f.max), -float(f.max),
              tiny, -tiny, sub, -sub, 3 * sub, tiny / 3, -tiny / 3, 1.0, -1.0, 0.5, -0.5,
              1e-30, -1e-30, 1e-8, -1e-8]
    if dtype == np.float32:  # exp / expm1 overflow and underflow thresholds, tanh clamp
        values += [88.72283, 88.72284, 89.0, 89.5, -87.33654, -87.33655, -103.27892,
                   -103.27893, -103.97207, -103.97208, -104.0, -104.5, 9.0, 9.5, 10.0, -20.0]
    else:
        values += [709.782712893384, 709.7827128933841, 710.0, 711.0, -708.3964185322641,
                   -708.3964185322642, -744.4400719213812, -745.1332191019411,
                   -745.1332191019412, -746.0, -747.0, 19.0, 22.0, 23.0, -40.0]
    values += [-v for v in values]
    return np.array(values, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", CASES)
def test_accuracy_dense(name, dtype):
    x = samples(dtype)
    out = run(name, x)
    assert out.dtype == x.dtype
    _, _, max_numpy, max_wide = CASES[name]
    for wide, limit in ((False, max_numpy), (True, max_wide)):
        dist = ulp_distance(out, reference(name, x, wide))
        worst = int(np.argmax(dist))
        assert dist[worst] <= limit, (
            f"{name}({x[worst]!r}) = {out[worst]!r}, reference {reference(name, x[worst:worst + 1], wide)[0]!r}:"
            f" {dist[worst]} ulp ({'wide' if wide else 'numpy'})")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", CASES)
def test_special_values(name, dtype):
    x = special_values(dtype)
    out = run(name, x)
    assert out.dtype == x.dtype
    limit = CASES[name][2]
    for wide in (False, True):
        ref = reference(name, x, wide)
        dist = ulp_distance(out, ref)
        bad = dist > limit
        assert not bad.any(), list(zip(x[bad], out[bad], ref[bad]))
        zeros = ref == 0  # the sign of a zero result must match NumPy's
        assert np.array_equal(np.signbit(out[zeros]), np.signbit(ref[zeros])), x[zeros]
        assert np.array_equal(np.isinf(out), np.isinf(ref))
        assert np.array_equal(np.isnan(out), np.isnan(ref))


def test_documented_special_values():
    for dtype in DTYPES:
        inf, nan = dtype(math.inf), dtype(math.nan)
        x = np.array([-inf, inf, nan, -0.0, 0.0], dtype)
        assert np.array_equal(run("exp", x), [0, inf, nan, 1, 1], equal_nan=True)
        assert np.array_equal(run("log", x), [nan, inf, nan, -inf, -inf], equal_nan=True)
        assert np.array_equal(run("tanh", x), [-1, 1, nan, 0, 0], equal_nan=True)
        assert np.signbit(run("tanh", x)[3]) and np.signbit(run("expm1", x)[3])
        assert np.array_equal(run("sigmoid", x), [0, 1, nan, 0.5, 0.5], equal_nan=True)
        big = np.array([-1e30, 1e30, -np.finfo(dtype).max], dtype)
        assert np.array_equal(run("sigmoid", big), [0, 1, 0])  # no overflow nan
        assert np.array_equal(run("log", np.array([-1.0, -np.finfo(dtype).tiny], dtype)),
                              [nan, nan], equal_nan=True)


def test_scalar_and_integer_arguments():
    @njit
    def scalars(a, b, c):
        return fexp(a), flog(b), ftanh(c), fsigmoid(c), flog1p(a), fexpm1(c)

    result = scalars(1, np.int32(5), np.float32(0.5))
    (sig,) = scalars.nopython_signatures  # ints -> float64, float32 stays float32
    assert [str(t) for t in sig.return_type] == ["float64", "float64", "float32", "float32",
                                                 "float64", "float32"]
    assert result[0] == pytest.approx(math.e, rel=1e-15)
    # Called from Python, the functions fall back to NumPy.
    assert fsigmoid(np.float32(-800.0)) == 0 and fsigmoid(np.float32(3)).dtype == np.float32
    assert fexp(np.float32(1)).dtype == np.float32


# ----------------------------------------------------------------------------- vectorisation
def _has_avx2() -> bool:
    import llvmlite.binding as llvm
    return "+avx2" in llvm.get_host_cpu_features().flatten().split(",")


MIN_WIDTH = 256 if _has_avx2() else 128


def _compiled(kernel, dtype):
    x = np.linspace(-1, 1, 64).astype(dtype)
    kernel(x, np.empty_like(x))
    return next(s for s in kernel.signatures if str(s[0].dtype) == np.dtype(dtype).name)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("kernel", [case[0] for case in CASES.values()] + [_ploop_exp],
                         ids=list(CASES) + ["exp-prange"])
def test_loops_vectorise(kernel, dtype):
    report = vector_report(kernel, _compiled(kernel, dtype))
    assert report.width >= MIN_WIDTH, str(report)
    if dtype == np.float32:  # computed in float32: no double ops, no conversions
        assert not {op for op in report.ops() if op.endswith("pd") or "2pd" in op}, str(report)


def test_python_division_blocks_vectorisation():
    """Numba's default error_model='python' guards `/` with a ZeroDivisionError
    branch, and that branch keeps LLVM from vectorising the loop; 'numpy' does not.
    (mathlib divides through a bare fdiv intrinsic, so it is immune.)"""
    def body(x, out):
        for i in range(x.size):
            out[i] = x[i] / (1.0 + x[i] * x[i])

    python_model, numpy_model = njit(body), njit(error_model="numpy")(body)
    assert vector_report(python_model, _compiled(python_model, np.float64)).width == 0
    assert vector_report(numpy_model, _compiled(numpy_model, np.float64)).width >= MIN_WIDTH


def test_analyse_asm_reads_loops():
    asm = """
f:
\tvmovups (%rdi), %ymm0
.LBB0_1:
\tvmulss %xmm1, %xmm0, %xmm0
\tjne .LBB0_1
.LBB0_2:
\tvfmadd213ps %ymm1, %ymm2, %ymm0
\tvaddpd %zmm1, %zmm2, %zmm0
\tjb .LBB0_2
\tvmulps %zmm1, %zmm2, %zmm0
"""
    report = analyse_asm(asm)
    assert [loop.width for loop in report.loops] == [0, 512]
    assert report.width == 512 and report.lanes(4) == 16
    assert report.ops() == {"vfmadd213ps", "vaddpd"}


# ----------------------------------------------------------------------------- reduction steps
@njit(error_model="numpy")
def _sum_and_max(x):
    s, m = x.dtype.type(0), x.dtype.type(-np.inf)
    for i in range(x.size):
        s = add_reassoc(s, x[i])
        m = fmaximum(m, x[i])
    return s, m


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_reduction_steps_vectorise_and_keep_nan(dtype):
    """Running sums / maxima vectorise only through reduce_steps (a plain float `+`
    chain stays in order); the max keeps NumPy's NaN propagation."""
    x = np.linspace(-3, 5, 1001).astype(dtype)
    s, m = _sum_and_max(x)
    assert s == pytest.approx(float(np.sum(x.astype(np.float64))), rel=1e-6) and m == np.max(x)
    assert np.isnan(_sum_and_max(np.array([1.0, np.nan, 2.0], dtype))[1])
    report = vector_report(_sum_and_max, _sum_and_max.signatures[0])
    assert report.width >= MIN_WIDTH and {"vmaxps", "vmaxpd"} & report.ops(), str(report)
    assert add_reassoc(np.float32(1), np.float32(2)) == 3 and np.isnan(fmaximum(np.nan, 1.0))  # plain Python
