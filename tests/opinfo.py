"""The op table of the test suite: one `OpCase` per primitive and composite.

"Tests are tables" (STYLE.md, PyTorch OpInfo, tinygrad `helper_test_op`):
`tests/test_ops.py` loops over `CASES` and checks forward values against the
NumPy reference, gradients against central differences, float32 gradients
against float64 ones and second derivatives, in every mode of `modes.MODES`.
A primitive of `tracead.ops.PRIMS` without a case here fails the suite.

A case is a tracead function, its NumPy twin, and a few input samples; each
input is an `Arg` (shape and domain). Keep the number of (case, sample)
pairs small: compiled modes JIT one kernel per (case, sample, dtype).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

import tracead as ta
from tracead import functional as F
from tracead.ops import window as F_window
from tracead.ops import window_max as F_window_max


def F_window_uniform(key):
    """uniform(key) for the key given as small integer-valued floats (the "ints" domain)."""
    from tracead.nn.functional import uniform

    return uniform(ta.cast(ta.abs(key), np.uint64), (3,), np.float64)


@dataclass(frozen=True)
class Arg:
    """One input: its shape and where its values come from.

    Domains: "real" U(-2, 2); "positive" U(0.5, 2) (log, sqrt, pow bases);
    "away0" +-U(0.3, 2) (kinks at 0: abs, relu, divisors); "ints" small
    integer values stored as floats (ties for comparisons, maximum, round
    trips); "bool" a random mask; "special" the float values where ops
    go wrong (+-0.0, NaN, +-inf, tiny and huge); "int32_extremes" int32
    values with INT_MIN and INT_MAX (whatever float dtype is asked for).
    Float inputs are differentiable, "bool", "ints" and the edge-value
    domains are not.
    """

    shape: tuple[int, ...]
    domain: str = "real"

    @property
    def differentiable(self) -> bool:
        return self.domain not in ("bool", "ints", "special", "int32_extremes")


def make_input(arg: Arg, dtype, rng: np.random.Generator) -> np.ndarray:
    shape = arg.shape
    if arg.domain == "bool":
        return rng.random(shape) > 0.5
    if arg.domain == "int32_extremes":
        info = np.iinfo(np.int32)
        return rng.choice(np.array([info.min, info.max, 0, -1, 1, info.min + 1], np.int32), shape)
    if arg.domain == "special":
        values = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 1e-30, -3e30, 1.5, -2.0], dtype)
        return rng.choice(values, shape)
    if arg.domain == "real":
        x = rng.uniform(-2, 2, shape)
    elif arg.domain == "positive":
        x = rng.uniform(0.5, 2, shape)
    elif arg.domain == "away0":
        x = rng.uniform(0.3, 2, shape) * rng.choice([-1.0, 1.0], shape)
    elif arg.domain == "ints":
        x = rng.integers(-2, 3, shape).astype(np.float64)
    else:
        raise ValueError(f"unknown domain {arg.domain!r}")
    return np.asarray(x, dtype=dtype)


@dataclass(frozen=True)
class OpCase:
    name: str
    fn: Callable                         # tracead: Tensors -> Tensor
    ref: Callable                        # NumPy: arrays -> array
    samples: tuple[tuple[Arg, ...], ...]
    prim: str | None = None              # the primitive this case covers, if any
    differentiable: bool = True
    smooth: bool = True                  # check second derivatives
    grad_tol: float = 1e-6               # float64 vjp vs finite differences
    fd_eps: float = 1e-6

    def sample_id(self, i: int) -> str:
        shapes = ",".join("x".join(map(str, a.shape)) or "0d" for a in self.samples[i])
        return f"{self.name}-{shapes}"


def _args(*shapes, domain="real") -> tuple[Arg, ...]:
    return tuple(Arg(tuple(s), domain) for s in shapes)


# Shape sets: 0-d, size-1 and broadcast dimensions.
UNARY = (_args(()), _args((1,)), _args((2, 3)))
BINARY = (_args((), ()), _args((2, 3), (2, 3)), _args((2, 1), (1, 3)), _args((3,), (2, 1, 3)))
BINARY_SMALL = (_args((), (3,)), _args((2, 1), (1, 3)))
REDUCE = (_args((2, 3)), _args((1, 3, 2)))


def _with(samples, domain):
    return tuple(tuple(Arg(a.shape, domain) for a in s) for s in samples)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _relu(x):
    return np.maximum(x, np.zeros((), x.dtype))


def _softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _log_softmax(x, axis=-1):
    s = x - x.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


def _logsumexp(x, axis=None):
    m = x.max(axis=axis, keepdims=True)
    return np.squeeze(np.log(np.exp(x - m).sum(axis=axis, keepdims=True)) + m, axis=axis)


def _gelu(x):
    return 0.5 * x * (1 + np.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))


def _scatter_ref(shape, index):
    def ref(g):
        out = np.zeros(shape, g.dtype)
        np.add.at(out, index, g)
        return out
    return ref


IDX = np.array([2, 0, 1])
IDX_REPEAT = np.array([1, 1, 3, 1])
IDX_2D = np.array([[0, 1], [1, 0]])


CASES: list[OpCase] = [
    # -- elementwise arithmetic (binary, broadcasting) ------------------------------
    OpCase("add", ta.add, np.add, BINARY),
    OpCase("sub", ta.sub, np.subtract, BINARY),
    OpCase("mul", ta.mul, np.multiply, BINARY),
    OpCase("div", ta.div, np.divide, tuple((a, Arg(b.shape, "away0")) for a, b in BINARY)),
    OpCase("pow", ta.pow, np.power,
           tuple((Arg(a.shape, "positive"), b) for a, b in BINARY[:3])),
    OpCase("pow_scalar", lambda x: x ** 3, lambda x: x ** 3, UNARY, prim="pow_scalar"),
    OpCase("pow_scalar_half", lambda x: ta.pow(x, 0.5), np.sqrt, _with(UNARY[::2], "positive"),
           prim="pow_scalar"),
    OpCase("pow_scalar_neg", lambda x: x ** -2, lambda x: x ** -2, _with(UNARY[1:], "away0"),
           prim="pow_scalar"),
    OpCase("rpow", lambda x: 2.0 ** x, lambda x: 2.0 ** x, UNARY[1:], prim="pow"),
    OpCase("maximum", ta.maximum, np.maximum, BINARY, smooth=False),
    OpCase("minimum", ta.minimum, np.minimum, BINARY, smooth=False),
    OpCase("maximum_ties", ta.maximum, np.maximum, _with(BINARY[1:2], "ints"),
           differentiable=False),
    # -- elementwise unary ------------------------------------------------------------
    OpCase("neg", ta.neg, np.negative, UNARY),
    OpCase("exp", ta.exp, np.exp, UNARY),
    OpCase("log", ta.log, np.log, _with(UNARY, "positive")),
    OpCase("sqrt", ta.sqrt, np.sqrt, _with(UNARY, "positive")),
    OpCase("tanh", ta.tanh, np.tanh, UNARY),
    OpCase("sigmoid", ta.sigmoid, _sigmoid, UNARY),
    OpCase("relu", ta.relu, _relu, _with(UNARY, "away0"), smooth=False),
    OpCase("abs", ta.abs, np.abs, _with(UNARY, "away0"), smooth=False),
    OpCase("sign", ta.sign, np.sign, _with(UNARY[1:], "ints"), differentiable=False),
    OpCase("sign_zero_grad", lambda x: ta.sign(x) * x, lambda x: np.sign(x) * x,
           _with(UNARY[1:], "away0"), prim="sign", smooth=False),
    OpCase("stop_gradient", ta.stop_gradient, lambda x: x, UNARY[2:], differentiable=False),
    OpCase("cast_f32", lambda x: ta.cast(x, np.float32), lambda x: x.astype(np.float32),
           UNARY[2:], prim="cast", grad_tol=1e-3, fd_eps=1e-3),
    OpCase("cast_f64", lambda x: ta.cast(x, np.float64), lambda x: x.astype(np.float64),
           UNARY[2:], prim="cast"),
    OpCase("cast_int", lambda x: ta.cast(x, np.int32), lambda x: x.astype(np.int32),
           UNARY[2:], prim="cast", differentiable=False),
    OpCase("where", lambda c, a, b: ta.where(c, a, b), np.where,
           (_args((2, 3), domain="bool") + _args((2, 3), (2, 3)),
            _args((2, 1), domain="bool") + _args((), (1, 3)))),
    # -- comparisons: bool, no gradient --------------------------------------------------
    *(OpCase(name, getattr(F, name), ref, _with(BINARY_SMALL, "ints"), differentiable=False)
      for name, ref in (("lt", np.less), ("le", np.less_equal), ("gt", np.greater),
                        ("ge", np.greater_equal), ("eq", np.equal), ("ne", np.not_equal))),
    OpCase("compare_ops", lambda a, b: (a < b) != (a >= 1.0),
           lambda a, b: (a < b) != (a >= 1.0), _with(BINARY_SMALL[1:], "ints"),
           differentiable=False),
    # -- reductions ---------------------------------------------------------------------
    OpCase("sum", lambda x: x.sum(), np.sum, UNARY),
    OpCase("sum_axis", lambda x: x.sum(axis=1), lambda x: x.sum(axis=1), REDUCE, prim="sum"),
    OpCase("sum_axes_keepdims", lambda x: x.sum(axis=(0, -1), keepdims=True),
           lambda x: x.sum(axis=(0, -1), keepdims=True), REDUCE, prim="sum"),
    OpCase("max", lambda x: x.max(), np.max, UNARY, smooth=False),
    OpCase("max_axis_keepdims", lambda x: x.max(axis=-1, keepdims=True),
           lambda x: x.max(axis=-1, keepdims=True), REDUCE, prim="max", smooth=False),
    OpCase("min", lambda x: ta.min(x, axis=0), lambda x: x.min(axis=0), REDUCE, smooth=False),
    OpCase("mean", lambda x: x.mean(), np.mean, UNARY),
    OpCase("mean_axis", lambda x: x.mean(axis=1, keepdims=True),
           lambda x: x.mean(axis=1, keepdims=True), REDUCE),
    OpCase("var", lambda x: ta.var(x), np.var, UNARY[1:]),  # NumPy's function: ddof=0
    OpCase("var_method", lambda x: x.var(), lambda x: np.var(x, ddof=1), REDUCE[:1],
           prim="sum"),  # torch's method: correction=1
    OpCase("var_axis", lambda x: ta.var(x, axis=-1), lambda x: x.var(axis=-1), REDUCE[:1]),
    OpCase("logsumexp", lambda x: ta.logsumexp(x, axis=-1), lambda x: _logsumexp(x, -1), REDUCE),
    OpCase("logsumexp_all", ta.logsumexp, _logsumexp, UNARY[::2]),
    OpCase("softmax", ta.softmax, _softmax, REDUCE),
    OpCase("softmax_axis0", lambda x: ta.softmax(x, axis=0), lambda x: _softmax(x, 0), REDUCE[:1]),
    OpCase("log_softmax", ta.log_softmax, _log_softmax, REDUCE),
    # -- other composites ------------------------------------------------------------------
    OpCase("gelu", ta.gelu, _gelu, UNARY[::2]),
    OpCase("clip", lambda x: ta.clip(x, -1.0, 1.0), lambda x: np.clip(x, -1.0, 1.0),
           UNARY[::2], smooth=False),
    # -- shapes and movement ------------------------------------------------------------------
    OpCase("reshape", lambda x: x.reshape(3, -1), lambda x: x.reshape(3, -1),
           (_args((2, 3)), _args((3, 1, 2)))),
    OpCase("reshape_0d", lambda x: x.reshape(1, 1), lambda x: x.reshape(1, 1), UNARY[:1],
           prim="reshape"),
    OpCase("transpose", lambda x: x.T, lambda x: x.T, (_args((2, 3)), _args((2, 1, 3)))),
    OpCase("transpose_axes", lambda x: ta.transpose(x, (1, 2, 0)),
           lambda x: np.transpose(x, (1, 2, 0)), (_args((2, 1, 3)),), prim="transpose"),
    OpCase("broadcast_to", lambda x: ta.broadcast_to(x, (2, 3)),
           lambda x: np.broadcast_to(x, (2, 3)), (_args(()), _args((2, 1)), _args((3,)))),
    OpCase("concatenate", lambda a, b: ta.concatenate([a, b], axis=1),
           lambda a, b: np.concatenate([a, b], axis=1), (_args((2, 1), (2, 3)),)),
    OpCase("concatenate_3", lambda a, b, c: ta.concatenate([a, b, c]),
           lambda a, b, c: np.concatenate([a, b, c]), (_args((1,), (3,), (2,)),),
           prim="concatenate"),
    OpCase("stack", lambda a, b: ta.stack([a, b], axis=-1), lambda a, b: np.stack([a, b], -1),
           (_args((), ()), _args((2, 3), (2, 3)))),
    # -- matmul ----------------------------------------------------------------------------------
    OpCase("matmul", ta.matmul, np.matmul, (_args((2, 3), (3, 4)), _args((1, 3), (3, 1)))),
    OpCase("matmul_vec", lambda a, b: a @ b, np.matmul,
           (_args((3,), (3,)), _args((2, 3), (3,)), _args((3,), (3, 2))), prim="matmul"),
    OpCase("matmul_batched", ta.matmul, np.matmul,
           (_args((2, 2, 3), (3, 2)), _args((2, 1, 2, 3), (3, 3, 2))), prim="matmul"),
    # -- indexing -----------------------------------------------------------------------------------
    OpCase("getitem", lambda x: x[1], lambda x: x[1], (_args((3,)), _args((3, 2)))),
    OpCase("getitem_slices", lambda x: x[1:, :2], lambda x: x[1:, :2], (_args((3, 4)),),
           prim="getitem"),
    OpCase("getitem_negative_step", lambda x: x[::-2, -1], lambda x: x[::-2, -1],
           (_args((5, 2)),), prim="getitem"),
    OpCase("getitem_none_ellipsis", lambda x: x[None, ..., 0, None],
           lambda x: x[None, ..., 0, None], (_args((2, 3, 2)),), prim="getitem"),
    OpCase("getitem_int_array", lambda x: x[IDX], lambda x: x[IDX], (_args((4, 2)),),
           prim="getitem"),
    OpCase("getitem_repeated", lambda x: x[:, IDX_REPEAT], lambda x: x[:, IDX_REPEAT],
           (_args((2, 4)),), prim="getitem"),
    OpCase("getitem_2d_arrays", lambda x: x[IDX_2D, IDX_2D.T],
           lambda x: x[IDX_2D, IDX_2D.T], (_args((2, 3)),), prim="getitem"),
    OpCase("scatter_add", lambda g: F.scatter_add(g, IDX_REPEAT, index=(("a", 0),), shape=(4, 2)),
           _scatter_ref((4, 2), IDX_REPEAT), (_args((4, 2)),)),
    OpCase("scatter_add_slice",
           lambda g: F.scatter_add(g, index=(("s", None, None, -1), ("i", 1)), shape=(3, 2)),
           _scatter_ref((3, 2), (slice(None, None, -1), 1)), (_args((3,)),),
           prim="scatter_add"),
]

from opinfo_shapes import SHAPE_CASES  # noqa: E402  (uses the classes above)

CASES += SHAPE_CASES


# -- sliding windows and random numbers ----------------------------------------------------
def _im2col_ref(x, k=(2, 3), s=(1, 2), p=(1, 0, 1, 1), d=(1, 1), fill=0.0):
    xp = np.pad(x, ((0, 0), (0, 0), p[:2], p[2:]), constant_values=fill)
    ho = (xp.shape[2] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    wo = (xp.shape[3] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    out = np.zeros(x.shape[:2] + k + (ho, wo), x.dtype)
    for i in range(k[0]):
        for j in range(k[1]):
            for y in range(ho):
                for z in range(wo):
                    out[:, :, i, j, y, z] = xp[:, :, y * s[0] + i * d[0], z * s[1] + j * d[1]]
    return out


def _col2im_ref(cols, image=(3, 4), k=(2, 3), s=(1, 2), p=(1, 0, 1, 1), d=(1, 1)):
    """The transpose of _im2col_ref, through its matrix (the definition)."""
    n, c = cols.shape[:2]
    size = n * c * image[0] * image[1]
    basis = np.eye(size).reshape((size, n, c) + image)
    matrix = np.stack([_im2col_ref(b, k, s, p, d).reshape(-1) for b in basis])
    return (matrix @ cols.reshape(-1)).reshape((n, c) + image).astype(cols.dtype)


WINDOW = dict(kernel=(2, 3), stride=(1, 2), padding=(1, 0, 1, 1), dilation=(1, 1))


def _window_argmax_ref(x, k=(3, 2), s=(2, 1), p=(1, 1, 0, 1), d=(1, 1)):
    """The plane index of each window's first maximum: argmax over the window's
    in-image taps (padding is -inf, and the real values here are finite)."""
    cols = _im2col_ref(x, k, s, p, d, -np.inf)
    rows = _im2col_ref(np.broadcast_to(np.arange(x.shape[2])[:, None], x.shape[2:])[None, None]
                       .astype(float), k, s, p, d, -1.0)
    cols_ = _im2col_ref(np.broadcast_to(np.arange(x.shape[3]), x.shape[2:])[None, None]
                        .astype(float), k, s, p, d, -1.0)
    n, c, kh, kw, ho, wo = cols.shape
    first = cols.reshape(n, c, kh * kw, ho, wo).argmax(axis=2)
    at_r = np.take_along_axis(rows.reshape(1, 1, kh * kw, ho, wo), first[:, :, None], 2)[:, :, 0]
    at_s = np.take_along_axis(cols_.reshape(1, 1, kh * kw, ho, wo), first[:, :, None], 2)[:, :, 0]
    return (at_r * x.shape[3] + at_s).astype(np.int64)


# Plane indices into 3x4 planes, with repeats (they accumulate in plane_scatter).
PLANE_INDEX = np.array([[[[0, 5, 11], [5, 3, 0]]], [[[7, 7, 7], [2, 1, 4]]]])


def _plane_gather_ref(x):
    flat = x.reshape(x.shape[:2] + (-1,))
    return np.take_along_axis(flat, PLANE_INDEX.reshape(2, 1, -1), 2).reshape(PLANE_INDEX.shape)


def _plane_scatter_ref(g):
    out = np.zeros((2, 1, 12), g.dtype)
    for a, b, y, z in np.ndindex(*g.shape):
        out[a, b, PLANE_INDEX[a, b, y, z]] += g[a, b, y, z]
    return out.reshape(2, 1, 3, 4)


def _uniform_ref(key):
    key = np.abs(key).astype(np.uint64)
    out = np.empty(key.shape + (3,))
    for idx in np.ndindex(key.shape):
        out[idx] = np.random.Generator(np.random.Philox(key=int(key[idx]))).random(3)
    return out


CASES += [
    OpCase("im2col", lambda x: F_window.im2col(x, **WINDOW), _im2col_ref, (_args((2, 1, 3, 4)),)),
    OpCase("im2col_dilated_maxpad",
           lambda x: F_window.im2col(x, kernel=(2, 2), stride=(2, 1), padding=(0, 1, 1, 0),
                                     dilation=(1, 2), pad_value=-np.inf),
           lambda x: _im2col_ref(x, (2, 2), (2, 1), (0, 1, 1, 0), (1, 2), -np.inf),
           (_args((1, 2, 4, 3)),), prim="im2col", differentiable=False),  # -inf entries
    OpCase("col2im", lambda c: F_window.col2im(c, image=(3, 4), **WINDOW), _col2im_ref,
           (_args((2, 1, 2, 3, 3, 2)),)),
    OpCase("im2col_gemm_layout", lambda x: F_window.im2col(x, layout="gemm", **WINDOW),
           lambda x: np.ascontiguousarray(_im2col_ref(x).transpose(1, 2, 3, 0, 4, 5)),
           (_args((2, 1, 3, 4)), _args((1, 2, 3, 4))), prim="im2col"),
    OpCase("col2im_gemm_layout",
           lambda c: F_window.col2im(c, image=(3, 4), layout="gemm", **WINDOW),
           lambda c: _col2im_ref(np.ascontiguousarray(c.transpose(3, 0, 1, 2, 4, 5))),
           (_args((1, 2, 3, 2, 3, 2)),), prim="col2im"),
    OpCase("window_argmax", lambda x: F_window_max.window_argmax(
        x, kernel=(3, 2), stride=(2, 1), padding=(1, 1, 0, 1), dilation=(1, 1)),
        _window_argmax_ref, (_args((2, 3, 4, 3)), _args((1, 1, 2, 2))), differentiable=False),
    OpCase("plane_gather", lambda x: F_window_max.plane_gather(x, ta.Tensor(PLANE_INDEX)),
           _plane_gather_ref, (_args((2, 1, 3, 4)),)),
    OpCase("plane_scatter", lambda g: F_window_max.plane_scatter(g, ta.Tensor(PLANE_INDEX),
                                                                 image=(3, 4)),
           _plane_scatter_ref, (_args((2, 1, 2, 3)),)),
    OpCase("uniform", lambda k: F_window_uniform(k), _uniform_ref,
           (_args((), domain="ints"), _args((2,), domain="ints")), differentiable=False),
]


# -- edge values: +-0.0, NaN, +-inf, INT_MIN / INT_MAX and empty arrays -----------------
SPECIAL_UNARY = _with(((Arg((3, 4)),),), "special")
SPECIAL_BINARY = _with((_args((3, 4), (3, 4)), _args((3, 1), (1, 4))), "special")
INT_EXTREMES = _with(((Arg((3, 4)),),), "int32_extremes")
INT_EXTREMES_BINARY = _with((_args((3, 4), (3, 4)),), "int32_extremes")
EMPTY = (_args((0,)), _args((2, 0)))

EDGE_CASES: list[OpCase] = [
    *(OpCase(f"{name}_special", fn, ref, SPECIAL_BINARY, differentiable=False)
      for name, fn, ref in (("add", ta.add, np.add), ("mul", ta.mul, np.multiply),
                            ("div", ta.div, np.divide), ("maximum", ta.maximum, np.maximum),
                            ("minimum", ta.minimum, np.minimum), ("lt", F.lt, np.less),
                            ("eq", F.eq, np.equal))),
    *(OpCase(f"{name}_special", fn, ref, SPECIAL_UNARY, differentiable=False)
      for name, fn, ref in (("neg", ta.neg, np.negative), ("exp", ta.exp, np.exp),
                            ("log", ta.log, np.log), ("sqrt", ta.sqrt, np.sqrt),
                            ("tanh", ta.tanh, np.tanh), ("sigmoid", ta.sigmoid, _sigmoid),
                            ("abs", ta.abs, np.abs), ("sign", ta.sign, np.sign),
                            ("relu", ta.relu, _relu),
                            ("sum_axis", lambda x: x.sum(axis=1), lambda x: x.sum(axis=1)),
                            ("max_axis", lambda x: x.max(axis=0), lambda x: x.max(axis=0)),
                            ("min_axis", lambda x: ta.min(x, axis=1), lambda x: x.min(axis=1)),
                            ("logsumexp", lambda x: ta.logsumexp(x, axis=1),
                             lambda x: _logsumexp_inf(x, 1)))),
    OpCase("where_special", lambda c, a: ta.where(c, a, -a), lambda c, a: np.where(c, a, -a),
           (_args((3, 4), domain="bool") + SPECIAL_UNARY[0],), differentiable=False),
    *(OpCase(f"{name}_int32_extremes", fn, ref, INT_EXTREMES, differentiable=False)
      for name, fn, ref in (("min", lambda x: ta.min(x), np.min),
                            ("min_axis", lambda x: ta.min(x, axis=0), lambda x: x.min(axis=0)),
                            ("max_axis", lambda x: x.max(axis=1), lambda x: x.max(axis=1)),
                            ("sum", lambda x: x.sum(axis=0), lambda x: x.sum(axis=0)),
                            ("abs", ta.abs, np.abs), ("neg", ta.neg, np.negative),
                            ("getitem", lambda x: x[IDX, 1:], lambda x: x[IDX, 1:]))),
    *(OpCase(f"{name}_int32_extremes", fn, ref, INT_EXTREMES_BINARY, differentiable=False)
      for name, fn, ref in (("maximum", ta.maximum, np.maximum),
                            ("minimum", ta.minimum, np.minimum), ("lt", F.lt, np.less),
                            ("sub", ta.sub, np.subtract))),
    *(OpCase(f"{name}_empty", fn, ref, EMPTY)
      for name, fn, ref in (("exp", ta.exp, np.exp), ("add", lambda x: x + x, lambda x: x + x),
                            ("sum", lambda x: x.sum(), np.sum),
                            ("sum_axis", lambda x: x.sum(axis=-1), lambda x: x.sum(axis=-1)),
                            ("reshape", lambda x: x.reshape(-1, 2), lambda x: x.reshape(-1, 2)),
                            ("concatenate", lambda x: ta.concatenate([x, x]),
                             lambda x: np.concatenate([x, x])))),
    OpCase("matmul_empty_inner", ta.matmul, np.matmul, (_args((2, 0), (0, 3)),)),
    # Reducing a non-empty axis of an empty tensor is an empty result, not an error.
    OpCase("max_empty_rows", lambda x: x.max(axis=1), lambda x: x.max(axis=1), (_args((0, 3)),),
           smooth=False),
    OpCase("min_empty_rows", lambda x: ta.min(x, axis=-1), lambda x: x.min(axis=-1),
           (_args((0, 3)),), smooth=False),
    # NaN (0 / 0) as in NumPy; no gradient check, finite differences are NaN too.
    OpCase("mean_empty", lambda x: x.mean(axis=-1), lambda x: x.mean(axis=-1), EMPTY,
           differentiable=False),
    OpCase("var_empty", lambda x: ta.var(x, axis=-1, ddof=1),
           lambda x: x.var(axis=-1, ddof=1), EMPTY, differentiable=False),
]


def _logsumexp_inf(x, axis):
    """scipy's logsumexp: an infinite max shifts by 0 (all -inf gives -inf)."""
    m = x.max(axis=axis, keepdims=True)
    m = np.where(np.isinf(m), 0, m)
    return np.squeeze(np.log(np.exp(x - m).sum(axis=axis, keepdims=True)) + m, axis=axis)


CASES = CASES + EDGE_CASES


def all_samples(cases=None) -> list[tuple[OpCase, int]]:
    """Every (case, sample index) pair, for parametrize."""
    return [(c, i) for c in (CASES if cases is None else cases) for i in range(len(c.samples))]


def covered_prims() -> set[str]:
    """Primitives the table claims to cover (verified by test_ops)."""
    return {c.prim or c.name for c in CASES}


from opinfo_more import MORE_CASES  # noqa: E402  (math, rounding, division, scans, sorting)

CASES = CASES + MORE_CASES

from opinfo_torch import TORCH_CASES  # noqa: E402  (bits, svd norms, torch composites, losses)

CASES = CASES + TORCH_CASES
