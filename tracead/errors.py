"""Errors and user source locations, shared by every pipeline stage.

Every error a user sees names the op, the shapes and dtypes involved and the
line of *their* code that asked for it, so we need one way to find that line:
the innermost stack frame that is not inside the tracead package.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import numpy as np

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
# The demo is user code that happens to ship inside the package: its lines are
# the ones explain should show (not the line that started the demo).
_USER_FILES = frozenset({os.path.join(_PACKAGE_DIR, "demo.py")})


@dataclass(frozen=True, slots=True)
class SourceLoc:
    """Where in the user's code something happened."""

    file: str
    line: int
    function: str

    def __str__(self) -> str:
        return f"{os.path.basename(self.file)}:{self.line} in {self.function}"


def user_source(skip: int = 1) -> SourceLoc | None:
    """The innermost frame outside tracead (None if there is none)."""
    frame = sys._getframe(skip)
    while frame is not None:
        filename = frame.f_code.co_filename
        path = os.path.abspath(filename)
        if not path.startswith(_PACKAGE_DIR) or path in _USER_FILES:
            return SourceLoc(filename, frame.f_lineno, frame.f_code.co_name)
        frame = frame.f_back
    return None


class TraceadError(Exception):
    """Base class of the errors tracead raises on purpose."""


class OpError(TraceadError, ValueError):
    """An op was called with inputs it cannot take (shape, dtype, params)."""


class OpTypeError(TraceadError, TypeError):
    """An op was called with an unsupported type or dtype."""


class OpIndexError(TraceadError, IndexError, ValueError):
    """An index out of range or of the wrong shape (an IndexError, as in NumPy)."""


class UnsupportedInCompile(TraceadError):
    """A construct the tracer cannot capture faithfully."""


def describe(*avals) -> str:
    """'float32[3,4] and float64[]' for error messages."""
    return " and ".join(f"{np_name(a.dtype)}{list(a.shape)}" for a in avals)


def np_name(dtype) -> str:
    return np.dtype(dtype).name


def op_error(op: str, message: str, *avals, type_error: bool = False,
             index_error: bool = False) -> TraceadError:
    """Build an error naming the op, its inputs and the user's line."""
    where = user_source(2)
    parts = [f"{op}: {message}"]
    if avals:
        parts.append(f"(inputs: {describe(*avals)})")
    if where is not None:
        parts.append(f"at {where}")
    cls = OpTypeError if type_error else OpIndexError if index_error else OpError
    return cls(" ".join(parts))


class CheckError(TraceadError, AssertionError):
    """Check mode (`compile(check=True)`): a compiled call disagreed with the eager run."""
