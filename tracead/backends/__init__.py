"""Backends turn an optimised Graph into an executable.

An executable is called with a list of NumPy arrays (the graph inputs) and
returns a list of NumPy arrays (the graph outputs). `interpret` runs the
graph op by op with NumPy (the reference); `numba` fuses it into kernels.

The Numba backend is imported on first use (importing Numba takes about a
second). An import that stops half-way (Ctrl-C during the first compile, an
error in a Numba submodule) leaves half-initialised modules in sys.modules,
and every later import would fail on them ("partially initialized module
'numba.core.types'"); `_import_numba_backend` removes every module the failed
attempt added, so the next compile imports from scratch.
"""
from __future__ import annotations

import sys

from ..errors import TraceadError
from .interpret import InterpretBackend

BACKENDS = {"interpret": InterpretBackend}


class BackendUnavailableError(TraceadError, ImportError):
    """The chosen backend cannot be loaded (Numba missing or broken)."""


def _import_numba_backend():
    before = set(sys.modules)
    try:
        from .numba.backend import NumbaBackend
    except BaseException:
        for name in set(sys.modules) - before:
            del sys.modules[name]
        # A failed import may still have bound the half-imported subpackage here.
        if "tracead.backends.numba" not in sys.modules:
            globals().pop("numba", None)
        raise
    return NumbaBackend


def get_backend(name: str, options: dict):
    if name == "numba" and "numba" not in BACKENDS:
        try:
            BACKENDS["numba"] = _import_numba_backend()
        except ImportError as exc:  # not cached: the next compile tries again
            raise BackendUnavailableError(
                f"the numba backend cannot be loaded ({type(exc).__name__}: {exc}); install or "
                f"repair numba, or compile with backend='interpret' (NumPy, op by op) or "
                f"backend='eager'") from exc
    try:
        return BACKENDS[name](options)
    except KeyError:
        raise ValueError(f"unknown backend {name!r}; choose from 'numba', 'interpret', 'eager'") from None
