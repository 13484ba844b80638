"""Shared fixtures: the `mode` every numerical check runs in (see modes.py)."""
import pytest

from modes import MODES


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: exhaustive extras, deselect with -m 'not slow'")


@pytest.fixture(params=MODES)
def mode(request):
    """eager, and the compiled backends once `tracead.compile` exists."""
    return request.param
