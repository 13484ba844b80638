"""@compile semantics: guards, recompiles, effects, autograd through compiled calls."""
import warnings

import numpy as np
import pytest

import tracead as ta
from checks import run_in_threads

BACKENDS = ["interpret", "numba"]


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


def _close(a, b, tol=1e-10):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=tol, atol=tol)


def test_compiled_matches_eager_and_reuses_variant(backend):
    def f(x, w):
        return ta.tanh(x @ w).sum(axis=1)

    cf = ta.compile(f, backend=backend)
    x, w = np.random.randn(3, 4), np.random.randn(4, 2)
    for _ in range(3):
        _close(cf(x, w), f(x, w))
    assert cf.stats["misses"] == 1 and cf.stats["hits"] == 2


@pytest.mark.parametrize("change", ["shape", "dtype", "requires_grad", "scalar"])
def test_guard_failures_retrace_and_say_why(backend, change):
    def f(x, scale):
        return (x * scale).sum()

    cf = ta.compile(f, backend=backend)
    x = ta.tensor(np.ones((2, 3)))
    cf(x, 2.0)
    other = {
        "shape": (ta.tensor(np.ones((4, 3))), 2.0),
        "dtype": (ta.tensor(np.ones((2, 3), np.float32)), 2.0),
        "requires_grad": (ta.tensor(np.ones((2, 3)), requires_grad=True), 2.0),
        "scalar": (x, 3),  # an int: a static value (a new float would be a graph input)
    }[change]
    cf(*other)  # traces: returns the eager run
    assert cf.stats["misses"] == 2
    assert change.split("_")[0] in cf.recompile_reasons[-1] or "int 3" in cf.recompile_reasons[-1]
    # the new variant, compiled, against NumPy; and the first variant still serves its inputs
    x_new, scale = other
    _close(cf(*other), np.asarray(x_new._data).sum() * scale)
    _close(cf(x, 2.0), 12.0)
    assert cf.stats == {"hits": 2, "misses": 2, "eager_calls": 0}


def test_value_dependent_branch_both_ways(backend):
    @ta.compile(backend=backend)
    def f(x):
        if x.sum().item() > 0:
            return x * 2
        return x * -1

    pos, neg = np.ones(3), -np.ones(3)
    for _ in range(2):
        _close(f(pos), pos * 2)
        _close(f(neg), -neg)
    assert f.stats["misses"] == 2
    assert "item()" in f.recompile_reasons[1] and "test_runtime.py" in f.recompile_reasons[1]


def test_bool_and_float_concretisation_are_guarded(backend):
    @ta.compile(backend=backend)
    def f(x):
        n = float(x.max())
        return x / n if bool(x.sum() > 0) else x

    a, b, c = np.array([1.0, 4.0]), np.array([1.0, 2.0]), np.array([-3.0, 2.0])
    for _ in range(2):  # the second round runs the compiled variants
        _close(f(a), a / 4)
        _close(f(b), b / 2)
        _close(f(c), c)  # the bool() branch flips: sum < 0
    assert f.stats["misses"] == 3 and f.stats["hits"] == 3
    assert any("bool()" in r for r in f.recompile_reasons)


