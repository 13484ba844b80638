"""A compiled function's life beyond its guards: threads, memory, the debugging
modes and tools, call counting, and backward through its outputs. Each test here
once failed: a wrong answer or state left changed without a word."""
import warnings

import numpy as np
import pytest

import tracead as ta
from checks import assert_close as _close, compile_in as _compile, run_in_threads

MODES = ["eager", "interpret", "numba"]  # all three, whatever TRACEAD_TEST_MODES says


@pytest.fixture(params=MODES)
def mode(request):
    return request.param


# -- 5. threads: one compiles, the others wait and reuse -----------------------------------------
def test_simultaneous_first_calls_compile_once(backend):
    import threading
    import time

    def slow_to_trace(x):
        time.sleep(0.05)  # runs only when tracing: the threads' first calls overlap
        return ta.exp(x).sum()

    cf = ta.compile(slow_to_trace, backend=backend, max_variants=2)
    barrier = threading.Barrier(12)
    x = np.linspace(-1, 1, 7)

    def work(seed):
        barrier.wait()
        for _ in range(3):
            _close(cf(x), np.exp(x).sum(), tol=1e-9)

    with warnings.catch_warnings():
        warnings.simplefilter("error", ta.RecompileWarning)
        run_in_threads(work, 12)
    assert cf.stats["misses"] == 1 and not cf.gave_up
    assert cf.stats["hits"] == 35


def test_run_in_threads_reraises_a_worker_exception():
    def work(seed):
        if seed == 2:
            raise ValueError("worker 2 failed")

    with pytest.raises(ValueError, match="worker 2"):
        run_in_threads(work, 4)


# -- 6. a variant does not keep the traced call's result (and its tape) alive ----------------------
def test_traced_result_and_its_tape_are_collectable(backend):
    import gc
    import weakref

    w = ta.tensor(np.ones((3, 3)), requires_grad=True)
    cf = ta.compile(lambda x: ta.tanh(x @ w), backend=backend)
    out = cf(np.ones((2, 3)))  # the traced eager run
    node = out._tape
    assert node is not None
    # the result, and the intermediates its tape holds (x @ w, and the argument made from x)
    inner = [t for t in node.inputs if t is not w]
    inner += [t for t in inner[0]._tape.inputs if t is not w]
    refs = [weakref.ref(t) for t in [out] + inner]
    assert len(refs) == 3
    del out, node, inner
    gc.collect()
    assert all(r() is None for r in refs)
    _close(cf(np.ones((2, 3))), np.tanh(np.ones((2, 3)) @ np.ones((3, 3))))
    assert cf.stats["hits"] == 1


# -- 7. debugging modes see what the compiled modes see; tools leave state as found; counts ---------
@pytest.mark.parametrize("how", ["eager backend", "TRACEAD_DISABLE"])
def test_eager_modes_pass_tensors_and_return_tensors(how, monkeypatch):
    def f(x, pair):
        return {"y": x.relu() * 2, "rest": [pair[0].exp(), 3]}

    if how == "TRACEAD_DISABLE":
        monkeypatch.setenv("TRACEAD_DISABLE", "1")
        cf = ta.compile(f, backend="interpret")
    else:
        cf = ta.compile(f, backend="eager")
    x = np.array([-1.0, 2.0])
    out = cf(x, (np.zeros(1), 5))
    assert isinstance(out["y"], ta.Tensor) and isinstance(out["rest"][0], ta.Tensor)
    _close(out["y"], [0.0, 4.0])
    _close(out["rest"][0], [1.0])
    assert out["rest"][1] == 3
    assert cf.stats == {"hits": 0, "misses": 0, "eager_calls": 1}


def _training_state():
    rng = np.random.default_rng(0)
    w = ta.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    w.grad = ta.tensor(np.full((3, 2), 0.25))

    def step(x):
        loss = ((x @ w) ** 2).mean()
        with ta.no_grad():
            w.assign_(w - 0.01 * w.grad)
        w.grad = None
        loss.backward()
        return loss
    return w, step


@pytest.mark.parametrize("tool", ["explain", "explain a warm function", "profile"])
def test_explain_and_profile_leave_the_program_state_as_found(tool):
    w, step = _training_state()
    x = np.ones((4, 3))
    compiled = ta.compile(step, backend="interpret")
    if tool == "explain a warm function":  # explain's call is then a compiled hit, not a trace
        compiled(x)
        w.grad = ta.tensor(np.full((3, 2), 0.5))
    before, grad_before = w.numpy(), w.grad
    hits = compiled.stats["hits"]
    if tool.startswith("explain"):
        ta.explain(compiled, x)
    else:
        ta.profile(compiled, x, repeat=1, bandwidth=False)
    np.testing.assert_array_equal(w.numpy(), before)
    assert w.grad is grad_before
    if tool == "explain a warm function":
        assert compiled.stats["hits"] == hits + 1


def test_every_call_is_counted_once():
    # dynamic=False: every size a variant (automatic dynamic would serve them all)
    cf = ta.compile(lambda x: x * 2, backend="interpret", max_variants=3, dynamic=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ta.RecompileWarning)
        for n in (1, 1, 2, 2, 3, 4, 5, 5, 1, 6, 7, 3):
            cf(np.ones(n))
    s = cf.stats
    assert s["hits"] + s["misses"] + s["eager_calls"] == 12, s
    assert s == {"hits": 2, "misses": 3, "eager_calls": 7}  # gave up at the 4th shape


# -- 8. backward twice through the same graph -------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_second_backward_through_a_graph_raises_unless_retained(mode):
    w = ta.tensor(np.array([1.0, 2.0]), requires_grad=True)
    f = _compile(lambda x: (ta.exp(x * w)).sum(), mode)
    x = np.array([0.5, -1.0])
    f(x)
    loss = f(x)
    loss.backward(retain_graph=True)
    loss.backward()
    _close(w.grad, 2 * x * np.exp(x * np.array([1.0, 2.0])))
    with pytest.raises(ta.errors.OpError, match="second time"):
        loss.backward()
    _close(w.grad, 2 * x * np.exp(x * np.array([1.0, 2.0])))  # unchanged by the refused call
