"""TRACEAD_BLAS_THREADS: BLAS capped while a compiled call with a matmul runs, then restored;
unset, BlasTuner times calls with the pool's own count and with 1 thread and keeps the faster."""
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


def test_no_cap_without_a_matmul(fake_blas, monkeypatch):
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


def test_without_the_variable_the_tuner_tries_both_then_keeps_the_faster(fake_blas, monkeypatch):
    monkeypatch.delenv("TRACEAD_BLAS_THREADS", raising=False)
    cf, out = _compiled(_mlp, X, W)
    exe = cf.order[-1].forward_exec
    tuner = exe.tuner
    assert tuner is not None
    for _ in range(2 * tuner.KEEP):
        np.testing.assert_allclose(cf(X, W).numpy(), np.maximum(X @ W, 0).sum(axis=0), rtol=1e-5)
    busy, single = fake_blas
    assert busy.n == 4 and 1 in busy.log and single.log == []  # capped calls restored after
    assert len(tuner.times[1]) and len(tuner.times[None])


def _run(tuner, seconds_of, calls):
    picks = []
    for _ in range(calls):
        cap = tuner.choose()
        picks.append(cap)
        tuner.record(cap, seconds_of(cap))
    return picks


def test_tuner_keeps_one_thread_when_it_is_faster_and_explores_less_and_less():
    tuner = threads.BlasTuner()
    picks = _run(tuner, lambda cap: 0.01 if cap == 1 else 0.08, 600)
    learn = 2 * tuner.KEEP
    assert set(picks[:learn]) == {1, None}
    tries = [i for i, c in enumerate(picks[learn:]) if c is None]
    assert picks[learn:].count(1) > 0.97 * (600 - learn)
    gaps = [b - a for a, b in zip(tries, tries[1:])]
    assert gaps == sorted(gaps) and gaps[-1] == tuner.MAX_GAP  # backs off while the choice stands


def test_tuner_follows_the_machine_when_the_faster_setting_changes():
    tuner = threads.BlasTuner()
    _run(tuner, lambda cap: 0.01 if cap is None else 0.02, 100)  # idle cores: the pool wins
    assert tuner.best() is None
    _run(tuner, lambda cap: 0.01 if cap is None else 0.02, 1000)  # long steady: rare tries
    picks = _run(tuner, lambda cap: 0.5 if cap is None else 0.02, 40)  # busy: one thread wins
    assert tuner.best() == 1 and picks[-30:].count(1) >= 29  # within a few calls


def test_tuner_leaves_short_calls_alone():
    tuner = threads.BlasTuner()
    picks = _run(tuner, lambda cap: tuner.MIN_SECONDS / 8 if cap is None else tuner.MIN_SECONDS / 4, 300)
    assert picks[2 * tuner.KEEP:].count(None) == 300 - 2 * tuner.KEEP  # no cap, no tries
    picks = _run(tuner, lambda cap: 4 * tuner.MIN_SECONDS if cap is None else tuner.MIN_SECONDS, 30)
    assert tuner.best() == 1 and picks[-20:].count(1) == 20  # slow again (busy): tuned again
