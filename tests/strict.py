"""`run_strict`: run a function in a mode and prove the compiled path ran.

`modes.run` shares compiled wrappers across tests; the regression tests of
the op fixes want their own wrapper, so they can check that the second call
hit a compiled variant (no eager fallback) and compare *that* result.
"""
from __future__ import annotations

import tracead as ta


def run_strict(mode: str, fn, *args):
    """fn(*args) eagerly, or the second call of `ta.compile(fn, backend=mode)`."""
    if mode == "eager":
        return fn(*args)
    compiled = ta.compile(fn, backend=mode)
    compiled(*args)  # traces; returns the traced eager run
    out = compiled(*args)
    stats = compiled.stats
    assert stats["hits"] >= 1 and stats["misses"] == 1 and stats["eager_calls"] == 0, stats
    return out
