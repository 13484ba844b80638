"""Compiled training steps: what the compiled call keeps, writes and allocates.

Each test runs the step several times compiled (the compiled path must run:
hits >= 1) and compares every step with a float64 NumPy reference of the
same update, so a memory or layout change that alters a value fails here.
"""
from __future__ import annotations

import numpy as np
import pytest

import tracead as ta


def _data(dtype, n=6, d=5, k=3, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, d)).astype(dtype), rng.standard_normal((n, k)).astype(dtype),
            rng.standard_normal((d, k)).astype(dtype))


def _ref_sgd_steps(X, Y, W0, lr, steps):
    """(losses, final W) of plain SGD on mean((X @ W - Y)^2), float64."""
    X, Y, W = X.astype(np.float64), Y.astype(np.float64), W0.astype(np.float64)
    losses = []
    for _ in range(steps):
        r = X @ W - Y
        losses.append(float((r * r).mean()))
        W = W - lr * (2.0 * X.T @ r / r.size)
    return losses, W


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradient_cleared_after_the_update_is_not_a_graph_output(dtype):
    """backward sets w.grad, the step sets it back to None: only the last write is
    replayed, so the gradient is no graph output (it may share a buffer) and
    w.grad stays None after every call."""
    X, Y, W0 = _data(dtype)
    w = ta.tensor(W0.copy(), requires_grad=True)
    lr = 0.1

    def step(X, Y):
        loss = ((X @ w - Y) ** 2).mean()
        loss.backward()
        with ta.no_grad():
            w.assign_(w - lr * w.grad)
            w.grad = None
        return loss

    f = ta.compile(step)
    ref_losses, ref_W = _ref_sgd_steps(X, Y, W0, lr, 4)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for ref_loss in ref_losses:
        np.testing.assert_allclose(float(f(X, Y)), ref_loss, rtol=tol)
        assert w.grad is None
    np.testing.assert_allclose(w.numpy(), ref_W, rtol=tol * 10, atol=tol)
    assert f.stats["hits"] >= 1 and f.stats["eager_calls"] == 0
    capture = f.order[-1].capture
    assert [e.kind for e in capture.effects] == ["assign", "grad"]
    assert capture.effects[1].var is None
    # loss + the new w: the gradient is not handed out
    assert len(capture.graph.outputs) == 2
    np.testing.assert_array_equal(X, _data(dtype)[0])  # arguments untouched


def test_two_assigns_to_one_tensor_replay_the_last():
    w = ta.tensor(np.arange(4.0), requires_grad=False)

    def step(x):
        w.assign_(w + x)
        w.assign_(w * 2.0)
        return w.sum()

    f = ta.compile(step)
    x = np.ones(4)
    expected = np.arange(4.0)
    for _ in range(3):
        expected = (expected + 1.0) * 2.0
        np.testing.assert_allclose(float(f(x)), expected.sum())
        np.testing.assert_allclose(w.numpy(), expected)
    assert f.stats["hits"] >= 1
    assert len(f.order[-1].capture.effects) == 1


def _forward_plan(f):
    return f.order[-1].forward_exec.memory_plan


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_reshape_of_a_transposed_view_is_a_value_of_its_own(dtype):
    """NumPy copies reshape(transpose(x)): the plan must not keep x alive for it (as it
    would for a view), and the copy must hold the right values while x's buffer is
    reused by later kernels."""
    rng = np.random.default_rng(1)
    a = rng.standard_normal((4, 3, 5)).astype(dtype)
    w = rng.standard_normal((7, 3)).astype(dtype)

    def f(a, w):
        t = ta.exp(a) * 2.0                                   # a planned buffer
        cols = ta.reshape(ta.transpose(t, (1, 0, 2)), (3, 20))  # a copy, not a view
        u = ta.tanh(a + 1.0) * 3.0                            # may take t's buffer
        return (w @ cols).sum() + u.sum()

    cf = ta.compile(f)
    ref = (w.astype(np.float64) @ (np.exp(a.astype(np.float64)) * 2.0).transpose(1, 0, 2).reshape(3, 20)).sum() \
        + (np.tanh(a.astype(np.float64) + 1.0) * 3.0).sum()
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for _ in range(2):
        np.testing.assert_allclose(float(cf(a, w)), ref, rtol=tol)
    assert cf.stats["hits"] >= 1
    plan = _forward_plan(cf)
    graph = plan.schedule.graph
    reshapes = [n.out.id for n in graph.nodes if n.prim.name == "reshape" and n.out.shape == (3, 20)]
    transposes = [n.out.id for n in graph.nodes if n.prim.name == "transpose"]
    assert reshapes and transposes
    assert all(r not in plan.views for r in reshapes)
    assert all(t in plan.views for t in transposes)  # the transpose itself is still a view


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_gradient_splits_ties_and_keeps_the_dtype(dtype):
    x = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, -1.0, 0.5, 2.0], [5.0, 5.0, 5.0, 5.0]], dtype)
    g = ta.grad(lambda x: (ta.max(x, axis=1) * ta.tensor(np.array([1.0, 2.0, 3.0], dtype))).sum())
    expected = np.array([[0, 0.5, 0.5, 0], [1.0, 0, 0, 1.0], [0.75, 0.75, 0.75, 0.75]], dtype)
    for fn in (g, ta.compile(g)):
        for _ in range(2):
            out = fn(x)
            assert out.dtype == dtype
            np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-6)


