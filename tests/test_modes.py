"""The test helpers themselves: a compiled-mode check must fail when nothing was compiled."""
import numpy as np
import pytest

import tracead as ta
from modes import run


def double(x):
    return x * 2.0


def test_compiled_mode_fails_when_compiling_is_disabled(monkeypatch):
    monkeypatch.setenv("TRACEAD_DISABLE", "1")
    with pytest.raises(AssertionError, match="ran eagerly"):
        run("interpret", double, ta.tensor(np.ones(2)))


def test_compiled_mode_fails_when_every_call_retraces(monkeypatch):
    from tracead.runtime.variant import MISS, Variant

    monkeypatch.setattr(Variant, "run", lambda self, leaves: MISS)  # no variant ever applies
    with pytest.raises(AssertionError, match="did not run a compiled variant"):
        run("interpret", double, ta.tensor(np.ones(3)))
