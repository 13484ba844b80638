"""ta.nn, ta.optim and the digits demo, checked against NumPy references."""
import numpy as np
import pytest

import tracead as ta
from tracead import nn, optim


def central_diff(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """d f / d x by central differences (x is modified and restored)."""
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        hi = f()
        x[i] = old - eps
        lo = f()
        x[i] = old
        g[i] = (hi - lo) / (2 * eps)
    return g


def np_log_softmax(z: np.ndarray) -> np.ndarray:
    m = z.max(axis=1, keepdims=True)
    return z - (m + np.log(np.exp(z - m).sum(axis=1, keepdims=True)))


# -- modules -------------------------------------------------------------------------
def test_linear_shapes_dtype_and_init():
    lin = nn.Linear(3, 4, seed=0)
    assert lin.weight.shape == (3, 4) and lin.bias.shape == (4,)
    assert lin.weight.dtype == np.float32 and lin.weight.requires_grad
    assert np.all(np.abs(lin.weight.numpy()) <= np.sqrt(6 / 3))
    assert lin(np.ones((5, 3), np.float32)).shape == (5, 4)
    no_bias = nn.Linear(3, 4, bias=False, dtype=np.float64, init="glorot", seed=0)
    assert [n for n, _ in no_bias.named_parameters()] == ["weight"]
    assert no_bias(np.ones((2, 3))).dtype == np.float64
    assert np.all(np.abs(no_bias.weight.numpy()) <= np.sqrt(6 / 7))
    # Same seed, same weights; rng= is used when given.
    np.testing.assert_array_equal(nn.Linear(3, 4, seed=0).weight.numpy(), lin.weight.numpy())
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(nn.Linear(3, 4, rng=rng).weight.numpy(), lin.weight.numpy())


def test_linear_gradients_match_finite_differences():
    rng = np.random.default_rng(1)
    lin = nn.Linear(3, 2, dtype=np.float64, seed=2)
    lin.bias.assign_(rng.normal(size=2))
    x_np = rng.normal(size=(4, 3))
    c = rng.normal(size=(4, 2))

    def loss_np():
        return float(np.sum(np.tanh(x_np @ lin.weight._data + lin.bias._data) * c))

    x = ta.tensor(x_np, requires_grad=True)
    loss = ta.sum(ta.tanh(lin(x)) * c)
    loss.backward()
    np.testing.assert_allclose(loss.item(), loss_np(), rtol=1e-12)
    np.testing.assert_allclose(lin.weight.grad.numpy(), central_diff(loss_np, lin.weight._data), atol=1e-7)
    np.testing.assert_allclose(lin.bias.grad.numpy(), central_diff(loss_np, lin.bias._data), atol=1e-7)
    np.testing.assert_allclose(x.grad.numpy(), central_diff(loss_np, x_np), atol=1e-7)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = ta.tensor(np.ones(2, np.float32), requires_grad=True)
        self.buffer = ta.tensor(np.zeros(2))  # no requires_grad: not a parameter
        self.inner = nn.Linear(2, 2, seed=0)
        self.heads = [nn.Linear(2, 1, seed=1), nn.Linear(2, 1, seed=2)]
        self.tied = self.inner  # a shared module: its parameters count once

    def forward(self, x):
        h = self.inner(x) * self.scale
        return sum(head(h) for head in self.heads)


def test_module_registration_and_zero_grad():
    block = Block()
    names = [n for n, _ in block.named_parameters()]
    assert names == ["scale", "inner.weight", "inner.bias", "heads.0.weight", "heads.0.bias",
                     "heads.1.weight", "heads.1.bias"]
    assert len(block.parameters()) == 7
    out = block(np.ones((3, 2), np.float32))
    ta.sum(out).backward()
    assert all(p.grad is not None for p in block.parameters())
    block.zero_grad()
    assert all(p.grad is None for p in block.parameters())
    block.scale = None  # replacing an attribute unregisters it
    assert "scale" not in [n for n, _ in block.named_parameters()]


def test_mlp_structure_and_state_dict():
    mlp = nn.MLP([4, 8, 3], activation="tanh", seed=0)
    assert [n for n, _ in mlp.named_parameters()] == [
        "layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"]
    assert mlp(np.zeros((5, 4), np.float32)).shape == (5, 3)
    other = nn.MLP([4, 8, 3], activation="tanh", seed=1)
    other.load_state_dict(mlp.state_dict())
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(other(x)), np.asarray(mlp(x)))
    with pytest.raises(ValueError):
        nn.MLP([4, 3], activation="nope")


