"""`.backward()` on the output of a compiled function, against finite differences.

The three calls take the three gradient paths of a variant: the traced eager
call, the forward-only compiled call whose first backward recomputes, and the
joint forward+backward graph the variant switches to after that backward.
"""
from __future__ import annotations

import numpy as np
import pytest

import tracead as ta
from tracead.runtime.variant import Variant


def loss(a, b, c):
    return (a * ta.exp(b) - c * c * a).sum()


def reference(a, b, c):
    return float(np.sum(a * np.exp(b) - c * c * a))


def finite_differences(f, arrays, eps=1e-6) -> list[np.ndarray]:
    grads = []
    for k, x in enumerate(arrays):
        g = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            plus = [a.copy() for a in arrays]
            minus = [a.copy() for a in arrays]
            plus[k][idx] += eps
            minus[k][idx] -= eps
            g[idx] = (f(*plus) - f(*minus)) / (2 * eps)
        grads.append(g)
    return grads


def check_backward_three_calls(backend: str) -> None:
    rng = np.random.default_rng(3)
    arrays = [rng.uniform(-1, 1, (4,)), rng.uniform(-1, 1, (4,)), rng.uniform(-1, 1, (1,))]
    expected = finite_differences(reference, arrays)
    cf = ta.compile(loss, backend=backend)
    for call in range(3):
        leaves = [ta.tensor(a, requires_grad=True) for a in arrays]
        out = cf(*leaves)
        assert np.isclose(out.item(), reference(*arrays), rtol=1e-12)
        out.backward()
        for k, (t, want) in enumerate(zip(leaves, expected)):
            np.testing.assert_allclose(t.grad.numpy(), want, rtol=1e-7, atol=1e-9,
                                       err_msg=f"call {call + 1}: gradient of argument {k}")
    assert cf.stats["hits"] == 2 and cf.stats["eager_calls"] == 0
    assert cf.order[0].backward_exec is not None  # the third call ran the compiled backward


@pytest.mark.parametrize("backend", ["interpret", "numba"])
def test_backward_of_compiled_output_matches_finite_differences(backend):
    check_backward_three_calls(backend)


def test_swapped_gradients_fail_the_check(monkeypatch):
    """The test above must be able to fail: swap the compiled backward's first two grads."""
    real = Variant.backward

    def swapped(self, cts, outs, inputs, saved):
        grads = list(real(self, cts, outs, inputs, saved))
        grads[0], grads[1] = grads[1], grads[0]
        return grads

    monkeypatch.setattr(Variant, "backward", swapped)
    with pytest.raises(AssertionError, match="call 2: gradient of argument 0"):
        check_backward_three_calls("interpret")
