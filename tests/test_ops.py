"""The op sweep: every case of `opinfo.CASES`, in every mode of `modes.MODES`.

Forward against NumPy in float32 and float64 (values and NumPy's result
dtype), gradients against central differences in float64, float32 gradients
against float64 ones, and second derivatives of the smooth ops.
"""
from __future__ import annotations

import sys
import zlib

import numpy as np
import pytest

import tracead as ta
from tracead import functional as F
from modes import run_value_and_grad
from strict import run_strict
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

    for module in list(sys.modules.values()):  # every module that calls bind by name
        if module.__name__.startswith("tracead") and getattr(module, "bind", None) is real_bind:
            monkeypatch.setattr(module, "bind", recording_bind)
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


# -- edge cases that used to give silent wrong answers ------------------------------------
INT_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]


@pytest.mark.parametrize("dtype", INT_DTYPES + [np.bool_], ids=lambda d: np.dtype(d).name)
def test_min_is_exact_for_integers_and_bool(mode, dtype):
    """min was -max(-x): 0 for INT_MIN, a crash for bool."""
    if dtype is np.bool_:
        x = np.array([[True, False, True], [True, True, True]])
    else:
        info = np.iinfo(dtype)
        x = np.array([[info.min, 0, info.max], [info.max, 1, info.max - 1]], dtype)
    out = run_strict(mode, lambda t: ta.concatenate([ta.min(t, axis=1), ta.min(t).reshape(1)]),
                     ta.tensor(x))
    expected = np.concatenate([x.min(axis=1), [x.min()]])
    assert out.dtype == expected.dtype
    np.testing.assert_array_equal(out.numpy(), expected)


def test_var_with_ddof_at_least_the_count_is_inf_or_nan(mode):
    """It divided by count - ddof: -1.0 for ddof=5 of 3 values, -0.0 for an empty axis."""
    def f(x, e):
        return ta.stack([ta.var(x, ddof=5), ta.var(x, ddof=3), ta.var(x * 0.0, ddof=3),
                         ta.var(e, ddof=1), ta.var(x, ddof=2)])
    x, e = np.array([1.0, 2.0, 4.0]), np.zeros(0)
    with np.errstate(all="ignore"):
        out = run_strict(mode, f, ta.tensor(x), ta.tensor(e))
        expected = [np.var(x, ddof=5), np.var(x, ddof=3), np.var(x * 0.0, ddof=3),
                    np.var(e, ddof=1), np.var(x, ddof=2)]
    np.testing.assert_array_equal(out.numpy(), expected)
    assert expected[:2] == [np.inf, np.inf] and np.isnan(expected[2:4]).all()


def test_logsumexp_of_infinite_rows(mode):
    """logsumexp of all -inf was nan (inf - inf in the shift); scipy and torch give -inf."""
    x = np.array([[-np.inf, -np.inf, -np.inf], [-np.inf, 0.0, 1.0], [np.inf, 0.0, -np.inf],
                  [1.0, 2.0, 3.0]])

    def f(t):
        return ta.stack([ta.logsumexp(t, axis=1), ta.logsumexp(t.T, axis=0)])
    with np.errstate(all="ignore"):
        out = run_strict(mode, f, ta.tensor(x)).numpy()
    expected = [-np.inf, np.log(1 + np.e), np.inf, np.log(np.exp([1.0, 2.0, 3.0]).sum())]
    np.testing.assert_allclose(out, [expected, expected], rtol=1e-15)
    assert ta.logsumexp(ta.tensor(np.full(3, -np.inf))).item() == -np.inf


def test_softmax_rows_with_infinities(mode):
    """-inf entries are zero weight; an all -inf row is nan (0/0) as in torch and scipy."""
    x = np.array([[-np.inf, -np.inf], [-np.inf, 0.0], [0.0, np.log(3.0)]])
    with np.errstate(all="ignore"):
        sm, lsm = run_strict(mode, lambda t: (ta.softmax(t), ta.log_softmax(t)), ta.tensor(x))
    np.testing.assert_allclose(sm.numpy()[1:], [[0.0, 1.0], [0.25, 0.75]], rtol=1e-15)
    np.testing.assert_allclose(lsm.numpy()[1:], [[-np.inf, 0.0], np.log([0.25, 0.75])], rtol=1e-15)
    assert np.isnan(sm.numpy()[0]).all() and np.isnan(lsm.numpy()[0]).all()


def test_pow_gradient_with_a_zero_base_and_tensor_exponent(mode):
    """Guards as torch: d/dx is 0 where y == 0, d/dy is 0 where x == 0 and y >= 0."""
    x = np.array([0.0, 0.0, 0.0, 2.0, 0.0])
    y = np.array([0.0, 1.0, 2.0, 0.0, -1.0])
    with np.errstate(all="ignore"):
        _, (gx, gy) = run_strict(mode, ta.value_and_grad(lambda a, b: ta.sum(a ** b), (0, 1)), x, y)
    # y * x**(y-1), torch's where-guarded form; x**y log x with the x == 0, y >= 0 guard.
    np.testing.assert_array_equal(gx.numpy(), [0.0, 1.0, 0.0, 0.0, -np.inf])
    np.testing.assert_array_equal(gy.numpy()[:4], [0.0, 0.0, 0.0, np.log(2.0)])
    assert gy.numpy()[4] == -np.inf  # inf * log(0), as torch


