"""Shared fixtures: the `mode` every numerical check runs in (see modes.py).

TRACEAD_* variables of the calling shell (TRACEAD_DISABLE=1, TRACEAD_CHECK,
TRACEAD_DEBUG, ...) would change what the suite tests, so they are cleared
when the session starts; only the test-mode override (TRACEAD_TEST_MODES),
the kernel cache location and the test-size knobs are kept.
"""
import os

import pytest

KEPT_ENVIRONMENT = ("TRACEAD_TEST_MODES", "TRACEAD_CACHE_DIR", "TRACEAD_HYPOTHESIS_EXAMPLES",
                    "TRACEAD_HYPOTHESIS_RANDOM", "TRACEAD_FUZZ_EXAMPLES")
for _name in [n for n in os.environ if n.startswith("TRACEAD_") and n not in KEPT_ENVIRONMENT]:
    del os.environ[_name]

from modes import MODES  # noqa: E402 - after the environment is clean


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: exhaustive extras, deselect with -m 'not slow'")


@pytest.fixture(params=MODES)
def mode(request):
    """eager, and the compiled backends once `tracead.compile` exists."""
    return request.param
