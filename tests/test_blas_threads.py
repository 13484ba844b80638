"""TRACEAD_BLAS_THREADS: BLAS capped while a compiled call with a matmul runs, then restored."""
from __future__ import annotations

import numpy as np
import pytest

import tracead as ta
from tracead.backends.numba import threads


class FakeBlas:
    """A threadpoolctl-like library controller recording the thread counts it was given."""

    def __init__(self, n: int) -> None:
        self.n, self.log = n, []

    def get_num_threads(self) -> int:
        return self.n

    def set_num_threads(self, n: int) -> None:
        self.n = n
        self.log.append(n)


@pytest.fixture
def fake_blas(monkeypatch):
    libs = [FakeBlas(4), FakeBlas(1)]
    monkeypatch.setattr(threads.BlasCap, "_libraries", libs)
    return libs


def _compiled(fn, *args):
    cf = ta.compile(fn)
    cf(*args)
    out = cf(*args)  # the second call runs the kernels
    assert cf.stats["hits"] >= 1 and cf.stats["eager_calls"] == 0
    return cf, out


def _mlp(x, w):
    return ta.relu(x @ w).sum(axis=0)


X = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
W = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)


def test_cap_applies_during_the_call_and_restores(fake_blas, monkeypatch):
    monkeypatch.setenv("TRACEAD_BLAS_THREADS", "2")
    cf, out = _compiled(_mlp, X, W)
    np.testing.assert_allclose(out.numpy(), np.maximum(X @ W, 0).sum(axis=0), rtol=1e-5)
    busy, single = fake_blas
    assert busy.n == 4 and busy.log[-2:] == [2, 4]  # capped for the call, then restored
    assert single.log == []  # already below the cap: untouched


def test_no_cap_without_the_variable_or_without_a_matmul(fake_blas, monkeypatch):
    monkeypatch.delenv("TRACEAD_BLAS_THREADS", raising=False)
    _compiled(_mlp, X, W)
    monkeypatch.setenv("TRACEAD_BLAS_THREADS", "1")
    _, out = _compiled(lambda x: ta.tanh(x).sum(), X)
    np.testing.assert_allclose(out.numpy(), np.tanh(X).sum(), rtol=1e-5)
    assert [lib.log for lib in fake_blas] == [[], []]


def test_real_blas_threads_unchanged_after_a_capped_call(monkeypatch):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    before = [(i["filepath"], i["num_threads"]) for i in threadpoolctl.threadpool_info()
              if i["user_api"] == "blas"]
    monkeypatch.setenv("TRACEAD_BLAS_THREADS", "1")
    _, out = _compiled(_mlp, X, W)
    np.testing.assert_allclose(out.numpy(), np.maximum(X @ W, 0).sum(axis=0), rtol=1e-5)
    after = [(i["filepath"], i["num_threads"]) for i in threadpoolctl.threadpool_info()
             if i["user_api"] == "blas"]
    assert after == before


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_bad_value_is_a_clear_error(monkeypatch, value):
    monkeypatch.setenv("TRACEAD_BLAS_THREADS", value)
    with pytest.raises(ValueError, match="TRACEAD_BLAS_THREADS"):
        ta.config.blas_threads()