def test_sign_has_a_zero_gradient_in_every_path(mode):
    """Eager backward raised 'does not require grad' where grad and compile gave zeros."""
    x = ta.tensor([1.5, -2.0, 0.0], requires_grad=True)
    (ta.sign(x) * 3.0 + x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0, 1.0])
    y = ta.tensor([1.5, -2.0], requires_grad=True)
    ta.sign(y).sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [0.0, 0.0])
    _, g = run_strict(mode, ta.value_and_grad(lambda t: ta.sum(ta.sign(t) * t)),
                      np.array([1.5, -2.0]))
    np.testing.assert_array_equal(g.numpy(), [1.0, -1.0])


@pytest.mark.parametrize("axis", [0, -1, (0,), (-1,)])
def test_axis_0_and_minus_1_on_a_0d_tensor(mode, axis):
    """A 0-d input takes axis 0 and -1 alike (torch; np.sum and np.max), for every reduction."""
    def f(t):
        return ta.stack([ta.sum(t, axis), ta.max(t, axis), ta.min(t, axis), ta.mean(t, axis),
                         ta.var(t, axis), ta.logsumexp(t, axis), ta.softmax(t, axis)])
    out = run_strict(mode, f, ta.tensor(2.5))
    np.testing.assert_allclose(out.numpy(), [2.5, 2.5, 2.5, 2.5, 0.0, 2.5, 1.0], rtol=1e-15)
    for bad in (1, -2):
        with pytest.raises(ValueError, match="axis"):
            ta.sum(ta.tensor(2.5), bad)


def test_integer_to_a_negative_float_power(mode):
    """int ** -1.0 is float64 in NumPy; only int ** negative *int* is refused."""
    x = np.array([1, 2, 4], np.int32)
    out = run_strict(mode, lambda t: t ** -1.0, ta.tensor(x))
    assert out.dtype == (x ** -1.0).dtype == np.float64
    np.testing.assert_array_equal(out.numpy(), x ** -1.0)
    with pytest.raises(ValueError, match="negative integer powers"):
        ta.tensor(x) ** -1


def test_clip_keeps_the_input_on_ties_as_numpy(mode):
    """clip was maximum/minimum: -0.0 clipped to [0, 1] became +0.0 (np.clip keeps -0.0)."""
    x = np.array([-0.0, 0.0, -0.0, 0.5, np.nan, -3.0, 3.0])

    def f(t):  # (np.clip with one bound is np.maximum, which returns the bound on ties)
        return ta.stack([ta.clip(t, 0.0, 1.0), ta.clip(t, -1.0, -0.0)])
    out = run_strict(mode, f, ta.tensor(x)).numpy()
    expected = np.stack([np.clip(x, 0.0, 1.0), np.clip(x, -1.0, -0.0)])
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(np.signbit(out), np.signbit(expected))


def test_clip_gradient_is_one_at_the_bounds(mode):
    """As torch.clamp: the bounds count as inside."""
    _, g = run_strict(mode, ta.value_and_grad(lambda t: ta.sum(ta.clip(t, -1.0, 1.0) * t)),
                      np.array([-1.0, 0.25, 1.0, 2.0, -3.0]))
    np.testing.assert_array_equal(g.numpy(), [-2.0, 0.5, 2.0, 1.0, -1.0])


def test_integer_tensor_to_a_negative_integer_tensor_power(mode):
    """NumPy raises; the numba kernel silently gave 2 ** -1 == 0."""
    compiled = None if mode == "eager" else ta.compile(lambda a, b: a ** b, backend=mode)

    def call(a, b):
        return a ** b if compiled is None else compiled(a, b)
    a = np.array([2, 3], np.int64)
    for b in (np.array([1, 2]), np.array([0, 3]), np.array([2, 1])):
        np.testing.assert_array_equal(np.asarray(call(ta.tensor(a), ta.tensor(b))), a ** b)
    if compiled is not None:
        assert compiled.stats["misses"] == 1 and compiled.stats["hits"] == 2, compiled.stats
    with pytest.raises(ValueError) as info:
        call(ta.tensor(a), ta.tensor(np.array([-1, 2])))
    message = str(info.value)
    assert "pow" in message and "negative integer powers" in message and "test_ops.py" in message
    np.testing.assert_array_equal((2.0 ** ta.tensor(np.array([-1, 2]))).numpy(), [0.5, 4.0])


# -- check mode over the table -------------------------------------------------------------
@pytest.mark.parametrize("case,i", SAMPLES, ids=SAMPLE_IDS)
def test_forward_in_check_mode(case, i):
    """Each case compiled with `check=True`: the compiled call is compared with the eager one
    (NaN-, signed-zero- and dtype-aware) as well as with NumPy."""
    assert_forward("checked", case.fn, case.ref, _inputs(case, i, np.float64), msg=case.sample_id(i))
