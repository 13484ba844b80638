"""torch semantics the op sweep cannot see from random inputs, against hand references.

Weighted losses with ignore_index and label smoothing (torch's formulas),
ignore_index inside [0, C) with Tensor labels (was silently not ignored),
max_pool2d's tie rule and indices, var/std defaults per spelling, torch's
argument forms (transpose(x, 0, 1), sort(dim=), max(x, y), div
rounding_mode, cumsum(dim=) of a 0-d tensor), spectral / nuclear norms and
their gradient, and clear errors where a torch form is not supported.
Compiled modes use `run_strict` (the compiled variant really ran).
"""
from __future__ import annotations

import numpy as np
import pytest

import tracead as ta
from tracead import nn
from strict import run_strict
from tree_checks import fd_grad as _fd_grad

F = nn.functional


def _log_softmax(z):
    s = z - z.max(axis=1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=1, keepdims=True))


Z = np.array([[0.3, -1.2, 2.0, 0.5], [0.9, 0.1, -0.4, 1.5], [-0.7, 0.2, 0.8, -1.1]])
W = np.array([1.0, 2.0, 0.5, 3.0])


@pytest.mark.parametrize("tensor_labels", [False, True])
def test_ignore_index_inside_the_class_range_is_ignored(mode, tensor_labels):
    """Regression: with Tensor labels an ignore_index in [0, C) was treated as a class."""
    labels = np.array([1, 0, 3])
    lab = ta.tensor(labels) if tensor_labels else labels
    got = run_strict(mode, lambda z: (F.cross_entropy(z, lab, ignore_index=0),
                                      F.nll_loss(z, lab, ignore_index=1, reduction="sum")),
                     ta.tensor(Z))
    logp = _log_softmax(Z)
    want_ce = -(logp[0, 1] + logp[2, 3]) / 2  # row 1 (label 0) ignored
    want_nll = -(Z[1, 0] + Z[2, 3])           # row 0 (label 1) ignored, input taken as log-probs
    np.testing.assert_allclose(np.asarray(got[0]), want_ce, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(got[1]), want_nll, rtol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing,ignore", [(0.0, -100), (0.3, -100), (0.3, 2), (0.0, 0)])
def test_weighted_cross_entropy_follows_torch(mode, reduction, smoothing, ignore):
    labels = np.array([2, 0, 3])

    def ref(z):
        logp = _log_softmax(z)
        keep = labels != ignore
        wy = W[labels] * keep
        nll = -wy * logp[np.arange(3), labels]
        smooth = -(logp * W).sum(axis=1) * keep
        if reduction == "none":
            return (1 - smoothing) * nll + smoothing / 4 * smooth
        if reduction == "sum":
            return (1 - smoothing) * nll.sum() + smoothing / 4 * smooth.sum()
        return ((1 - smoothing) * nll.sum() + smoothing / 4 * smooth.sum()) / wy.sum()

    def loss(z):
        return F.cross_entropy(z, labels, weight=ta.tensor(W), reduction=reduction,
                               label_smoothing=smoothing, ignore_index=ignore)

    np.testing.assert_allclose(np.asarray(run_strict(mode, loss, ta.tensor(Z))), ref(Z), rtol=1e-12)
    g = run_strict(mode, ta.grad(lambda z: ta.sum(loss(z))), ta.tensor(Z))
    np.testing.assert_allclose(np.asarray(g), _fd_grad(lambda z: np.sum(ref(z)), Z), atol=1e-7)


def test_weighted_nll_and_probability_targets(mode):
    labels = np.array([[1, 0], [3, 2], [0, 0]])           # (N, d1) targets of (N, C, d1) input
    z3 = np.stack([Z, Z[::-1]], axis=-1)                   # (3, 4, 2)
    probs = np.exp(_log_softmax(Z[::-1]))

    def f(z3, z):
        return (F.nll_loss(z3, labels, weight=W), F.cross_entropy(z, probs, weight=W))
    nll, ce = run_strict(mode, f, ta.tensor(z3), ta.tensor(Z))
    picked = np.array([[z3[i, labels[i, j], j] for j in range(2)] for i in range(3)])
    np.testing.assert_allclose(np.asarray(nll), -(W[labels] * picked).sum() / W[labels].sum())
    # probability targets: weights scale each class term; the mean is over rows
    np.testing.assert_allclose(np.asarray(ce), -(probs * _log_softmax(Z) * W).sum(axis=1).mean())
    with pytest.raises(ta.errors.OpError, match="one entry per class"):
        F.cross_entropy(ta.tensor(Z), labels[:, 0], weight=W[:3])


def test_loss_modules_take_weight_and_torch_argument_order():
    labels = np.array([2, 0, 3])
    a = nn.CrossEntropyLoss(weight=W, label_smoothing=0.1)(ta.tensor(Z), labels)
    b = F.cross_entropy(Z, labels, W, label_smoothing=0.1)  # weight is torch's 3rd positional
    assert a.item() == b.item()
    assert nn.NLLLoss(W)(ta.tensor(Z), labels).item() == F.nll_loss(Z, labels, weight=W).item()
    with pytest.raises(TypeError, match="deprecated"):
        F.cross_entropy(Z, labels, size_average=True)


def test_max_pool_ties_give_the_gradient_to_the_first_maximum(mode):
    x = np.array([[[[1.0, 1.0, 2.0, 2.0],
                    [1.0, 1.0, 2.0, 2.0],
                    [0.0, 5.0, 3.0, 3.0],
                    [5.0, 5.0, 3.0, -1.0]]]])
    g = run_strict(mode, ta.grad(lambda x: (F.max_pool2d(x, 2) * np.array([[1.0, 10.0],
                                                                           [100.0, 1000.0]])).sum()),
                   ta.tensor(x))
    want = np.zeros_like(x)
    want[0, 0, 0, 0], want[0, 0, 0, 2], want[0, 0, 2, 1], want[0, 0, 2, 2] = 1, 10, 100, 1000
    np.testing.assert_array_equal(np.asarray(g), want)  # row-major first max, as torch
    values, idx = F.max_pool2d(ta.tensor(x), 2, return_indices=True)
    assert idx.dtype == np.int64 and idx.tolist() == [[[[0, 2], [9, 10]]]]
    np.testing.assert_array_equal(np.asarray(F.max_unpool2d(values, idx, 2)),
                                  np.where(want > 0, x, 0.0))


def test_tied_maxima_gradients_follow_torch(mode):
    """max(dim=) values are read at their index (gradient to that element, as torch);
    the reduction (amax, max without dim) splits it evenly among ties, as torch's amax."""
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    g_dim, g_amax = run_strict(mode, lambda x: (ta.grad(lambda x: x.max(dim=1).values.sum())(x),
                                                ta.grad(lambda x: x.amax(1).sum())(x)),
                               ta.tensor(x))
    np.testing.assert_array_equal(np.asarray(g_dim), [[0, 1, 0], [1, 0, 0]])
    np.testing.assert_array_equal(np.asarray(g_amax), [[0, 0.5, 0.5], [0.5, 0.5, 0]])


def test_variance_defaults_follow_the_spelling():
    x = ta.tensor([1.0, 2.0, 4.0, 7.0])
    a = np.array([1.0, 2.0, 4.0, 7.0])
    assert ta.var(x).item() == np.var(a)                      # NumPy's function: ddof=0
    assert ta.var(x, dim=0).item() == np.var(a, ddof=1)       # torch's keyword: correction=1
    assert x.var().item() == np.var(a, ddof=1)                # torch's method: correction=1
    assert x.var(unbiased=False).item() == np.var(a)
    assert x.var(axis=0).item() == np.var(a) and x.std(0, keepdims=True).item() == np.std(a)
    assert x.std(0, keepdim=True).shape == (1,)
    assert np.isclose(x.std(correction=2).item(), np.std(a, ddof=2))
    s, m = ta.std_mean(x)
    assert np.isclose(s.item(), np.std(a, ddof=1)) and m.item() == a.mean()
    assert np.isnan(ta.tensor([[3.0]]).var(1).item())         # one value, correction=1: 0/0


def test_torch_argument_forms():
    x = ta.tensor(np.arange(24.0).reshape(2, 3, 4))
    assert ta.transpose(x, 0, 2).shape == (4, 3, 2) and x.transpose(1, 2).shape == (2, 4, 3)
    assert ta.transpose(x, (1, 0, 2)).shape == (3, 2, 4) and x.transpose().shape == (4, 3, 2)
    assert ta.stack([x, x], dim=1).shape == (2, 2, 3, 4) and ta.cat([x, x], dim=-1).shape == (2, 3, 8)
    v, i = ta.sort(-x, dim=2)
    assert i.tolist()[0][0] == [3, 2, 1, 0] and ta.sort(-x, 2).shape == (2, 3, 4)
    assert ta.max(x, -x).tolist() == np.maximum(np.asarray(x), -np.asarray(x)).tolist()
    assert ta.max(x, 1).shape == (2, 4)                       # NumPy form: the values
    a, b = ta.tensor([7, -7, 7, -7]), ta.tensor([2, 2, -2, -2])
    assert ta.div(a, b, rounding_mode="trunc").tolist() == [3, -3, -3, 3]
    assert a.div(b, rounding_mode="floor").tolist() == [3, -4, -4, 3]
    assert ta.cumsum(ta.tensor(2.0), dim=0).shape == () and ta.cumsum(ta.tensor(2.0), 0).shape == (1,)
    assert x.sum(dtype=ta.int64).dtype == np.int64 and x.add(x, alpha=2).tolist()[0][0][1] == 3.0
    assert x.type(ta.int32).dtype == np.int32 and x.element_size() == 8 and x.is_floating_point()
    assert (ta.tensor([5, 3]) << 2).tolist() == [20, 12] and (~ta.tensor([0, 5])).tolist() == [-1, -6]
    with pytest.raises(ta.errors.OpError, match="rounding_mode"):
        ta.div(a, b, rounding_mode="round")


def test_spectral_and_nuclear_norms_and_their_gradient(mode):
    x = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]])

    def f(x):
        return ta.linalg.norm(x, 2) + 2 * ta.linalg.norm(x, "nuc") + ta.linalg.norm(x, -2)
    value, g = run_strict(mode, ta.value_and_grad(f), ta.tensor(x))
    ref = lambda x: np.linalg.norm(x, 2) + 2 * np.linalg.norm(x, "nuc") + np.linalg.norm(x, -2)  # noqa: E731
    np.testing.assert_allclose(np.asarray(value), ref(x), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(g), _fd_grad(ref, x), atol=1e-7)
    with pytest.raises(ta.errors.OpError, match="singular vectors"):
        ta.grad(lambda x: ta.grad(lambda y: ta.linalg.norm(y, 2))(x).sum())(x)  # no 2nd derivative
    t = ta.tensor(np.arange(24.0).reshape(2, 3, 4))
    np.testing.assert_allclose(np.asarray(ta.norm(t, p=1, dim=(1, 2))), np.abs(t.numpy()).sum((1, 2)))
    np.testing.assert_allclose(np.asarray(t.norm(dim=1)), np.linalg.norm(t.numpy(), axis=1))
    np.testing.assert_allclose(np.asarray(ta.linalg.matrix_norm(t, ord=1, keepdim=True)),
                               np.linalg.norm(t.numpy(), 1, axis=(1, 2), keepdims=True))