def test_conv_step_weight_gradient_matches_numpy_over_steps():
    """conv2d as one (O, K) @ (K, N*Ho*Wo) GEMM: compiled SGD steps on a conv layer
    agree with a float64 NumPy convolution and its hand-written gradient."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 2, 5, 5)).astype(np.float32)
    x_before = x.copy()
    w0 = (0.3 * rng.standard_normal((4, 2, 3, 3))).astype(np.float32)
    b0 = (0.1 * rng.standard_normal(4)).astype(np.float32)
    w, b = ta.tensor(w0.copy(), requires_grad=True), ta.tensor(b0.copy(), requires_grad=True)
    target = rng.standard_normal((3, 4, 5, 5)).astype(np.float32)
    lr = 0.05

    def step(x, target):
        y = ta.nn.functional.conv2d(x, w, b, padding=1)
        loss = ((y - target) ** 2).mean()
        loss.backward()
        with ta.no_grad():
            w.assign_(w - lr * w.grad)
            b.assign_(b - lr * b.grad)
            w.grad = None
            b.grad = None
        return loss

    def ref_windows(x):
        xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
        return np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(2, 3))  # n c h w i j

    f = ta.compile(step)
    W, B = w0.astype(np.float64), b0.astype(np.float64)
    win = ref_windows(x.astype(np.float64))
    for _ in range(3):
        y = np.einsum("nchwij,ocij->nohw", win, W) + B[:, None, None]
        r = y - target
        gy = 2.0 * r / r.size
        np.testing.assert_allclose(float(f(x, target)), float((r * r).mean()), rtol=1e-5)
        W, B = W - lr * np.einsum("nohw,nchwij->ocij", gy, win), B - lr * gy.sum(axis=(0, 2, 3))
        np.testing.assert_allclose(w.numpy(), W, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(b.numpy(), B, rtol=1e-4, atol=1e-6)
    assert f.stats["hits"] >= 1 and f.stats["eager_calls"] == 0
    np.testing.assert_array_equal(x, x_before)  # the argument is not written


def _gelu_slope64(x):
    c = np.sqrt(2.0 / np.pi)
    t = np.tanh(c * (x + 0.044715 * x ** 3))
    return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * c * (1.0 + 3 * 0.044715 * x * x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gelu_is_one_primitive_whose_gradient_reads_its_input(dtype):
    """GELU (tanh form) is the `gelu` primitive: the forward of a compiled training step
    keeps its input only, and the gradient matches the float64 formula and central
    differences."""
    x = np.linspace(-6.0, 6.0, 41).astype(dtype).reshape(41, 1) * np.ones((1, 3), dtype)
    graph = ta.make_graph(lambda x: ta.nn.functional.gelu(x, approximate="tanh").sum())(x)
    assert [n.prim.name for n in graph.nodes].count("gelu") == 1
    assert "tanh" not in [n.prim.name for n in graph.nodes]
    vg = ta.value_and_grad(lambda x: ta.gelu(x).sum())
    tol = 2e-6 if dtype == np.float32 else 1e-13
    x64 = x.astype(np.float64)
    for fn in (vg, ta.compile(vg)):
        for _ in range(2):
            value, g = fn(x)
            assert np.asarray(g).dtype == dtype
            np.testing.assert_allclose(np.asarray(g), _gelu_slope64(x64), rtol=tol, atol=tol)
    h = 1e-6
    fd = ((0.5 * (x64 + h) * (1 + np.tanh(np.sqrt(2 / np.pi) * ((x64 + h) + 0.044715 * (x64 + h) ** 3))))
          - (0.5 * (x64 - h) * (1 + np.tanh(np.sqrt(2 / np.pi) * ((x64 - h) + 0.044715 * (x64 - h) ** 3))))) / (2 * h)
    np.testing.assert_allclose(_gelu_slope64(x64), fd, atol=1e-7)
    # A compiled step saves the GELU input, not the formula's intermediates: every
    # float (41, 3) value the forward kernels hand to the backward is x itself or gelu's input.
    w = ta.tensor(np.ones((3, 3), dtype), requires_grad=True)

    def step(x):
        loss = ta.gelu(x @ w).sum()
        loss.backward()
        with ta.no_grad():
            w.assign_(w - 0.01 * w.grad)
            w.grad = None
        return loss

    f = ta.compile(step)
    f(x), f(x)
    plan = f.order[-1].forward_exec.memory_plan
    # (A matmul's product read only by its own epilogue lives within that kernel: not saved.)
    inside = {k.nodes[0].out.id for k in plan.schedule.kernels
              if k.kind == "matmul" and k.nodes[0].out not in k.outputs}
    wide = [b for b in plan.buffers if b.nbytes == x.nbytes and not set(b.vars) <= inside]
    assert len(wide) <= 2, plan


def test_buffers_idle_at_the_peak_are_dropped_and_values_stay_right():
    """A buffer reused by a later value is not held through the step where the call holds
    the most bytes: the held peak equals the live peak of the values written into buffers,
    and the compiled step still matches the reference over several calls."""
    from tracead.backends.numba.executable import buffer_segments, written_into_buffers

    rng = np.random.default_rng(5)
    x = rng.standard_normal((64, 32))
    w = ta.tensor(rng.standard_normal((32, 32)) * 0.1, requires_grad=True)
    w0 = w.numpy()

    def step(x):
        a = ta.tanh(x @ w)            # (64, 32), needed again in backward
        big = ta.exp(ta.reshape(a, (64, 32, 1)) * ta.ones((1, 1, 16)))  # the peak
        loss = big.mean() + (a * a).mean()
        loss.backward()
        with ta.no_grad():
            w.assign_(w - 0.1 * w.grad)
            w.grad = None
        return loss

    f = ta.compile(step)
    W = w0.copy()
    for _ in range(3):
        a = np.tanh(x @ W)
        e = np.exp(a)
        value = np.mean(np.repeat(e[:, :, None], 16, axis=2)) + np.mean(a * a)
        ga = (e / a.size + 2 * a / a.size) * (1 - a * a)
        np.testing.assert_allclose(float(f(x)), value, rtol=1e-12)
        W = W - 0.1 * (x.T @ ga)
        np.testing.assert_allclose(w.numpy(), W, rtol=1e-10)
    assert f.stats["hits"] >= 1
    ex = f.order[-1].forward_exec
    plan, end = ex.memory_plan, len(ex.schedule.kernels)
    writers = written_into_buffers(ex.schedule)
    segments = buffer_segments(plan, writers, end)
    held = [sum(plan.buffers[b].nbytes for b, first, last in segments if first <= k <= last)
            for k in range(end)]
    live = [sum(plan.buffers[plan.assignment[v]].nbytes for v, (a, b) in plan.live.items()
                if v in writers and v in plan.assignment and a <= k <= b) for k in range(end)]
    assert max(held) <= max(live)
    for b, first, last in segments:  # every value written into a buffer is inside one segment
        for v in plan.buffers[b].vars:
            if v in writers and first <= plan.live[v][0] <= last:
                assert plan.live[v][1] <= last or plan.buffers[b].output


@pytest.mark.parametrize("workload", ["W2 B=64", "W7"])
def test_compiled_step_peak_is_at_most_half_of_eager(workload):
    """Issue 15's memory target on the benchmark steps (benchmarks/step_memory.py prints
    the figures); the compiled step runs compiled and trains the same as eager."""
    from benchmarks.step_memory import _step, step_peak
    from benchmarks.workloads import Case, make_w2
    from benchmarks.workloads_models import make_w7

    case = make_w2(64) if workload.startswith("W2") else make_w7(Case)
    peaks, losses = {}, {}
    for compiled in (False, True):
        fn, args = _step(case, compiled)
        peaks[compiled] = step_peak(fn, args, calls=1)
        losses[compiled] = float(fn(*args))  # the 4th step of each
        if compiled:
            assert fn.stats["hits"] >= 3 and not fn.stats["eager_calls"]
    assert peaks[True] <= 0.5 * peaks[False], peaks
    np.testing.assert_allclose(losses[True], losses[False], rtol=1e-4)
