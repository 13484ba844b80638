"""The torch-coverage probes (`op_coverage.py`) as a test: every probe passes in eager
and interpret mode except the known, documented differences below.

A probe that newly fails is a regression; one that newly passes must leave
KNOWN_GAPS (so the list stays honest). torch is the reference; it is in the
`test` extra, so this runs in CI.
"""
from __future__ import annotations

import pytest

import torch  # noqa: F401  (in the test extra: this comparison must run, not skip)

from op_coverage import all_probes, probe_id, run_probe  # noqa: E402

# Differences on purpose (see docs/limits.md) and torch features not implemented.
KNOWN_GAPS = {
    # NumPy's dtypes: Python floats and int / int division give float64, torch float32
    *(f"{e} []" for e in (
        "T.arange(0.5, 3.0, 0.25)", "T.linspace(0, 1, 5)", "T.linspace(-2, 3, 7)",
        "T.linspace(5, 10, 1)", "T.eye(3)", "T.eye(2, 4)", "T.full((2, 3), 1.5)", "T.zeros(2, 3)",
        "T.zeros((2, 3))", "T.ones(4)", "T.zeros([])", "T.tensor([1.0, 2.0]) * 2", "T.tensor(3.5)",
        "T.tril(T.ones(3, 3))", "T.zeros(2, 0)", "T.logspace(0, 2, 3)", "T.as_tensor([1.0, 2.0])",
        "T.ones(2, 2).new_zeros(3)")),
    "x / y [[-4, 7, 5, 4, -7, 8, -9], [2, -3, 8, -2, 3, 5, -5]]",
    "x.half().float() [(3, 4)]",                      # float16 is rejected
    # NumPy's meaning of the positional / axis= forms (torch's needs dim=)
    "T.cumsum(x, 0) [()]", "T.sort(x, 1, True)[1] [(3, 4)]", "x.max(1)[0] [(3, 4)]",
    "T.max(x, 1)[0] [(3, 4)]", "T.min(x, 0)[0] [(3, 4)]", "T.var(x) [(2, 3, 4)]",
    "T.std(x, 1) [(2, 3, 4)]",
    # not implemented
    "T.linalg.det(x) [(3, 3)]",
    "F.interpolate(x, size=(8, 8), mode='bicubic') [(2, 3, 7, 6)]",
    "F.grid_sample(x, y.tanh(), align_corners=False) [(1, 2, 4, 4), (1, 3, 3, 2)]",
}

PROBES = all_probes()


@pytest.mark.parametrize("mode", ["eager", "interpret"])
def test_torch_probes_pass_except_the_known_gaps(mode):
    failing, errors = {}, []
    for _, expr, spec in PROBES:
        status, why = run_probe(expr, spec, mode)
        if status == "torch-error":
            errors.append(f"{expr}: {why}")
        elif status != "pass":
            failing[probe_id(expr, spec)] = why
    assert not errors, f"probes torch itself rejects (fix the probe): {errors}"
    new = {k: v for k, v in failing.items() if k not in KNOWN_GAPS}
    assert not new, "probes failing:\n" + "\n".join(f"  {k}: {v}" for k, v in new.items())
    fixed = KNOWN_GAPS - set(failing)
    assert not fixed, f"passing now, remove from KNOWN_GAPS: {sorted(fixed)}"