TRACE_CASES = [((4, 4), 0, 0, 1), ((3, 5), 1, 0, 1), ((5, 3), -2, 0, 1), ((1, 1), 0, 0, 1),
               ((2, 3, 4), 1, 1, 2), ((3, 2, 3), 0, 0, 2), ((0, 3), 0, 0, 1), ((2, 2), 5, 0, 1)]


@pytest.mark.parametrize("shape,offset,axis1,axis2", TRACE_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_trace_is_numpys_and_torchs_trace(shape, offset, axis1, axis2, dtype):
    """`ta.trace` is the tracer package and also np.trace / torch.trace, gradient included."""
    x = np.random.default_rng(3).normal(size=shape).astype(dtype)
    expected = np.trace(x, offset, axis1, axis2)
    got = ta.trace(ta.tensor(x), offset, axis1, axis2)
    assert got.dtype == expected.dtype and got.shape == np.shape(expected)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6)
    if x.size:
        x64 = x.astype(np.float64)
        grad = ta.grad(lambda a: ta.trace(a, offset, axis1, axis2).sum())(x64)
        fd = _fd_grad(lambda a: np.trace(a, offset, axis1, axis2).sum(), x64)
        np.testing.assert_allclose(np.asarray(grad), fd, atol=1e-6)


def test_trace_compiles_and_keeps_the_tracer_package():
    import tracead.trace.tracer  # noqa: F401  (the package's submodules still import)

    x = np.arange(9.0).reshape(3, 3)
    cf = ta.compile(lambda a: ta.trace(a) * 2)
    cf(x)
    assert float(cf(x)) == 2 * np.trace(x) and cf.stats["hits"] >= 1
