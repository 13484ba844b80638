"""The Numba executable: the call path and the memory plan it follows.

Compiled results must equal the reference interpreter's while kernels write
into the memory plan's buffers: buffers really are shared between values,
a value still readable (a view handed out, an output) is never overwritten by
a later one, the peak memory of a compiled training step follows the plan,
and a call that passes its guards does no work a previous call already did.
"""
import sys
import tracemalloc

import numpy as np
import pytest

import tracead as ta
from checks import run_in_threads
from benchmarks.tracead_impls import mlp_step
from tracead.backends.numba import steps as steps_module
from tracead.backends.numba.backend import NumbaBackend
from tracead.ir import interpret
from tracead.plan.memory import written
from tracead.trace.capture import capture

RNG = np.random.default_rng(0)


def mlp_case(batch, sizes=(784, 512, 256, 10)):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], batch)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        params += [(rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)).astype(np.float32),
                   np.zeros(fan_out, np.float32)]
    return X, y, params


def check_against_interpreter(fn, args, **options):
    """The optimised forward graph of fn, run by the Numba executable and the interpreter."""
    cf = ta.compile(fn, **options)
    cf(*args)
    variant = cf.order[-1]
    exe = variant.forward_exec
    arrays = variant.input_arrays([args[i] for i in variant.capture.arg_positions])
    want = interpret(variant.forward_graph, list(arrays))
    for _ in range(2):  # the second run reuses nothing from the first
        got = exe(list(arrays))
        for w, g in zip(want, got):
            assert g.dtype == w.dtype and g.shape == w.shape
            np.testing.assert_allclose(g, w, rtol=2e-5, atol=1e-6)
    return exe


def test_mlp_step_graph_matches_interpreter_and_shares_buffers():
    X, y, init = mlp_case(32, (20, 16, 12, 5))
    params = [ta.tensor(p, requires_grad=True) for p in init]
    exe = check_against_interpreter(mlp_step(params, np.float32(0.1)), (X, y))
    plan = exe.memory_plan
    values = [v for k in exe.schedule.kernels for v in k.outputs]
    assert exe.allocations < len(values)
    assert any(len(b.vars) > 1 for b in plan.buffers)  # some buffer holds two values over time


def test_each_call_allocates_only_the_planned_buffers(monkeypatch):
    X, y, init = mlp_case(32, (20, 16, 12, 5))
    params = [ta.tensor(p, requires_grad=True) for p in init]
    cf = ta.compile(mlp_step(params, np.float32(0.1)))
    cf(X, y)
    cf(X, y)
    exe = cf.order[-1].forward_exec
    calls = []
    empty = np.empty

    def counting_empty(*args, **kwargs):
        caller = sys._getframe(1).f_code.co_filename  # the executable's, not NumPy impls'
        if caller.startswith("<tracead call") or caller == steps_module.__file__:
            calls.append(args)
        return empty(*args, **kwargs)

    monkeypatch.setattr(np, "empty", counting_empty)
    cf(X, y)
    values = [v for k in exe.schedule.kernels if k.kind != "opaque" for v in written(k)]
    assert len(calls) == exe.allocations < len(values)


def test_view_of_a_reused_buffer_is_copied_before_the_buffer_is_reused():
    def f(x, m):
        y = ta.exp(x) + 1.0
        z = y[1:3]  # a NumPy view of y's buffer, returned to the caller
        w = (ta.tanh(x * z.sum()) * 3.0) @ m  # written after z, into y's buffer by the plan
        return z, w

    x, m = RNG.standard_normal((4, 5)), RNG.standard_normal((5, 5))
    cf = ta.compile(f)
    for _ in range(3):
        z, w = cf(x, m)
        np.testing.assert_allclose(z.numpy(), (np.exp(x) + 1)[1:3])
        np.testing.assert_allclose(w.numpy(), (np.tanh(x * (np.exp(x) + 1)[1:3].sum()) * 3) @ m)
    exe = cf.order[-1].forward_exec
    if any(len(b.vars) > 1 for b in exe.memory_plan.buffers):  # the hazard exists in this schedule
        assert any(getattr(s, "private", ()) for s in exe.steps)


def test_outputs_are_never_written_by_a_later_call():
    cf = ta.compile(lambda x: (ta.exp(x) * 2.0, (x * x).sum()))
    x = RNG.standard_normal((8, 3))
    cf(x)  # traces
    kept = cf(x)
    first = [t.numpy().copy() for t in kept]
    for _ in range(3):
        cf(x + 1.0)
    for a, b in zip(first, kept):
        np.testing.assert_array_equal(a, b.numpy())


