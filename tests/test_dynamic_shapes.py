"""Dynamic shapes: a size change alone does not force a new graph (runtime/dynamic.py).

The first call specialises; the next call that differs only in sizes traces a
dynamic variant (sizes as SymInts, symint.py) that serves every later size.
Every compiled call is compared with an independent NumPy reference (and the
eager function), and the compiled path must have run.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tracead as ta
from tracead import optim
from tracead.runtime.compiled import RecompileWarning

BATCHES = [32, 24, 16, 40, 32, 8, 12, 20, 28, 36, 44, 7]  # 12 batch sizes, the last ragged


# -- a training loop: MLP, Adam, a learning-rate schedule ---------------------------------------
def _params(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((8, 16)).astype(np.float32) * 0.3, np.zeros(16, np.float32),
            rng.standard_normal((16, 3)).astype(np.float32) * 0.3]


def _make_step(params, opt):
    w1, b1, w2 = params

    def step(x, y):
        opt.zero_grad()
        h = ta.relu(x @ w1 + b1)
        loss = ((h @ w2 - y) ** 2).mean()
        loss.backward()
        opt.step()
        return loss
    return step


class NumpyAdamMLP:
    """The same model, loss and Adam (torch's formulas) in NumPy, float64."""

    def __init__(self, params) -> None:
        self.p = [p.astype(np.float64) for p in params]
        self.m = [np.zeros_like(p) for p in self.p]
        self.v = [np.zeros_like(p) for p in self.p]
        self.t = 0

    def step(self, x, y, lr, b1=0.9, b2=0.999, eps=1e-8) -> float:
        w1, b, w2 = self.p
        pre = x @ w1 + b
        h = np.maximum(pre, 0)
        err = h @ w2 - y
        loss = float(np.mean(err ** 2))
        d_out = 2 * err / err.size  # the mean over the batch: 1/N for this batch's N
        g_w2 = h.T @ d_out
        d_pre = (d_out @ w2.T) * (pre > 0)
        grads = [x.T @ d_pre, d_pre.sum(0), g_w2]
        self.t += 1
        for i, g in enumerate(grads):
            self.m[i] = b1 * self.m[i] + (1 - b1) * g
            self.v[i] = b2 * self.v[i] + (1 - b2) * g * g
            m_hat, v_hat = self.m[i] / (1 - b1 ** self.t), self.v[i] / (1 - b2 ** self.t)
            self.p[i] = self.p[i] - lr * m_hat / (np.sqrt(v_hat) + eps)
        return loss


@pytest.mark.parametrize("backend", ["interpret", "numba"])
def test_training_loop_over_12_batch_sizes_compiles_two_variants(backend):
    init = _params()
    eager_p = [ta.tensor(p, requires_grad=True) for p in init]
    comp_p = [ta.tensor(p, requires_grad=True) for p in init]
    eager_opt, comp_opt = optim.Adam(eager_p, lr=1e-2), optim.Adam(comp_p, lr=1e-2)
    eager = _make_step(eager_p, eager_opt)
    compiled = ta.compile(_make_step(comp_p, comp_opt), backend=backend)
    reference = NumpyAdamMLP(init)
    rng = np.random.default_rng(1)
    for i, n in enumerate(BATCHES):
        x = rng.standard_normal((n, 8)).astype(np.float32)
        y = rng.standard_normal((n, 3)).astype(np.float32)
        rate = 1e-2 * 0.8 ** i  # the schedule: a new learning rate every step
        eager_opt.lr = comp_opt.lr = rate
        le, lc = float(eager(x, y)), float(compiled(x, y))
        lr_ = reference.step(x.astype(np.float64), y.astype(np.float64), rate)
        assert abs(lc - le) <= 1e-5 * abs(le), f"step {i} (batch {n}): {lc} vs eager {le}"
        assert abs(lc - lr_) <= 1e-4 * abs(lr_), f"step {i} (batch {n}): {lc} vs NumPy {lr_}"
        for pe, pc, pr in zip(eager_p, comp_p, reference.p):
            np.testing.assert_allclose(pc.numpy(), pe.numpy(), rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(pc.numpy(), pr, rtol=1e-3, atol=1e-5)
    assert len(compiled.order) <= 2, compiled.recompile_reasons
    assert compiled.stats["misses"] == 2 and compiled.stats["hits"] == len(BATCHES) - 2
    assert compiled.stats["eager_calls"] == 0 and not compiled.dynamic_off
    assert compiled.size_instances == len(set(BATCHES)) - 2  # one per new size, none traced


# -- sizes Python reads ------------------------------------------------------------------------
def _per_row(x):
    n = x.shape[0]
    rows = ta.reshape(x, (n, -1))  # (n, a*b): a size used in a reshape
    scale = rows.sum(axis=1) / n  # ... and in a division (a size-derived constant)
    return ta.reshape(rows * scale[:, None], (n * 2, -1)), rows.mean(axis=0)


@pytest.mark.parametrize("backend", ["interpret", "numba"])
def test_function_reading_shape_is_right_for_every_size(backend):
    f = ta.compile(_per_row, backend=backend)
    rng = np.random.default_rng(0)
    for n in [4, 6, 9, 5, 12, 3, 6]:
        x = rng.standard_normal((n, 2, 4))
        out, mean = f(x)
        rows = x.reshape(n, -1)
        np.testing.assert_allclose(out.numpy(), (rows * (rows.sum(1) / n)[:, None]).reshape(n * 2, -1),
                                   rtol=1e-12)
        np.testing.assert_allclose(mean.numpy(), rows.mean(0), rtol=1e-12)
    assert len(f.order) == 2 and f.stats["hits"] == 5 and not f.dynamic_off


def test_mean_over_the_batch_puts_no_guard_on_the_batch_size():
    f = ta.compile(lambda x: (x * x).mean(), backend="interpret", dynamic=True)
    for n in [3, 5, 8, 13]:
        x = np.arange(n * 2, dtype=np.float64).reshape(n, 2)
        assert float(f(x)) == pytest.approx(np.mean(x * x), rel=1e-12)
    assert len(f.order) == 1
    assert not [g for g in f.guards() if g.startswith("size guard")], f.guards()


def test_python_branch_on_a_size_is_a_size_guard_with_the_user_line():
    def f(x):
        if x.shape[0] > 6:  # a branch on the size: guarded, not baked in
            return x * 2
        return x - 1
    g = ta.compile(f, backend="interpret", dynamic=True)
    for n in [3, 4, 5, 8, 9, 2, 7]:
        x = np.ones((n, 11))
        np.testing.assert_array_equal(g(x).numpy(), x * 2 if n > 6 else x - 1)
    text = "\n".join(g.guards())
    assert "size guard: s0 > 6 (at test_dynamic_shapes.py" in text and "test_dynamic_shapes.py" in text, text
    assert len(g.order) == 2  # n > 6 takes the other branch: a second variant


def test_creation_ops_with_a_symbolic_size():
    def f(x):
        return x + ta.zeros(x.shape[0], 1) + ta.ones((x.shape[0], x.shape[1])) + ta.full(x.shape, 2.0)
    g = ta.compile(f, backend="interpret")
    for n in [3, 5, 7, 4]:
        x = np.arange(n * 3, dtype=np.float64).reshape(n, 3)
        np.testing.assert_array_equal(g(x).numpy(), x + 3.0)
    assert len(g.order) == 2 and not g.dynamic_off


def test_size_escaping_the_tracking_specialises_instead_of_answering_wrong():
    def f(x):
        return x / float(len(x))  # len() and float() give plain numbers: not trackable
    g = ta.compile(f, backend="interpret")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for n in [3, 5, 7, 4, 6]:
            x = np.ones((n, 2))
            np.testing.assert_allclose(g(x).numpy(), x / n)
    assert g.dynamic_off and "escaped" in g.dynamic_off
    assert any(issubclass(w.category, RecompileWarning) for w in caught)
    assert "shapes specialised" in "\n".join(g.recompile_reasons)


def test_unchecked_dynamic_trace_is_checked_at_the_first_new_size():
    g = ta.compile(lambda x: x * float(x.shape[0]), backend="interpret", dynamic=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RecompileWarning)
        for n in [3, 5, 7]:
            x = np.ones((n, 2))
            np.testing.assert_allclose(g(x).numpy(), x * n)
    assert g.dynamic_off  # float(n) escaped: found by the trace at the second size


# -- dynamic=True / False / None ------------------------------------------------------------
def _mlp(x, w):
    return ta.tanh(x @ w).sum(axis=1)


def test_dynamic_false_specialises_every_size():
    f = ta.compile(_mlp, backend="interpret", dynamic=False)
    w = np.ones((4, 3)) * 0.1
    for n in [2, 3, 4]:
        np.testing.assert_allclose(f(np.ones((n, 4)), w).numpy(), np.tanh(np.ones((n, 4)) @ w).sum(1))
    assert len(f.order) == 3 and not f.dynamic


def test_dynamic_true_is_symbolic_from_the_first_call():
    f = ta.compile(_mlp, backend="interpret", dynamic=True)
    rng = np.random.default_rng(0)
    for n, k in [(2, 4), (5, 4), (7, 6), (9, 6)]:  # no size equal to 3 (duck sizing)
        x, w = rng.standard_normal((n, k)), rng.standard_normal((k, 3))
        np.testing.assert_allclose(f(x, w).numpy(), np.tanh(x @ w).sum(1), rtol=1e-12)
    assert len(f.order) == 1 and f.stats["hits"] == 2  # the second size checks the trace
    assert "argument 0: ndarray float64[s0, s1]" in f.guards()


def test_sizes_0_and_1_are_specialised():
    f = ta.compile(lambda x, b: x + b, backend="interpret", dynamic=True)
    for n in [3, 4, 1, 5, 1]:
        x, b = np.ones((n, 3)), np.arange(3.0)
        np.testing.assert_array_equal(f(x, b).numpy(), x + b)
    assert len(f.order) == 2  # size 1 (it broadcasts) is its own variant


def test_automatic_marks_only_the_dimensions_that_changed():
    f = ta.compile(_mlp, backend="interpret")
    w = np.ones((4, 3))
    for n in [2, 3, 6]:
        f(np.ones((n, 4)), w)
    assert "argument 0: ndarray float64[s0, 4]" in f.guards()
    np.testing.assert_allclose(f(np.ones((9, 4)), w).numpy(), np.tanh(np.ones((9, 4)) @ w).sum(1))
    assert len(f.order) == 2


def test_explain_prints_symbolic_sizes():
    f = ta.compile(_mlp, backend="interpret", dynamic=True)
    w = np.ones((784, 10), np.float32) * 0.01
    f(np.ones((32, 784), np.float32), w)
    report = ta.explain(f, np.ones((48, 784), np.float32), w)
    text = str(report.text(verbose=1))
    assert "argument 0: ndarray float32[s0, s1]" in text and "s0, s1, s2, s3: any size >= 2" in text
    assert "size guard: s1 == s2 (at test_dynamic_shapes.py" in text, text  # the matmul's inner size


def test_arange_index_over_the_batch_is_symbolic():
    def nll(logits, y):  # W2/W3's loss: logp[np.arange(n), y]
        return -ta.log_softmax(logits, axis=1)[np.arange(logits.shape[0]), y].mean()
    f = ta.compile(nll, backend="interpret")
    rng = np.random.default_rng(0)
    for n in [4, 6, 9, 5]:
        x, y = rng.standard_normal((n, 5)), rng.integers(0, 5, n)
        logp = x - np.log(np.exp(x).sum(1, keepdims=True))
        assert float(f(x, y)) == pytest.approx(-logp[np.arange(n), y].mean(), rel=1e-12)
    assert len(f.order) == 2 and not f.dynamic_off, f.recompile_reasons


def test_an_index_array_that_only_looks_like_arange_is_not_generalised():
    idx = np.arange(4)
    g = ta.compile(lambda x: x[idx] * 1.0, backend="interpret")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RecompileWarning)
        for n in [6, 4, 9]:  # traced dynamically at 4, where idx equals arange(4)
            x = np.arange(n * 2.0).reshape(n, 2)
            np.testing.assert_array_equal(g(x).numpy(), x[idx])
    assert g.dynamic_off  # the check at size 6 saw arange(6) against the traced arange(4)


def test_check_mode_runs_dynamic_instances_beside_eager():
    f = ta.compile(lambda x, w: ta.tanh(x @ w).mean(axis=0), backend="interpret", check=True)
    w = np.ones((4, 3)) * 0.1
    for n in [2, 3, 5, 7, 5]:
        x = np.ones((n, 4)) * n
        np.testing.assert_allclose(f(x, w).numpy(), np.tanh(x @ w).mean(0), rtol=1e-12)
    assert len(f.order) == 2 and f.stats["hits"] == 3


@pytest.mark.parametrize("backend", ["interpret", "numba"])
def test_sizes_0_1_broadcasting_and_dtypes_between_calls(backend):
    g = ta.compile(lambda x, b: (x * b).sum(axis=1) / x.shape[1], backend=backend, max_variants=32)
    calls = [(3, 4), (5, 4), (0, 4), (1, 4), (6, 4), (6, 1), (7, 5), (2, 5)]
    for n, m in calls:
        for dt in (np.float32, np.float64):
            x, b = np.arange(n * m, dtype=dt).reshape(n, m), np.full(m, 2, dt)
            out = g(x, b)
            assert out.dtype == dt and out.shape == (n,)
            np.testing.assert_allclose(out.numpy(), (x * b).sum(1) / m, rtol=1e-6)
    assert g.stats["hits"] >= 4 and g.stats["eager_calls"] == 0 and not g.dynamic_off


def test_guards_describe_size_derived_constants_of_every_kind():
    def f(x, y):
        z = ta.zeros(x.shape[0]) + x.sum(axis=1) / x.shape[1]
        return z + x[np.arange(x.shape[0]), y]
    g = ta.compile(f, backend="interpret", dynamic=True)
    for n in [3, 5]:
        g(np.ones((n, 4)), np.zeros(n, np.int64))
    text = "\n".join(g.guards())
    assert "full(<symbolic shape>, 0.0)" in text and "arange(<symbolic size>)" in text, text
    assert "size-derived constant: s1" in text, text
