"""The op sweep: every case of `opinfo.CASES`, in every mode of `modes.MODES`.

Forward against NumPy in float32 and float64 (values and NumPy's result
dtype), gradients against central differences in float64, float32 gradients
against float64 ones, and second derivatives of the smooth ops.
"""
from __future__ import annotations

import zlib

import numpy as np
import pytest

import tracead as ta
from tracead import functional as F
from modes import run_value_and_grad
from checks import assert_forward, check_second_order, check_vjp, vjp
from opinfo import CASES, all_samples, covered_prims, make_input

SAMPLES = all_samples()
SAMPLE_IDS = [c.sample_id(i) for c, i in SAMPLES]
DIFF_SAMPLES = [(c, i) for c, i in SAMPLES if c.differentiable]
DIFF_IDS = [c.sample_id(i) for c, i in DIFF_SAMPLES]
SMOOTH_SAMPLES = [(c, i) for c, i in DIFF_SAMPLES if c.smooth]
SMOOTH_IDS = [c.sample_id(i) for c, i in SMOOTH_SAMPLES]
DTYPES = [np.float32, np.float64]


def _rng(case, i, salt=""):
    """A deterministic generator per sample (stable across runs and orderings)."""
    return np.random.default_rng(zlib.crc32(f"{case.sample_id(i)}{salt}".encode()))


def _inputs(case, i, dtype, rng=None):
    rng = _rng(case, i) if rng is None else rng
    return [make_input(arg, dtype, rng) for arg in case.samples[i]]


def _argnums(case, i):
    return tuple(k for k, arg in enumerate(case.samples[i]) if arg.differentiable)


# -- the table itself ----------------------------------------------------------------
def test_every_primitive_has_a_case():
    missing = set(ta.PRIMS) - covered_prims()
    assert not missing, f"primitives without an OpCase in tests/opinfo.py: {sorted(missing)}"


def test_cases_use_the_primitive_they_claim(monkeypatch):
    """Run each case once, recording the primitives bound, so the table cannot lie."""
    seen: list[str] = []
    real_bind = F.bind

    def recording_bind(prim, *args, **params):
        seen.append(prim.name)
        return real_bind(prim, *args, **params)

    monkeypatch.setattr(F, "bind", recording_bind)
    used: set[str] = set()
    for case in CASES:
        seen.clear()
        for dtype in DTYPES:  # cast_f64 binds cast only for float32 inputs
            case.fn(*(ta.tensor(a) for a in _inputs(case, 0, dtype)))
        if case.prim or case.name in ta.PRIMS:
            claimed = case.prim or case.name
            assert claimed in seen, f"case {case.name} claims {claimed} but binds {seen}"
        used.update(seen)
    assert set(ta.PRIMS) <= used, f"never exercised: {sorted(set(ta.PRIMS) - used)}"


def test_case_names_are_unique():
    names = [c.name for c in CASES]
    assert len(names) == len(set(names))


def test_every_primitive_is_complete():
    for name, prim in ta.PRIMS.items():
        assert prim.name == name and callable(prim.impl) and callable(prim.shape_rule)
        assert not prim.differentiable or callable(prim.vjp), name


# -- forward ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("case,i", SAMPLES, ids=SAMPLE_IDS)
def test_forward_matches_numpy(mode, case, i, dtype):
    arrays = _inputs(case, i, dtype)
    assert_forward(mode, case.fn, case.ref, arrays, msg=f"{case.sample_id(i)} {mode}")


# -- gradients -------------------------------------------------------------------------
@pytest.mark.parametrize("case,i", DIFF_SAMPLES, ids=DIFF_IDS)
def test_vjp_matches_finite_differences(mode, case, i):
    arrays = _inputs(case, i, np.float64)
    check_vjp(mode, case.fn, arrays, _argnums(case, i), _rng(case, i, "vjp"),
              eps=case.fd_eps, tol=case.grad_tol, msg=f"{case.sample_id(i)} {mode}")


@pytest.mark.parametrize("case,i", DIFF_SAMPLES, ids=DIFF_IDS)
def test_float32_gradients_match_float64(mode, case, i):
    arrays64 = _inputs(case, i, np.float64)
    arrays32 = [a.astype(np.float32) if a.dtype == np.float64 else a for a in arrays64]
    argnums = _argnums(case, i)
    out_shape = case.fn(*(ta.tensor(a) for a in arrays64)).shape
    ct = _rng(case, i, "ct").standard_normal(out_shape)
    g64 = vjp(mode, case.fn, arrays64, argnums, ct)
    g32 = vjp(mode, case.fn, arrays32, argnums, ct.astype(np.float32))
    for k, a, b in zip(argnums, g32, g64):
        assert a.dtype == np.float32, f"{case.name}: float32 input {k} got a {a.dtype} gradient"
        scale = 1 + np.abs(b).max(initial=0)
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 * scale, err_msg=case.name)


@pytest.mark.parametrize("case,i", SMOOTH_SAMPLES, ids=SMOOTH_IDS)
def test_second_derivatives_match_finite_differences(mode, case, i):
    arrays = _inputs(case, i, np.float64)
    tol = max(1e-5, case.grad_tol)
    check_second_order(mode, case.fn, arrays, _argnums(case, i), _rng(case, i, "hvp"),
                       eps=max(1e-5, case.fd_eps), tol=tol, msg=f"{case.sample_id(i)} {mode}")


# -- gradient conventions at kinks and ties (as JAX / torch) -------------------------------
def test_gradients_at_kinks_and_ties(mode):
    x = np.array([-1.0, 0.0, 2.0])

    def f(x):
        return ta.relu(x).sum() + ta.abs(x).sum() + ta.maximum(x, 0.0).sum()

    _, g = mode_vg(mode, f, x)
    # relu'(0) = 0, abs'(0) = 0, maximum ties split evenly
    np.testing.assert_allclose(np.asarray(g), [0.0 - 1.0 + 0.0, 0.0 + 0.0 + 0.5, 1.0 + 1.0 + 1.0])

    _, g = mode_vg(mode, lambda x: x.max(), np.array([1.0, 3.0, 3.0]))
    np.testing.assert_allclose(np.asarray(g), [0.0, 0.5, 0.5])


def test_stop_gradient_blocks_the_gradient(mode):
    _, g = mode_vg(mode, lambda x: (ta.stop_gradient(x) * x).sum(), np.array([1.0, 2.0]))
    np.testing.assert_allclose(np.asarray(g), [1.0, 2.0])


def mode_vg(mode, fn, *args):
    return run_value_and_grad(mode, fn, 0, *args)


# -- check mode over the table -------------------------------------------------------------
@pytest.mark.parametrize("case,i", SAMPLES, ids=SAMPLE_IDS)
def test_forward_in_check_mode(case, i):
    """Each case compiled with `check=True`: the compiled call is compared with the eager one
    (NaN-, signed-zero- and dtype-aware) as well as with NumPy."""
    assert_forward("checked", case.fn, case.ref, _inputs(case, i, np.float64), msg=case.sample_id(i))