def test_variant_limit_warns_once_then_runs_eagerly(backend):
    # dynamic=False: every size a variant (automatic dynamic would serve them all)
    cf = ta.compile(lambda x: x * 2, backend=backend, max_variants=2, dynamic=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for n in range(1, 6):
            _close(cf(np.ones(n)), np.full(n, 2.0))
    messages = [str(w.message) for w in caught if issubclass(w.category, ta.RecompileWarning)]
    assert len(messages) == 1
    assert "shape changed from (2,) to (3,)" in messages[0]
    assert cf.gave_up and cf.stats["eager_calls"] >= 1


def test_two_threads_get_correct_results(backend):
    cf = ta.compile(lambda x: ta.exp(x).sum(), backend=backend)

    def work(seed):
        rng = np.random.default_rng(seed)
        for _ in range(30):
            x = rng.standard_normal(1 + seed % 3)
            _close(cf(x), np.exp(x).sum())

    run_in_threads(work)  # re-raises a worker's failure
    assert cf.stats["hits"] >= 100 and cf.stats["misses"] == 3


def test_backward_through_compiled_output_accumulates(backend):
    w = ta.tensor(np.random.randn(4, 2), requires_grad=True)
    x = np.random.randn(3, 4)

    def f(x, w):
        return (ta.sigmoid(x @ w) ** 2).sum()

    cf = ta.compile(f, backend=backend)
    f(x, w).backward()
    expected = w.grad.numpy()
    w.grad = None
    for i in range(1, 5):
        cf(x, w).backward()
        _close(w.grad, expected * i)
    assert cf.stats["hits"] == 3
    # The first backward of a compiled output recomputed; since then the
    # variant runs one joint forward+backward graph with saved values.
    assert cf.order[0].backward_graph is not None


def test_free_parameters_are_read_by_reference(backend):
    w = ta.tensor(np.ones(3), requires_grad=True)
    cf = ta.compile(lambda x: (x * w).sum(), backend=backend)
    x = np.arange(3.0)
    _close(cf(x), 3.0)
    with ta.no_grad():
        w.assign_(w * 2)
    _close(cf(x), 6.0)


def test_training_step_with_effects_matches_eager(backend):
    def make():
        rng = np.random.default_rng(0)
        return [ta.tensor(rng.standard_normal((4, 3)), requires_grad=True),
                ta.tensor(np.zeros(3), requires_grad=True)]

    def step_for(params):
        w, b = params

        def step(x, y):
            loss = ((x @ w + b - y) ** 2).mean()
            loss.backward()
            with ta.no_grad():
                for p in (w, b):
                    p.assign_(p - 0.1 * p.grad)
                    p.grad = None
            return loss
        return step

    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((8, 4)), rng.standard_normal((8, 3))
    eager_params, compiled_params = make(), make()
    eager_step = step_for(eager_params)
    compiled_step = ta.compile(step_for(compiled_params), backend=backend)
    for _ in range(4):
        _close(compiled_step(x, y), eager_step(x, y))
    for a, b in zip(eager_params, compiled_params):
        _close(a, b)
        assert b.grad is None
    assert compiled_step.stats["hits"] == 3
    # Nobody called .backward() on the returned loss: no saved values, no backward graph.
    assert compiled_step.order[0].backward_graph is None


def test_grad_of_compiled_and_compiled_value_and_grad(backend):
    def f(x):
        return (ta.tanh(x) * ta.exp(-x * x)).sum()

    x = np.linspace(-1, 1, 5)
    value, expected = ta.value_and_grad(f)(x)
    _close(ta.grad(ta.compile(f, backend=backend))(x), expected)
    _close(ta.grad(ta.compile(f, backend=backend))(x), expected)
    cvg = ta.compile(ta.value_and_grad(f), backend=backend)
    for _ in range(2):
        v, g = cvg(x)
        _close(v, value)
        _close(g, expected)
    assert not cvg.order[0].backward_graph  # one forward graph holds value and gradient


def test_second_derivative_through_compiled(backend):
    cf = ta.compile(lambda x: ta.tanh(x).sum(), backend=backend)
    gg = ta.grad(ta.grad(cf))
    t = np.tanh(0.3)
    for _ in range(2):
        _close(gg(0.3), -2 * t * (1 - t * t))


def test_inputs_are_never_modified(backend):
    x = np.random.randn(5)
    t = ta.tensor(np.random.randn(5), requires_grad=True)
    x0, t0 = x.copy(), t.numpy()
    cf = ta.compile(lambda a, b: (ta.exp(a) * b).sum(), backend=backend)
    for _ in range(2):
        cf(x, t).backward()
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(t.numpy(), t0)


def test_containers_in_and_out(backend):
    @ta.compile(backend=backend)
    def f(inputs, scale=1.0):
        a, b = inputs["a"], inputs["b"]
        return {"sum": (a + b) * scale, "parts": [a * scale, 3]}

    args = {"a": np.ones(2), "b": np.arange(2.0)}
    for _ in range(2):
        out = f(args, scale=2.0)
        _close(out["sum"], [2.0, 4.0])
        _close(out["parts"][0], [2.0, 2.0])
        assert out["parts"][1] == 3


def test_disable_and_eager_backend_run_python(monkeypatch):
    calls = []

    def f(x):
        calls.append(1)
        return x + 1

    cf = ta.compile(f, backend="eager")
    cf(np.ones(2))
    cf(np.ones(2))
    assert len(calls) == 2
    monkeypatch.setenv("TRACEAD_DISABLE", "1")
    cf2 = ta.compile(f, backend="interpret")
    cf2(np.ones(2))
    cf2(np.ones(2))
    assert len(calls) == 4 and not cf2.order


def test_explain_shows_graphs_sources_and_guards():
    w = ta.tensor(np.random.randn(4, 3), requires_grad=True)

    def loss(x, y):
        logp = ta.log_softmax(x @ w)
        return -logp[np.arange(len(y)), y].mean()

    report = ta.explain(ta.compile(loss, backend="interpret"), np.random.randn(5, 4),
                        np.array([0, 1, 2, 1, 0]), backward=True, verbose=2)
    text = str(report)
    assert "log_softmax" not in text  # composites are expanded into primitives
    assert "test_runtime.py" in text and "== backward graph" in text
    assert "tensor read from outside the function: float64[4, 3] requires_grad" in text
    stats = report.stats
    for key in ("nodes_traced", "nodes_optimized", "kernels", "peak_bytes_naive",
                "peak_bytes_planned", "compile_seconds", "guards"):
        assert key in stats
    g = report.to_networkx()
    assert g.number_of_nodes() > 10
    assert report.to_dot().startswith('digraph "loss forward"')
