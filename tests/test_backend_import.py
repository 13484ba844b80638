"""The Numba backend's lazy import survives being interrupted.

Ctrl-C during the first compile (which imports Numba, about a second) used to
leave half-initialised Numba modules in sys.modules, and every later compile
of the process failed with "partially initialized module 'numba.core.types'".
"""
from __future__ import annotations

import subprocess
import sys

import pytest

# Raises KeyboardInterrupt the first time module TARGET is imported, as a Ctrl-C
# landing in the middle of Numba's import would, then compiles again.
_INTERRUPTED = r"""
import sys, numpy as np
TARGET = sys.argv[1]

class CtrlC:
    fired = False

    def find_spec(self, name, path=None, target=None):
        if name == TARGET and not CtrlC.fired:
            CtrlC.fired = True
            raise KeyboardInterrupt
        return None

sys.meta_path.insert(0, CtrlC())
import tracead as ta
x = np.arange(3.0)
try:
    cf = ta.compile(lambda x: ta.exp(x) * 2.0)
    cf(x)
    cf(x)
except KeyboardInterrupt:
    pass
assert CtrlC.fired
cf = ta.compile(lambda x: ta.exp(x) * 2.0)
cf(x)
out = cf(x)
assert cf.stats["hits"] >= 1 and type(cf.backend).__name__ == "NumbaBackend", (cf.stats, cf.backend)
assert np.allclose(out.numpy(), np.exp(x) * 2.0, rtol=1e-14, atol=0)
print("recovered")
"""


@pytest.mark.parametrize("target", ["numba.core.types.npytypes", "tracead.backends.numba.steps"])
def test_compile_recovers_after_ctrl_c_during_the_numba_import(target):
    done = subprocess.run([sys.executable, "-c", _INTERRUPTED, target], capture_output=True, text=True)
    assert done.returncode == 0 and "recovered" in done.stdout, done.stderr[-2000:]


# `sys.modules["numba"] = None` makes every `import numba` raise ImportError, as on a
# machine without Numba (or with a broken install).
_NO_NUMBA = r"""
import sys, numpy as np
sys.modules["numba"] = None
import tracead as ta
from tracead.backends import BackendUnavailableError

x = np.arange(3.0)
cf = ta.compile(lambda x: ta.exp(x) * 2.0)
try:
    cf(x)
except BackendUnavailableError as e:
    assert isinstance(e, ImportError) and "numba backend cannot be loaded" in str(e), e
    assert "backend='interpret'" in str(e), e
    print("clear error")
else:
    raise AssertionError(f"compiled without numba, on {type(cf.backend).__name__}")
cf = ta.compile(lambda x: ta.exp(x) * 2.0, backend="interpret")  # the named alternative works
cf(x)
assert np.allclose(cf(x).numpy(), np.exp(x) * 2.0) and cf.stats["hits"] >= 1
"""


def test_missing_numba_is_a_clear_error_not_a_silent_interpreter():
    done = subprocess.run([sys.executable, "-c", _NO_NUMBA], capture_output=True, text=True)
    assert done.returncode == 0 and "clear error" in done.stdout, done.stderr[-2000:]
