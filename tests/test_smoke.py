"""The seeds' worked examples, as tests."""
import numpy as np
import pytest

import tracead as ta


def micrograd_example(a, b):
    c = a + b
    d = a * b + b**3
    c = c + c + 1
    c = c + 1 + c + (-a)
    d = d + d * 2 + (b + a).relu()
    d = d + 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g = g + 10.0 / f
    return g


def test_micrograd_example():
    a = ta.tensor(-4.0, requires_grad=True)
    b = ta.tensor(2.0, requires_grad=True)
    g = micrograd_example(a, b)
    g.backward()
    assert g.item() == pytest.approx(24.7041, abs=1e-4)
    assert a.grad.item() == pytest.approx(138.8338, abs=1e-4)
    assert b.grad.item() == pytest.approx(645.5773, abs=1e-4)


def test_static_graph_example():
    def g(a, o):
        b = 5 - 3 * a
        c = 2 * b + 3
        d = 5 * b + 6
        e = 7 * c + d**2
        f = 2 * e
        return 3 * f - o

    value, (da, do) = ta.value_and_grad(g, argnums=(0, 1))(2.0, 1.0)
    assert value.item() == 47
    assert da.item() == -432
    assert do.item() == -1