# -- losses --------------------------------------------------------------------------------
@pytest.mark.parametrize("scale", [1.0, 1000.0])  # 1000: exp would overflow without the shift
@pytest.mark.parametrize("tensor_labels", [False, True])
def test_cross_entropy_value_and_gradient(scale, tensor_labels):
    rng = np.random.default_rng(0)
    n, k = 6, 4
    z = rng.normal(size=(n, k)) * scale
    labels = np.array([0, 3, 1, 1, 2, 3])
    logits = ta.tensor(z, requires_grad=True)
    loss = nn.cross_entropy(logits, ta.tensor(labels) if tensor_labels else labels)
    expected = -np.mean(np_log_softmax(z)[np.arange(n), labels])
    np.testing.assert_allclose(loss.item(), expected, rtol=1e-12)
    loss.backward()
    softmax = np.exp(np_log_softmax(z))
    np.testing.assert_allclose(logits.grad.numpy(), (softmax - nn.one_hot(labels, k, np.float64)) / n,
                               atol=1e-12)


def test_cross_entropy_float32_and_bad_labels():
    z = np.random.default_rng(0).normal(size=(3, 5)).astype(np.float32)
    loss = nn.cross_entropy(z, np.array([4, 0, 2]))
    assert loss.dtype == np.float32
    with pytest.raises(TypeError):
        nn.cross_entropy(z, np.array([1.0, 0.0, 2.0]))
    with pytest.raises(ValueError):
        nn.cross_entropy(z, np.array([1, 0]))


THIS_FILE = "test_nn.py"


@pytest.mark.parametrize("mode", ["eager", "interpret", "numba"])
@pytest.mark.parametrize("bad", [-1, 5, 7])
def test_cross_entropy_label_out_of_range(mode, bad):
    """-1 silently picked the last class; 5 gave a bare IndexError."""
    z = np.random.default_rng(0).normal(size=(3, 5))
    loss = ta.compile(nn.cross_entropy, backend=mode)
    for good in ([4, 0, 2], [1, 1, 3], [0, 2, 4]):  # one bool guard, true for every valid batch
        expected = -np.mean(np_log_softmax(z)[np.arange(3), good])
        np.testing.assert_allclose(loss(z, np.array(good)).item(), expected, rtol=1e-12)
    if mode != "eager":
        assert loss.stats["misses"] == 1 and loss.stats["hits"] == 2, loss.stats
    for labels in (np.array([0, bad, 1]), ta.tensor(np.array([0, bad, 1]))):
        with pytest.raises(IndexError) as info:
            loss(z, labels)
        message = str(info.value)
        for word in ["cross_entropy", f"label {bad}", "position 1", "5 classes", THIS_FILE]:
            assert word in message, f"{word!r} missing from: {message}"


def test_one_hot_keeps_the_label_shape():
    labels = np.array([[0, 2], [1, 0]])  # square: used to index the wrong axis
    out = nn.one_hot(labels, 3)
    assert out.shape == (2, 2, 3) and out.dtype == np.int64  # torch's default
    np.testing.assert_array_equal(out, np.eye(3, dtype=np.int64)[labels])
    assert nn.one_hot(np.array([1, 4])).shape == (2, 5)  # num_classes=-1: max + 1
    np.testing.assert_array_equal(nn.one_hot(ta.tensor(np.array([2, 0])), 3, np.float64),
                                  [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    with pytest.raises(IndexError, match="one_hot: label -1"):
        nn.one_hot(np.array([0, -1]), 3)
    with pytest.raises(TypeError, match="one_hot"):
        nn.one_hot(np.array([0.0, 1.0]), 3)


@pytest.mark.parametrize("mode", ["eager", "interpret", "numba"])
@pytest.mark.parametrize("dtype", [np.int64, np.float64])
def test_linear_refuses_a_mismatched_input_dtype(mode, dtype):
    """An int64 batch silently turned a float32 layer's outputs float64 (torch raises)."""
    lin = nn.Linear(3, 2, seed=0)
    x = np.ones((4, 3), dtype)
    with pytest.raises(TypeError) as info:
        ta.compile(lambda x: lin(x), backend=mode)(x) if mode != "eager" else lin(x)
    message = str(info.value)
    words = ["Linear(in_features=3, out_features=2", np.dtype(dtype).name, "float32", THIS_FILE]
    for word in words:
        assert word in message, f"{word!r} missing from: {message}"
    with pytest.raises(ValueError, match="in_features=3"):
        lin(np.ones((4, 2), np.float32))
    out = lin(x.astype(np.float32))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), np.ones((4, 3), np.float32) @ lin.weight.numpy(),
                               rtol=1e-6)


def test_mse_loss():
    rng = np.random.default_rng(0)
    p_np, t = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    p = ta.tensor(p_np, requires_grad=True)
    loss = nn.mse_loss(p, t)
    np.testing.assert_allclose(loss.item(), np.mean((p_np - t) ** 2), rtol=1e-12)
    loss.backward()
    np.testing.assert_allclose(p.grad.numpy(), 2 * (p_np - t) / p_np.size, rtol=1e-12)


# -- optimizers against NumPy references ------------------------------------------------------
X_TINY = np.random.default_rng(3).normal(size=(8, 3))
T_TINY = np.random.default_rng(4).normal(size=8)
W0, B0 = np.array([0.5, -0.2, 0.1]), np.array(0.3)


