"""Backends turn an optimised Graph into an executable.

An executable is called with a list of NumPy arrays (the graph inputs) and
returns a list of NumPy arrays (the graph outputs). `interpret` runs the
graph op by op with NumPy (the reference); `numba` fuses it into kernels.
"""
from __future__ import annotations

from .interpret import InterpretBackend

BACKENDS = {"interpret": InterpretBackend}


def get_backend(name: str, options: dict):
    if name == "numba" and "numba" not in BACKENDS:
        try:
            from .numba.backend import NumbaBackend

            BACKENDS["numba"] = NumbaBackend
        except ImportError:
            BACKENDS["numba"] = InterpretBackend  # until the code generator lands
    try:
        return BACKENDS[name](options)
    except KeyError:
        raise ValueError(f"unknown backend {name!r}; choose from 'numba', 'interpret', 'eager'") from None