def test_a_returned_constant_is_a_copy():
    cf = ta.compile(lambda x: (x * 2.0, ta.tensor(np.ones(3))))
    x = np.ones(2)
    cf(x)
    _, c = cf(x)
    c.numpy()[:] = 7.0
    np.testing.assert_array_equal(cf(x)[1].numpy(), np.ones(3))


def test_layouts_the_prediction_did_not_expect():
    def f(x, y):
        return ta.tanh(x) * y + x.T.sum(axis=0)

    x, y = RNG.standard_normal((6, 6)), RNG.standard_normal((6, 6))
    cf = ta.compile(f)
    for args in [(x, y), (np.asfortranarray(x), y), (x[:, ::-1], y[::-1]), (x, y)]:
        expected = np.tanh(args[0]) * args[1] + args[0].T.sum(axis=0)
        np.testing.assert_allclose(cf(*args).numpy(), expected, rtol=1e-12)
    assert cf.stats["misses"] == 1


def test_matmul_epilogues_write_into_planned_buffers():
    def f(x, w, b):
        h = ta.relu(x @ w + b)
        return (h @ w.T).sum(), h

    args = (RNG.standard_normal((5, 4)), RNG.standard_normal((4, 4)), RNG.standard_normal(4))
    check_against_interpreter(f, args)
    check_against_interpreter(lambda v, u: (v @ u) * 2.0, (RNG.standard_normal(4), RNG.standard_normal(4)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_row_stack_times_a_matrix_runs_as_one_product(dtype):
    """(..., m, k) @ (k, n) runs as one (rows, k) GEMM into its buffer; other layouts,
    empty stacks and mixed dtypes keep NumPy's own matmul. Same values either way."""
    matmul_p = ta.ops.PRIMS["matmul"]
    w = RNG.standard_normal((4, 3)).astype(dtype)
    for x in [RNG.standard_normal((2, 5, 4)), RNG.standard_normal((2, 1, 5, 4)),
              RNG.standard_normal((5, 2, 4)).transpose(1, 0, 2), np.zeros((0, 5, 4)), np.ones((2, 1, 4))]:
        x = x.astype(dtype)
        expected = np.einsum("...mk,kn->...mn", x, w)
        out = np.full(expected.shape, np.nan, dtype)
        assert matmul_p.apply((x, w), {}, into=out) is out
        np.testing.assert_allclose(out, expected, rtol=1e-5)
        np.testing.assert_allclose(matmul_p.apply((x, w), {}), expected, rtol=1e-5)
    f32 = np.ones((2, 3, 4), np.float32)
    assert matmul_p.apply([f32, w], {}).dtype == np.result_type(f32, w)

    def f(x, w):
        return ta.tanh(x @ w) + 1.0

    check_against_interpreter(f, (RNG.standard_normal((2, 5, 4)).astype(dtype), w))


def test_matmul_epilogues_read_the_product_apart_or_through_the_output():
    """An epilogue reading and writing one array through two names runs LLVM's scalar
    fallback loop (steps.MatmulStep): the product lives in a free buffer of its own, or,
    when the plan has none, the generated loop reads it through the output's name."""
    X, y, init = mlp_case(8, (6, 5, 4, 3))
    for dtype in (np.float32, np.float64):
        params = [ta.tensor(p.astype(dtype), requires_grad=True) for p in init]
        exe = check_against_interpreter(mlp_step(params, dtype(0.1)), (X.astype(dtype), y))
        epilogues = [s for s in exe.steps if isinstance(s, steps_module.MatmulStep) and s.epilogue]
        assert len(epilogues) >= 4  # bias + relu forward, relu backward, SGD updates
        apart = 0
        for step in epilogues:
            shared = [i for i, o in enumerate(step.epilogue.outs) if o.buf == step.product.buf]
            source = step.epilogue.record.source
            if shared:
                assert "in place: the caller passes one array for both" in source, source
            else:
                apart += 1
                assert "in place" not in source, source
        assert apart >= 1  # the backward's products find buffers freed by the forward


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,k,m", [(1, 1, 1), (1, 5, 3), (4, 1, 3), (4, 3, 1), (6, 5, 4)])
def test_epilogues_over_their_product_match_numpy_and_finite_differences(n, k, m, dtype):
    """Forward epilogues written in place (bias, relu) and the ReLU-backward `where` over
    the backward products, wherever the plan puts them, including size-1 dims."""
    from tree_checks import fd_grad

    rng = np.random.default_rng(n * 100 + k * 10 + m)
    x, w, b = (rng.standard_normal(s).astype(dtype) for s in ((n, k), (k, m), (m,)))

    def loss(x, w, b):
        return (ta.relu(x @ w + b) ** 2).sum()

    def ref(tree):
        x, w, b = tree
        return float((np.maximum(x.astype(np.float64) @ w + b, 0.0) ** 2).sum())

    vg = ta.compile(ta.value_and_grad(loss, argnums=(0, 1, 2)))
    tol = 2e-4 if dtype == np.float32 else 1e-7
    want = fd_grad(ref, (x.astype(np.float64), w.astype(np.float64), b.astype(np.float64)))
    for _ in range(2):
        value, grads = vg(x, w, b)
        np.testing.assert_allclose(float(value), ref((x, w, b)), rtol=tol)
        for g, fd in zip(grads, want):
            assert np.asarray(g).dtype == dtype
            np.testing.assert_allclose(np.asarray(g), fd, rtol=tol, atol=tol)
    assert vg.stats["hits"] >= 1 and not vg.stats["eager_calls"]
    assert any(isinstance(s, steps_module.MatmulStep) and s.epilogue for s in vg.order[-1].forward_exec.steps)


def test_wrong_input_size_is_refused_not_read_out_of_bounds():
    graph = capture(lambda x: ta.exp(x) + 1.0, (np.ones((3, 4)),), {}).graph
    exe = NumbaBackend({}).compile(graph, "test")
    with pytest.raises(ValueError, match="shape"):
        exe([np.ones((4, 4))])
    np.testing.assert_allclose(exe([np.ones(12)])[0], np.full((3, 4), np.e + 1))  # same size: viewed


def test_backward_through_compiled_outputs_runs_the_backward_executable():
    w = ta.tensor(RNG.standard_normal((4, 2)), requires_grad=True)
    x = RNG.standard_normal((3, 4))

    def f(x, w):
        return (ta.sigmoid(x @ w) ** 2).sum()

    f(x, w).backward()
    expected = w.grad.numpy()
    w.grad = None
    cf = ta.compile(f)
    for i in range(1, 5):
        cf(x, w).backward()  # a 0-d seed; from the third call on, the joint graph's backward
        np.testing.assert_allclose(w.grad.numpy(), expected * i, rtol=1e-12)
    assert cf.order[0].backward_exec is not None


def test_threads_share_parallel_kernels():
    cf = ta.compile(lambda x: (ta.exp(x) * 2.0 + 1.0).sum(axis=1), parallel_threshold=64)
    errors = []

    def work(seed):
        x = np.random.default_rng(seed).standard_normal((64, 32))
        for _ in range(20):
            got = cf(x).numpy()
            if not np.allclose(got, (np.exp(x) * 2 + 1).sum(axis=1)):
                errors.append(seed)

    run_in_threads(work)
    assert not errors


def _peak_bytes(fn) -> int:
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def test_compiled_training_step_peak_memory_is_at_most_half_of_eager():
    """W2 at batch 1024: NumPy reports its allocations to tracemalloc."""
    X, y, init = mlp_case(1024)
    peaks = {}
    for mode in ("eager", "numba"):
        params = [ta.tensor(p, requires_grad=True) for p in init]
        step = mlp_step(params, np.float32(0.01))
        fn = step if mode == "eager" else ta.compile(step)
        fn(X, y)
        fn(X, y)
        peaks[mode] = _peak_bytes(lambda: fn(X, y))
    assert peaks["numba"] <= 0.5 * peaks["eager"], peaks


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch", [1, 7])
def test_compiled_mlp_step_matches_the_numpy_reference(batch, dtype):
    """W2's step (benchmarks/tracead_impls.mlp_step) at small sizes: the loss and the SGD
    update against the hand-derived float64 reference, compiled kernels running."""
    from benchmarks.workloads import ref_mlp_loss_grad

    X, y, init = mlp_case(batch, (6, 5, 4, 3))
    X, init = X.astype(dtype), [p.astype(dtype) + 0.1 for p in init]  # nonzero biases
    lr = dtype(0.5)
    params = [ta.tensor(p.copy(), requires_grad=True) for p in init]
    step = ta.compile(mlp_step(params, lr))
    tol = 2e-5 if dtype == np.float32 else 1e-10
    for _ in range(2):  # the second call runs the compiled kernels
        before = [p.numpy().copy() for p in params]
        loss = float(step(X, y).numpy())
        want_loss, want_grads = ref_mlp_loss_grad(X, y, before)
        np.testing.assert_allclose(loss, want_loss, rtol=tol)
        for p, b, g in zip(params, before, want_grads):
            assert p.numpy().dtype == dtype
            np.testing.assert_allclose(p.numpy(), b - lr * g, rtol=tol, atol=tol)
    assert step.stats["hits"] >= 1 and not step.stats["eager_calls"]
