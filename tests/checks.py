"""Numerical checks shared by the op table and the property tests.

`check_vjp` is JAX's check_vjp inner-product test: for a random cotangent
`ct` and a random direction `v`, the reverse-mode product <J^T ct, v> must
equal the central difference of <ct, f(x + eps v)>. `check_second_order`
applies the same test to the gradient itself. Everything runs through
`modes.run` so it holds for every mode.
"""
from __future__ import annotations

import threading

import numpy as np

import tracead as ta
from modes import run, run_value_and_grad

FORWARD_TOL = {np.dtype(np.float32): dict(rtol=2e-5, atol=1e-6),
               np.dtype(np.float64): dict(rtol=1e-10, atol=1e-12)}


def tensors(arrays) -> list[ta.Tensor]:
    return [ta.tensor(a) for a in arrays]


def assert_forward(mode, fn, ref, arrays, msg="") -> None:
    """fn(*tensors) equals ref(*arrays): shape, dtype (as NumPy's) and values."""
    before = [a.copy() for a in arrays]
    out = run(mode, fn, *tensors(arrays))
    with np.errstate(all="ignore"):
        expected = np.asarray(ref(*arrays))
    assert isinstance(out, ta.Tensor), f"{msg}: got {type(out)}"
    assert out.shape == expected.shape, f"{msg}: shape {out.shape} != {expected.shape}"
    assert out.dtype == expected.dtype, f"{msg}: dtype {out.dtype} != NumPy's {expected.dtype}"
    tol = FORWARD_TOL.get(expected.dtype, dict(rtol=0, atol=0))
    np.testing.assert_allclose(np.asarray(out), expected, err_msg=msg, **tol)
    for a, b in zip(arrays, before):
        np.testing.assert_array_equal(a, b, err_msg=f"{msg}: an input was modified")


def assert_same_values(out, expected, msg="") -> None:
    """out equals expected (an ndarray): shape, dtype, values within float64 rounding, NaN
    where NaN, and the sign of every zero (x + 0.0 is +0.0 for x = -0.0, x * 1.0 is not)."""
    got = np.asarray(out)
    assert got.shape == expected.shape, f"{msg}: shape {got.shape} != {expected.shape}"
    assert got.dtype == expected.dtype, f"{msg}: dtype {got.dtype} != {expected.dtype}"
    tol = FORWARD_TOL.get(expected.dtype, dict(rtol=0, atol=0))
    np.testing.assert_allclose(got, expected, err_msg=msg, equal_nan=True, **tol)
    if expected.dtype.kind == "f":
        zeros = (got == 0) & (expected == 0)
        assert np.array_equal(np.signbit(got[zeros]), np.signbit(expected[zeros])), (
            f"{msg}: the sign of a zero differs: got {got[zeros]}, expected {expected[zeros]}")


def _dot(a, b) -> float:
    return float(np.vdot(np.asarray(a, np.float64), np.asarray(b, np.float64)))


def _project(fn, ct):
    """h(*xs) = <ct, fn(*xs)>: a scalar function whose gradient is the vjp."""
    def h(*xs):
        return ta.sum(fn(*xs) * ct)
    return h


def vjp(mode, fn, arrays, argnums, ct) -> tuple:
    """J^T ct for each input in argnums (as NumPy arrays)."""
    _, grads = run_value_and_grad(mode, _project(fn, ct), tuple(argnums), *arrays)
    return tuple(np.asarray(g) for g in grads)


def _shifted(arrays, argnum, direction, eps):
    plus, minus = list(arrays), list(arrays)
    plus[argnum] = arrays[argnum] + eps * direction
    minus[argnum] = arrays[argnum] - eps * direction
    return plus, minus


def _central_difference(mode, h, arrays, argnum, direction, eps) -> float:
    plus, minus = _shifted(arrays, argnum, direction, eps)
    return (run(mode, h, *tensors(plus)).item() - run(mode, h, *tensors(minus)).item()) / (2 * eps)


def check_vjp(mode, fn, arrays, argnums, rng, eps=1e-6, tol=1e-6, msg="") -> tuple:
    """Reverse mode against central differences, per differentiable input.

    Returns the vjp (J^T ct per input) so callers can compare dtypes.
    """
    out = run(mode, fn, *tensors(arrays))
    ct = rng.standard_normal(out.shape)
    h = _project(fn, ct)
    _, grads = run_value_and_grad(mode, h, tuple(argnums), *arrays)
    for argnum, g in zip(argnums, grads):
        x = arrays[argnum]
        assert g.shape == x.shape, f"{msg}: grad of input {argnum} has shape {g.shape}, not {x.shape}"
        assert g.dtype == x.dtype, f"{msg}: grad of input {argnum} is {g.dtype}, not {x.dtype}"
        v = rng.standard_normal(x.shape)
        reverse = _dot(g, v)
        numeric = _central_difference(mode, h, arrays, argnum, v, eps)
        assert abs(reverse - numeric) <= tol * (1 + abs(numeric)), (
            f"{msg}: input {argnum}: <J^T ct, v> = {reverse!r} but finite differences "
            f"give {numeric!r}")
    return ct, tuple(np.asarray(g) for g in grads)


def check_second_order(mode, fn, arrays, argnums, rng, eps=1e-5, tol=1e-5, msg="") -> None:
    """Differentiate <w, grad <ct, fn>> again and compare with central differences."""
    argnums = tuple(argnums)
    out = run(mode, fn, *tensors(arrays))
    h = _project(fn, rng.standard_normal(out.shape))
    ws = [rng.standard_normal(arrays[i].shape) for i in argnums]
    first = ta.grad(h, argnums)

    def s(*xs):
        total = 0.0
        for g, w in zip(first(*xs), ws):
            total = total + ta.sum(g * w)
        return total

    _, grads = run_value_and_grad(mode, s, argnums, *arrays)
    for argnum, g in zip(argnums, grads):
        v = rng.standard_normal(arrays[argnum].shape)
        reverse = _dot(g, v)
        numeric = _central_difference(mode, s, arrays, argnum, v, eps)
        assert abs(reverse - numeric) <= tol * (1 + abs(numeric)), (
            f"{msg}: input {argnum}: second-order <H w, v> = {reverse!r} but finite "
            f"differences of the gradient give {numeric!r}")


def run_in_threads(work, n: int = 4) -> None:
    """Run `work(seed)` for seeds 0..n-1 in n threads at once and wait for all; the
    first exception a worker raised is raised here (a crashed worker fails the test)."""
    errors: list[BaseException] = []

    def guarded(seed):
        try:
            work(seed)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(s,)) for s in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def compile_in(fn, mode: str):
    """fn compiled with backend `mode`, or fn itself for "eager"."""
    return ta.compile(fn, backend=mode) if mode != "eager" else fn


def assert_close(a, b, tol: float = 1e-12) -> None:
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=tol, atol=tol)
