"""How a test runs a function: eagerly, or through `tracead.compile`.

Every numerical check in the suite goes through `run` / `run_value_and_grad`,
parametrised over `MODES`, so the same tables exercise the compiler as soon
as it exists. `TRACEAD_TEST_MODES=eager,interpret` overrides the list.

Compiled wrappers are cached per (function, mode, argument signature): the
repeated calls of a finite-difference check reuse one compiled variant, and
no wrapper collects more variants than the recompile limit (past it, a
compiled function quietly runs eagerly, which would hide the compiler). The
first call of a new wrapper traces, and a traced call returns the eager run
it recorded, so `run` calls it a second time to return the compiled result,
and asserts that this call really ran compiled (a variant hit, no eager
fallback): a test that passes with TRACEAD_DISABLE=1 tests nothing.

The "checked" mode is numba with check mode on (`compile(check=True)`): each
compiled call is also run eagerly and compared. It is not in MODES (that
would double the suite); tests opt in with `mode_params(["checked"])`.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

import tracead as ta

COMPILED_MODES = ["interpret", "numba"] if hasattr(ta, "compile") else []
MODES = ["eager"] + COMPILED_MODES
if os.environ.get("TRACEAD_TEST_MODES"):
    MODES = [m.strip() for m in os.environ["TRACEAD_TEST_MODES"].split(",") if m.strip()]

_COMPILED: dict = {}
# mode -> (backend, extra compile options)
_BACKENDS = {"interpret": ("interpret", {}), "numba": ("numba", {}),
             "checked": ("numba", {"check": True})}


def _signature(args) -> tuple:
    """What the compile guards look at: shapes, dtypes, requires_grad, scalars."""
    sig = []
    for a in args:
        if isinstance(a, (ta.Tensor, np.ndarray)):
            sig.append((type(a).__name__, a.shape, str(a.dtype), getattr(a, "requires_grad", False)))
        else:
            sig.append((type(a).__name__, a))
    return tuple(sig)


def run(mode: str, fn, *args):
    """fn(*args) in `mode`."""
    if mode == "eager":
        return fn(*args)
    key = (fn, mode, _signature(args))
    compiled = _COMPILED.get(key)
    if compiled is None:
        backend, options = _BACKENDS[mode]
        compiled = _COMPILED[key] = ta.compile(fn, backend=backend, **options)
        compiled(*args)  # traces; the result is the traced eager run
    hits = compiled.stats["hits"]
    out = compiled(*args)
    assert_ran_compiled(compiled, hits)
    return out


def assert_ran_compiled(compiled, hits_before: int) -> None:
    """The last call of `compiled` ran a compiled variant (not eagerly, not a new trace)."""
    stats = compiled.stats
    assert not compiled.gave_up and stats["eager_calls"] == 0, (
        f"{compiled.__name__} ran eagerly (gave_up={compiled.gave_up}, stats={stats}): "
        f"the compiled path was not tested")
    assert stats["hits"] == hits_before + 1, (
        f"{compiled.__name__} did not run a compiled variant (stats={stats}, "
        f"recompiles: {compiled.recompile_reasons[1:]})")


_VG: dict = {}


def value_and_grad_fn(fn, argnums):
    """One `ta.value_and_grad(fn, argnums)` per (fn, argnums), so compiled modes reuse it."""
    key = (fn, argnums)
    if key not in _VG:
        _VG[key] = ta.value_and_grad(fn, argnums)
    return _VG[key]


def run_value_and_grad(mode: str, fn, argnums, *args):
    """`ta.value_and_grad(fn, argnums)(*args)` in `mode` (compiled as one function)."""
    return run(mode, value_and_grad_fn(fn, argnums), *args)


def mode_params(modes=None):
    """`pytest.mark.parametrize("mode", ...)` over the modes."""
    return pytest.mark.parametrize("mode", MODES if modes is None else modes)