def tiny_grads(w, b):
    """Gradients of mean((X w + b - t)^2), by hand."""
    r = X_TINY @ w + b - T_TINY
    return 2 * X_TINY.T @ r / len(r), np.array(2 * r.mean())


def sgd_reference(lr, momentum, steps=3):
    params, bufs = [W0.copy(), B0.copy()], [np.zeros(3), np.zeros(())]
    for _ in range(steps):
        for i, g in enumerate(tiny_grads(*params)):
            bufs[i] = momentum * bufs[i] + g
            params[i] = params[i] - lr * bufs[i]
    return params


def adam_reference(lr, b1, b2, eps, steps=3):
    params, m, v = [W0.copy(), B0.copy()], [np.zeros(3), np.zeros(())], [np.zeros(3), np.zeros(())]
    for t in range(1, steps + 1):
        for i, g in enumerate(tiny_grads(*params)):
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            mhat, vhat = m[i] / (1 - b1 ** t), v[i] / (1 - b2 ** t)
            params[i] = params[i] - lr * mhat / (np.sqrt(vhat) + eps)
    return params


def make_tiny(opt_factory):
    w, b = ta.tensor(W0, requires_grad=True), ta.tensor(B0, requires_grad=True)
    opt = opt_factory([w, b])

    def step(w, b, x, t):
        opt.zero_grad()
        loss = nn.mse_loss(ta.matmul(x, w) + b, t)
        loss.backward()
        opt.step()
        return loss

    return w, b, step


OPTIMIZERS = [
    ("sgd", lambda ps: optim.SGD(ps, lr=0.1), lambda: sgd_reference(0.1, 0.0)),
    ("sgd_momentum", lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9), lambda: sgd_reference(0.1, 0.9)),
    ("adam", lambda ps: optim.Adam(ps, lr=0.05, betas=(0.8, 0.95), eps=1e-6),
     lambda: adam_reference(0.05, 0.8, 0.95, 1e-6)),
]


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize("name,factory,reference", OPTIMIZERS, ids=[o[0] for o in OPTIMIZERS])
def test_optimizer_matches_numpy_reference(name, factory, reference, compiled):
    if compiled and not hasattr(ta, "compile"):
        pytest.skip("tracead.compile is not available")
    w, b, step = make_tiny(factory)
    if compiled:
        # The interpreter runs the traced graph op by op: it checks that the
        # whole step (backward and update included) traces correctly without
        # paying for Numba compilation in a unit test.
        step = ta.compile(step, backend="interpret")
    for _ in range(3):
        step(w, b, X_TINY, T_TINY)
    w_ref, b_ref = reference()
    np.testing.assert_allclose(w.numpy(), w_ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(b.numpy(), b_ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name,factory,reference", OPTIMIZERS, ids=[o[0] for o in OPTIMIZERS])
def test_optimizer_skips_params_without_grad_and_zero_grad(name, factory, reference):
    used = ta.tensor(np.ones(2), requires_grad=True)
    unused = ta.tensor(np.ones(2), requires_grad=True)
    opt = factory([used, unused])
    ta.sum(used * used).backward()
    opt.step()
    assert not np.allclose(used.numpy(), 1.0)
    np.testing.assert_array_equal(unused.numpy(), 1.0)
    assert unused.grad is None
    opt.zero_grad()
    assert used.grad is None


def test_learning_rate_can_change():
    p = ta.tensor(np.array([1.0]), requires_grad=True)
    opt = optim.SGD([p], lr=0.5)
    p.grad = ta.tensor(np.array([1.0]))
    opt.lr = 0.25
    opt.step()
    assert opt.lr == 0.25
    np.testing.assert_allclose(p.numpy(), [0.75])


# -- training ------------------------------------------------------------------------------------
def test_tiny_mlp_trains():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 2)).astype(np.float32)
    y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)  # XOR of the signs: needs the hidden layer
    model = nn.MLP([2, 16, 2], seed=0)
    opt = optim.Adam(model, lr=0.05)
    losses = []
    for _ in range(60):
        opt.zero_grad()
        loss = nn.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_demo_eager_run_reaches_accuracy():
    from tracead import demo

    result = demo.run("eager", epochs=3, max_steps=60, progress=False)
    assert result.ok and result.steps == 60
    assert result.accuracy > 0.8
    assert result.ms_per_step > 0


def test_demo_reports_missing_compile(monkeypatch, capsys):
    from tracead import demo

    monkeypatch.delattr(ta, "compile", raising=False)
    monkeypatch.delattr(ta, "explain", raising=False)
    results = demo.main(epochs=1, progress=False)
    out = capsys.readouterr().out
    assert [r.mode for r in results] == ["eager", "compiled"]
    assert not results[1].ok
    assert "compiled run unavailable" in out and "speedup" in out


def test_cli_usage(capsys):
    from tracead.__main__ import main

    assert main([]) == 0
    assert "demo" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
