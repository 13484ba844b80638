"""Property tests: random programs against a NumPy twin and finite differences.

The programs come from `programs.py` (a Hypothesis-driven generator shared
with the long fuzz run, `python -m tests.fuzz`). Plain expression DAGs are
checked forward and for gradients; scenarios add what past bugs were made
of: Python scalar arguments (±0.0, NaN, ints, bools), tensors read from a
dict entry and a module attribute and updated between calls, `.grad` reads,
zero-size values, outputs that simplify to an input, special input values
and argument sizes that change between calls. Each call is compared with the
NumPy twin (NaN- and signed-zero-aware), and compiled modes must have run
compiled. What is still broken is an xfail(strict=True) test of its own, so
it turns into a failure (XPASS) the day it is fixed.

TRACEAD_HYPOTHESIS_EXAMPLES sets the number of examples in eager mode
(default 100); compiled modes run a quarter of it. The examples are
derandomized (the same on every run, so CI does not flake); set
TRACEAD_HYPOTHESIS_RANDOM=1 to explore new ones.
"""
from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import tracead as ta
from checks import FORWARD_TOL, check_vjp, tensors
from modes import run
from programs import Features, HypothesisChoices, check_scenario
from programs import random_program as build_program

EXAMPLES = int(os.environ.get("TRACEAD_HYPOTHESIS_EXAMPLES", "100"))
RANDOM = os.environ.get("TRACEAD_HYPOTHESIS_RANDOM", "") not in ("", "0")


@st.composite
def random_program(draw, features: Features = Features()):
    return build_program(HypothesisChoices(draw), features)


def _settings(mode):
    # eager and interpret are cheap: 150 programs each for forward and for
    # gradients (300 compiled with the interpreter per run); numba pays a
    # Numba compile per program, so it gets a quarter.
    n = EXAMPLES * 3 // 2 if mode in ("eager", "interpret") else max(1, EXAMPLES // 4)
    return settings(max_examples=n, deadline=None, derandomize=not RANDOM,
                    suppress_health_check=[HealthCheck.too_slow])


def test_random_programs_forward(mode):
    @_settings(mode)
    @given(random_program())
    def check(program):
        out = run(mode, program.fn, *tensors(program.inputs))
        expected = program.ref(*program.inputs)
        assert out.shape == expected.shape and out.dtype == expected.dtype
        np.testing.assert_allclose(np.asarray(out), expected, **FORWARD_TOL[np.dtype(np.float64)])

    check()


def test_random_programs_gradients(mode):
    @_settings(mode)
    @given(random_program(), st.integers(0, 2**32 - 1))
    def check(program, seed):
        argnums = tuple(range(len(program.inputs)))
        check_vjp(mode, program.fn, program.inputs, argnums, np.random.default_rng(seed),
                  msg=program.text)

    check()


# Programs the random search found to fail once; kept as plain regression tests.
REGRESSIONS = [
    # plan/fuse.py formed a cycle of kernels planning the joint graph: its
    # cycle check pruned paths by node index, wrong for non-contiguous groups.
    (lambda a, b: a / (1.0 + b * b) + b.max(keepdims=True),
     lambda a, b: a / (1.0 + b * b) + b.max(keepdims=True), [(1, 1, 3), (3,)], []),
]


@pytest.mark.parametrize("k", range(len(REGRESSIONS)))
def test_regression_programs(request, mode, k):
    fn, ref, shapes, failing_modes = REGRESSIONS[k]
    if mode in failing_modes:  # still runs: reports XPASS once the bug is fixed
        request.applymarker(pytest.mark.xfail(strict=True, reason="known compiler bug, see REGRESSIONS"))
    rng = np.random.default_rng(k)
    inputs = [rng.uniform(-1.5, 1.5, s) for s in shapes]
    out = run(mode, fn, *tensors(inputs))
    np.testing.assert_allclose(np.asarray(out), ref(*inputs), **FORWARD_TOL[np.dtype(np.float64)])
    check_vjp(mode, fn, inputs, tuple(range(len(inputs))), rng)


# -- scenarios: what past bugs were made of -----------------------------------------------------
SCENARIO = Features(scalars=True, free=True, grads=True, zero_size=True, identity=True,
                    special=True, resize=True)
SCENARIO_FEATURES = {
    "everything": SCENARIO,
    "scalars_identity_special": Features(scalars=True, identity=True, special=True),
    "zero_size_resize": Features(zero_size=True, resize=True, identity=True),
    # dynamic shapes: a new size on every call (one static, one dynamic variant at most,
    # unless a size was 1 or a Python comparison of sizes guards)
    "random_sizes": Features(scalars=True, resize=True, identity=True, sizes=4),
    "state_and_grads": Features(free=True, grads=True, special=True),
}


