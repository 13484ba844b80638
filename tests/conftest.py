"""Shared fixtures: the `mode` every numerical check runs in (see modes.py).

TRACEAD_* variables of the calling shell (TRACEAD_DISABLE=1, TRACEAD_CHECK,
TRACEAD_DEBUG, TRACEAD_MAX_VARIANTS, ...) would change what the suite tests,
so they are cleared when the session starts; kept are the explicit test-mode
overrides (TRACEAD_TEST_MODES; TRACEAD_PARALLEL_THRESHOLD=0 runs every kernel
parallel, see test_parallel.py), the kernel cache location and the opt-in
test knobs.
"""
import os

import pytest

KEPT_ENVIRONMENT = ("TRACEAD_TEST_MODES", "TRACEAD_PARALLEL_THRESHOLD", "TRACEAD_CACHE_DIR",
                    "TRACEAD_HYPOTHESIS_EXAMPLES", "TRACEAD_HYPOTHESIS_RANDOM", "TRACEAD_FUZZ_EXAMPLES",
                    "TRACEAD_SLOW_EXAMPLES", "TRACEAD_KEEP_SCREENSHOT")
for _name in [n for n in os.environ if n.startswith("TRACEAD_") and n not in KEPT_ENVIRONMENT]:
    del os.environ[_name]

from modes import MODES  # noqa: E402 - after the environment is clean


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: exhaustive extras, deselect with -m 'not slow'")


@pytest.fixture(params=MODES)
def mode(request):
    """eager, and the compiled backends once `tracead.compile` exists."""
    return request.param


@pytest.fixture(params=["interpret", "numba"])
def backend(request):
    """A compiled backend (for tests of compile semantics rather than of ops)."""
    return request.param


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """An empty on-disk kernel cache in tmp_path, and no kernel modules in memory."""
    from tracead.backends.numba import cache

    monkeypatch.setenv("TRACEAD_CACHE_DIR", str(tmp_path))
    cache.clear_memory()
    yield tmp_path
    cache.clear_memory()
