"""Per-thread mode state: grad mode and the active tracer.

Kept per thread so that two threads calling a compiled function (one tracing,
one running) never see each other's modes.
"""
from __future__ import annotations

import contextlib
import threading


class _State(threading.local):
    def __init__(self) -> None:
        self.grad_enabled = True
        self.tracers: list = []
        self.grad_depth = 0  # how many grad transforms are running f right now


STATE = _State()


def grad_enabled() -> bool:
    return STATE.grad_enabled


@contextlib.contextmanager
def set_grad_enabled(enabled: bool):
    previous = STATE.grad_enabled
    STATE.grad_enabled = enabled
    try:
        yield
    finally:
        STATE.grad_enabled = previous


def no_grad():
    """`with ta.no_grad():` records nothing on the autograd tape."""
    return set_grad_enabled(False)


def enable_grad():
    """`with ta.enable_grad():` records on the autograd tape again (inside a `no_grad` block)."""
    return set_grad_enabled(True)


def current_tracer():
    tracers = STATE.tracers
    return tracers[-1] if tracers else None


@contextlib.contextmanager
def tracing(tracer):
    STATE.tracers.append(tracer)
    try:
        yield tracer
    finally:
        STATE.tracers.pop()