def _scenario_settings(mode, share=1):
    n = max(2, (EXAMPLES // 2 if mode in ("eager", "interpret") else EXAMPLES // 12) // share)
    return settings(max_examples=n, deadline=None, derandomize=not RANDOM, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.mark.parametrize("kind", sorted(SCENARIO_FEATURES))
def test_random_scenarios(mode, kind):
    """Scalars, outside state updated in place, .grad reads, zero sizes, identities, resizes."""
    @_scenario_settings(mode, share=2)
    @given(random_program(SCENARIO_FEATURES[kind]))
    def check(program):
        check_scenario(program, mode)

    check()


# Bugs these scenarios found (each failed on every example until fixed in the runtime):
# rebound outside tensors, an argument's .grad, -0.0 after 0.0 as a scalar argument.
_FIXED_SETTINGS = dict(max_examples=3, deadline=None, derandomize=True, database=None,
                       phases=[Phase.explicit, Phase.generate])


@pytest.mark.parametrize("backend", ["interpret", "numba"])
def test_random_scenarios_rebinding_outside_tensors(backend):
    @settings(**_FIXED_SETTINGS)
    @given(random_program(Features(free=True)))
    def check(program):
        check_scenario(program, backend, rebind=True)

    check()


@pytest.mark.parametrize("backend", ["interpret", "numba"])
def test_random_scenarios_reading_an_arguments_grad(backend):
    @settings(**_FIXED_SETTINGS)
    @given(random_program())
    def check(program):
        check_scenario(program, backend, arg_grad=True)

    check()


@pytest.mark.parametrize("backend", ["interpret", "numba"])
def test_random_scenarios_scalar_zero_then_minus_zero(backend):
    @settings(**_FIXED_SETTINGS)
    @given(random_program())
    def check(program):
        check_scenario(program, backend, flip_zero=True)

    check()


# -- the long run, opt in: TRACEAD_FUZZ_EXAMPLES=10000 (or python -m tests.fuzz) ---------------
@pytest.mark.skipif(not os.environ.get("TRACEAD_FUZZ_EXAMPLES"), reason="set TRACEAD_FUZZ_EXAMPLES=N")
@pytest.mark.parametrize("backend", ["interpret", "numba"])
def test_long_fuzz_run(backend):
    from fuzz import fuzz

    n = int(os.environ["TRACEAD_FUZZ_EXAMPLES"])
    counts = fuzz(n if backend == "interpret" else max(1, n // 10), backend, small=backend == "numba")
    assert counts["mismatches"] == 0 and counts["errors"] == 0, counts


# Found by the long fuzz run (python -m tests.fuzz --backend numba --small, program 767):
# maximum(x, -x) for x = -0.0 gave -0.0 compiled, 0.0 in NumPy.
@pytest.mark.parametrize("backend", ["interpret", "numba"])
def test_maximum_and_minimum_of_signed_zeros_match_numpy(backend):
    from checks import assert_same_values

    x, y = np.array([-0.0, 0.0, -0.0, 0.0]), np.array([0.0, -0.0, -0.0, 0.0])
    cf = ta.compile(lambda x, y: (ta.maximum(x, y), ta.minimum(x, y)), backend=backend)
    cf(ta.tensor(x), ta.tensor(y))
    high, low = cf(ta.tensor(x), ta.tensor(y))
    assert cf.stats["hits"] == 1
    assert_same_values(high, np.maximum(x, y), "maximum")
    assert_same_values(low, np.minimum(x, y), "minimum")


def test_random_programs_with_changing_float_arguments():
    """A float argument scaling the first input and shifting the result: one compiled
    variant serves every value (the float is a graph input), each equal to NumPy."""
    @settings(max_examples=max(1, EXAMPLES // 3), deadline=None, derandomize=not RANDOM,
              suppress_health_check=[HealthCheck.too_slow])
    @given(random_program(), st.lists(st.floats(-3, 3, allow_subnormal=False), min_size=3,
                                      max_size=3))
    def check(program, scales):
        def fn(s, *xs):
            return program.fn(xs[0] * s, *xs[1:]) + (s - 0.5)

        cf = ta.compile(fn, backend="interpret")
        for s in scales:
            out = cf(s, *program.inputs)
            expected = program.ref(program.inputs[0] * s, *program.inputs[1:]) + (s - 0.5)
            np.testing.assert_allclose(np.asarray(out), expected,
                                       **FORWARD_TOL[np.dtype(np.float64)])
        assert len(cf.order) == 1 and cf.stats["hits"] == 2, cf.recompile_reasons

    check()
