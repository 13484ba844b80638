"""The probes of `op_coverage.py`: torch-style calls, one string each, by family.

Each probe is `(family, expression, inputs)`. The expression is evaluated
twice, once with `T = torch` and once with `T = tracead` (`F` is
`T.nn.functional`, `nn` is `T.nn`), on the same input values, so it must be
spelled the way a PyTorch user writes it. Inputs: a shape tuple is U(-2, 2)
float32 that requires grad; a string picks another domain:
  "p2,3"   U(0.5, 2) (logs, roots)      "u2,3"  U(-0.9, 0.9) (asin, atanh)
  "i2,3:5" int64 in [0, 5)               "b2,3"  a random bool mask
  "g2,3"   U(1.1, 3) (acosh)              "n2,3"  integer-valued floats in [-3, 3]
a list is a literal (floats -> float32, ints -> int64, bools -> bool).
The families follow the peer op suite's (elementwise math, rounding /
floor division / modulo, shape ops, scans, convolution, pooling, pad, sort
and selection, activations, scatter/gather, reductions, losses, einsum,
creation, interpolate); the calls cover the keyword arguments those
families exercise (dim=, keepdim=, stride/padding/dilation/groups,
ceil_mode, count_include_pad, modes, reduction=, weight=, ...).
"""
from __future__ import annotations

S = (3, 4)
IMG = (2, 3, 7, 6)
W = (4, 3, 3, 3)
SPECIALS = [0.0, -0.0, 1.5, -2.5, 2.5, 0.5, -0.5, float("inf"), float("-inf"), float("nan")]
DIVS = [-4.0, 7.0, 5.0, 4.0, -7.0, 8.0, -9.0]
DIVB = [2.0, -3.0, 8.0, -2.0, 3.0, 5.0, -5.0]
IDIVS = [-4, 7, 5, 4, -7, 8, -9]
IDIVB = [2, -3, 8, -2, 3, 5, -5]

ELEMENTWISE = [(e, [S]) for e in (
    "x.sin()", "x.cos()", "(0.6 * x).tan()", "T.sin(x)", "T.exp(x)", "x.exp()", "T.exp2(x)",
    "x.exp2()", "x.sigmoid()", "T.sigmoid(x)", "x.tanh()", "x.sinh()", "x.cosh()", "x.asinh()",
    "x.atan()", "T.atan(x)", "x.abs()", "T.abs(x)", "x.neg()", "-x", "x.sign()", "x.square()",
    "x.erf()", "T.erf(x)", "T.erfc(x)", "x.expm1()", "x * x.sigmoid()", "x.relu()",
    "x.clamp(-1.0, 0.5)", "x.clamp(min=-0.5)", "x.clamp(max=0.5)", "x.clip(-1.2, 1.3)",
    "T.clamp(x, -1, 1)", "x.clip(None, 0.3)", "x ** 2", "x ** 3", "2.0 ** x", "x.pow(2)",
    "x.add(1.5)", "x.sub(0.5)", "x.mul(0.5)", "x.div(3.0)", "1.5 - x", "x / 2", "2 * x",
    "x.lerp(T.zeros_like(x), 0.3)", "T.lerp(x, T.ones_like(x), 0.25)",
)] + [(e, ["p3,4"]) for e in (
    "x.log()", "T.log(x)", "x.log2()", "x.log10()", "x.log1p()", "x.sqrt()", "x.rsqrt()",
    "T.rsqrt(x)", "x.reciprocal()", "x ** 0.5", "x ** -1.5", "x ** 2.5", "x.pow(1.2)",
)] + [(e, ["u3,4"]) for e in ("x.asin()", "x.acos()", "x.atanh()", "T.asin(x)")] + [
    ("x.acosh()", ["g3,4"]),
    ("x + y", [S, S]), ("x - y", [S, (4,)]), ("x * y", [S, (3, 1)]), ("x / y", [S, "p3,4"]),
    ("T.add(x, y)", [S, S]), ("T.mul(x, y)", [S, S]), ("T.div(x, y)", [S, "p3,4"]),
    ("T.sub(x, y)", [S, S]), ("x.div(y)", [S, "p3,4"]), ("x.mul(y)", [S, S]), ("x.add(y)", [S, S]),
    ("x ** y", ["p3,4", S]), ("x.pow(y)", ["p3,4", S]), ("T.pow(x, y)", ["p3,4", S]),
    ("T.maximum(x, y)", [S, S]), ("T.minimum(x, y)", [S, S]), ("x.maximum(y)", [S, S]),
    ("T.atan2(x, y)", [S, "p3,4"]), ("T.copysign(x, y)", [S, S]), ("x.copysign(y)", [S, S]),
    ("T.logaddexp(x, y)", [S, S]), ("x.logaddexp(y)", [S, S]), ("T.hypot(x, y)", [S, S]),
    ("T.where(x > 0, x, y)", [S, S]), ("T.where(x > 0, x, 0.0)", [S]),
    ("T.where(x > 0, 1.0, x)", [S]), ("T.where(x > 0, 4, 2)", [S]),
    ("x.where(x > 0, y)", [S, S]), ("x.masked_fill(x < 0, 0.5)", [S]),
    ("T.masked_fill(x, x > 1, -1.0)", [S]),
    ("T.isnan(x)", [SPECIALS]), ("T.isinf(x)", [SPECIALS]), ("x.isfinite()", [SPECIALS]),
    ("T.isposinf(x)", [SPECIALS]), ("T.isneginf(x)", [SPECIALS]),
    ("T.nan_to_num(x)", [SPECIALS]),
    ("x.isclose(y)", [S, S]), ("T.isclose(x, x + 1e-7)", [S]), ("T.allclose(x, x)", [S]),
    ("T.isclose(x, y, equal_nan=True)", [SPECIALS, SPECIALS]),
    ("T.logical_not(x)", ["b3,4"]), ("T.logical_and(x, y)", ["b3,4", "b3,4"]),
    ("T.logical_or(x, y)", ["b3,4", "b3,4"]), ("T.logical_xor(x, y)", ["b3,4", "b3,4"]),
    ("x & y", ["b3,4", "b3,4"]), ("x | y", ["b3,4", "b3,4"]), ("~x", ["b3,4"]), ("x ^ y", ["b3,4", "b3,4"]),
    ("x.bitwise_and(y)", [IDIVS, IDIVB]), ("x.bitwise_not()", [IDIVS]), ("x << 2", [IDIVB]),
    ("x >> 1", [IDIVS]),
    ("x < y", [S, S]), ("x >= 0.5", [S]), ("x == y", ["n3,4", "n3,4"]), ("x != y", ["n3,4", "n3,4"]),
    ("T.eq(x, y)", ["n3,4", "n3,4"]), ("x.eq(y)", ["n3,4", "n3,4"]), ("x.gt(0)", [S]),
    ("x.lt(y)", [S, S]), ("x.ge(y)", [S, S]), ("x.le(0.0)", [S]), ("x.ne(y)", ["n3,4", "n3,4"]),
    ("T.greater(x, y)", [S, S]), ("T.less_equal(x, y)", [S, S]),
    ("x.exp()", [SPECIALS]), ("x.sin()", [SPECIALS]), ("x.log()", [SPECIALS]),
    ("x.sigmoid()", [[300.0, -300.0, 0.0]]),
]

ROUNDING = [(e, [v]) for v in ([1.499, 1.5, 1.501, 2.5, -0.5, -2.5, -2.501, 0.0, 1e12],)
            for e in ("x.floor()", "x.ceil()", "x.round()", "x.trunc()", "T.round(x)",
                      "T.floor(x)", "T.round(x, decimals=1)", "x.frac()", "T.fix(x)")] + [
    ("x.detach() // y.detach()", [DIVS, DIVB]), ("x % y", [DIVS, DIVB]), ("x // y", [IDIVS, IDIVB]),
    ("x % y", [IDIVS, IDIVB]), ("x % 3", [IDIVS]), ("x % 3.5", [DIVS]), ("100 % x", [IDIVS]),
    ("x // 2", [IDIVS]), ("T.fmod(x, y)", [DIVS, DIVB]), ("T.fmod(x, y)", [IDIVS, IDIVB]),
    ("T.remainder(x, y)", [DIVS, DIVB]), ("T.floor_divide(x, y)", [IDIVS, IDIVB]),
    ("x.div(y, rounding_mode='floor')", [DIVS, DIVB]),
    ("x.div(y, rounding_mode='trunc')", [DIVS, DIVB]),
    ("x.div(y, rounding_mode='trunc')", [IDIVS, IDIVB]),
    ("T.div(x, y, rounding_mode='floor')", [IDIVS, IDIVB]),
    ("x / y", [IDIVS, IDIVB]), ("x.remainder(y)", [DIVS, DIVB]), ("x.fmod(2.5)", [DIVS]),
]

SHAPE = [
    ("x.reshape(4, 3)", [S]), ("x.reshape((2, -1))", [S]), ("x.view(2, 6)", [S]),
    ("x.view(-1)", [S]), ("x.T", [S]), ("x.mT", [(2, 3, 4)]), ("x.t()", [S]),
    ("x.transpose(0, 1)", [S]), ("x.transpose(1, 2)", [(2, 3, 4)]), ("T.transpose(x, 0, 2)", [(2, 3, 4)]),
    ("x.permute(2, 0, 1)", [(2, 3, 4)]), ("x.permute((1, 0, 2))", [(2, 3, 4)]),
    ("T.permute(x, (2, 1, 0))", [(2, 3, 4)]), ("x.flip(0)", [S]), ("x.flip((0, 1))", [S]),
    ("T.flip(x, dims=(1,))", [S]), ("x.fliplr()", [S]), ("x.roll(1)", [S]), ("x.roll(1, 0)", [S]),
    ("x.roll(shifts=(1, -2), dims=(0, 1))", [S]), ("T.roll(x, -1, dims=1)", [S]),
    ("x.tril()", [S]), ("x.triu(1)", [S]), ("T.tril(x, -1)", [(2, 4, 4)]),
    ("x.squeeze()", [(1, 3, 1)]), ("x.squeeze(0)", [(1, 3, 1)]), ("x.squeeze(-1)", [(1, 3, 1)]),
    ("T.squeeze(x, 2)", [(1, 3, 1)]), ("x.squeeze((0, 2))", [(1, 3, 1)]),
    ("x.unsqueeze(0)", [S]), ("x.unsqueeze(-1)", [S]), ("T.unsqueeze(x, 1)", [S]),
    ("x.flatten()", [(2, 3, 4)]), ("x.flatten(1)", [(2, 3, 4)]),
    ("x.flatten(start_dim=0, end_dim=1)", [(2, 3, 4)]), ("T.flatten(x, 1)", [(2, 3, 4)]),
    ("x.unflatten(1, (2, 2))", [S]), ("x.expand(2, 3, 4)", [S]), ("x.expand(-1, 4)", [(3, 1)]),
    ("x.expand_as(y)", [(3, 1), S]), ("x.repeat(2, 1)", [S]), ("x.repeat(2, 1, 3)", [S]),
    ("x.tile((2, 1))", [S]), ("T.tile(x, (2,))", [S]), ("x.repeat_interleave(2)", [S]),
    ("x.repeat_interleave(2, dim=0)", [S]), ("T.cat([x, y], dim=1)", [S, S]),
    ("T.cat((x, y))", [S, S]), ("T.concat([x, y], 0)", [S, S]), ("T.concatenate([x, y], 1)", [S, S]),
    ("T.stack([x, y])", [S, S]), ("T.stack((x, y), dim=-1)", [S, S]), ("T.hstack([x, y])", [S, S]),
    ("T.vstack([x, y])", [S, S]), ("T.dstack([x, y])", [S, S]),
    ("x.split(2)[1]", [(5, 2)]), ("x.split([1, 3], dim=1)[1]", [S]), ("T.split(x, 2, 0)[0]", [S]),
    ("x.chunk(2)[0]", [(5, 2)]), ("x.chunk(3, dim=1)[2]", [(2, 7)]), ("T.chunk(x, 2, 1)[1]", [S]),
    ("T.unbind(x)[1]", [S]), ("x.unbind(1)[0]", [S]), ("T.meshgrid(x, y, indexing='ij')[0]", [(3,), (4,)]),
    ("T.meshgrid(x, y, indexing='xy')[1]", [(3,), (4,)]), ("T.movedim(x, 0, -1)", [(2, 3, 4)]),
    ("x.movedim(1, 0)", [(2, 3, 4)]), ("x.swapaxes(0, 1)", [S]), ("T.swapaxes(x, 0, 1)", [S]),
    ("x.diag()", [(4,)]), ("T.diag(x)", [S]), ("x.diagonal()", [(4, 4)]), ("T.diagonal(x, 1)", [S]),
    ("T.trace(x)", [(4, 4)]), ("x.unfold(0, 2, 1)", [(6,)]), ("x.narrow(1, 1, 2)", [S]),
    ("x.contiguous()", [S]), ("x.clone()", [S]), ("x.detach()", [S]), ("x.view_as(y)", [S, (4, 3)]),
    ("x.reshape_as(y)", [S, (4, 3)]), ("T.atleast_2d(x)", [(3,)]), ("T.ravel(x)", [S]),
    ("x[1:3, ::2]", [(4, 5)]), ("x[None, ..., 0]", [(2, 3, 4)]), ("x[[0, 2]]", [S]),
    ("x[x > 0.5]", [S]), ("x[:, T.tensor([0, 3, 0])]", [S]), ("x[-1]", [S]),
]

SCANS = [(e, [s]) for s in ((5,), S) for e in (
    "x.cumsum(0)", "T.cumsum(x, dim=0)", "x.cumsum(dim=-1)", "x.cumprod(0)", "T.cumprod(x, dim=-1)",
    "T.cummax(x, dim=0).values", "T.cummax(x, 0)[1]", "x.cummin(-1).values", "x.cummin(0).indices",
    "T.logcumsumexp(x, dim=0)", "x.logcumsumexp(-1)",
)] + [("T.cumsum(x, dim=1)", [(2, 0, 3)]), ("T.cumsum(x, dim=0)", [[1, 2, 3]]),
      ("x.cumsum(0, dtype=T.float64)", [(5,)]), ("T.cumsum(x, 0)", [()])]

SORT = [
    ("x.sort()[0]", [S]), ("x.sort(0)[1]", [S]), ("x.sort(dim=1, descending=True).values", [S]),
    ("x.sort(stable=True).indices", [[0.0, 1.0] * 5]), ("x.sort(descending=True, stable=True)[1]", [[0.0, 1.0] * 5]),
    ("T.sort(x, dim=0).values", [S]), ("T.sort(x, 1, True)[1]", [S]),
    ("T.argsort(x, dim=1)", [S]), ("x.argsort(0, descending=True)", [S]),
    ("T.argsort(x, dim=-1, stable=True)", [[2.0, 1.0, 2.0, 1.0]]),
    ("x.topk(2).values", [S]), ("x.topk(2)[1]", [S]), ("T.topk(x, 2, dim=0).values", [S]),
    ("x.topk(3, largest=False).indices", [S]), ("x.topk(2, 0, False, True)[0]", [S]),
    ("x.argmax()", [S]), ("x.argmax(1)", [S]), ("x.argmax(dim=0, keepdim=True)", [S]),
    ("T.argmax(x, dim=1)", [S]), ("x.argmin()", [S]), ("T.argmin(x, 0)", [S]),
    ("x.argmax()", [[1.0, 2.0, 2.0]]), ("x.argmin()", [[3.0, 2.0, 2.0]]),
    ("x.max(dim=1).values", [[[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]]]),
    ("x.min(dim=0, keepdim=True)[0]", [[[1.0, 3.0], [1.0, 2.0]]]),
    ("x.amax(1)", [[[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]]]),
    ("x.max(1)[0]", [S]), ("x.max(dim=1)[1]", [S]), ("x.max(dim=0).values", [S]),
    ("T.max(x, 1)[0]", [S]), ("T.max(x, dim=1, keepdim=True)[1]", [S]), ("x.min(dim=1).indices", [S]),
    ("T.min(x, 0)[0]", [S]), ("T.max(x)", [S]), ("x.max()", [S]), ("T.max(x, y)", [S, S]),
    ("T.kthvalue(x, 2, dim=1).values", [S]), ("T.median(x)", [(5,)]), ("x.median(dim=1).values", [(3, 5)]),
    ("T.msort(x)", [S]), ("x.amax(1)", [S]), ("T.amin(x, dim=(0, 1))", [S]),
    ("T.unique(x)", [[3, 1, 2, 1, 3]]), ("T.searchsorted(x, y)", [[1.0, 2.0, 3.0], [2.5, 0.5]]),
]

ACTIVATIONS = [(e, [S]) for e in (
    "F.relu(x)", "F.relu6(3 * x)", "F.leaky_relu(x)", "F.leaky_relu(x, 0.2)",
    "F.leaky_relu(x, negative_slope=0.1)", "F.elu(x)", "F.elu(x, alpha=0.5)", "F.celu(x, 1.5)",
    "F.selu(x)", "F.gelu(x)", "F.gelu(x, approximate='tanh')", "F.silu(x)", "F.mish(x)",
    "F.softplus(x)", "F.softplus(x, beta=2.0)", "F.softplus(x, beta=0.5, threshold=1.0)",
    "F.softsign(x)", "F.hardtanh(x)", "F.hardtanh(x, -0.5, 0.5)", "F.hardsigmoid(x * 3)",
    "F.hardswish(x * 3)", "F.logsigmoid(x)", "F.sigmoid(x)", "F.tanh(x)", "F.tanhshrink(x)",
    "F.softshrink(x, 0.5)", "F.hardshrink(x, 0.5)", "F.threshold(x, 0.1, 20.0)",
    "F.softmax(x, dim=1)", "F.softmax(x, -1)", "F.log_softmax(x, dim=0)", "F.softmin(x, dim=1)",
    "F.glu(x, dim=-1)", "F.prelu(x, T.tensor([0.25]))", "F.rrelu(x, training=False)",
    "x.softmax(0)", "x.softmax(dim=-1)", "x.log_softmax(1)", "T.softmax(x, dim=1)",
    "T.log_softmax(x, 1)", "T.relu(x)", "T.sigmoid(x)",
    "nn.ReLU()(x)", "nn.GELU()(x)", "nn.GELU(approximate='tanh')(x)", "nn.Tanh()(x)",
    "nn.Sigmoid()(x)", "nn.SiLU()(x)", "nn.LeakyReLU(0.2)(x)", "nn.ELU()(x)", "nn.Softplus()(x)",
    "nn.Softmax(dim=1)(x)", "nn.LogSoftmax(dim=1)(x)", "nn.Hardtanh()(x)", "nn.ReLU6()(x)",
    "nn.Mish()(x)", "nn.Hardswish()(x)", "nn.Softsign()(x)", "nn.Identity()(x)",
)] + [("F.softmax(x, dim=0)", [()]), ("F.log_softmax(x, dim=-1)", [()])]

GATHER = [
    ("x.gather(1, y)", [S, "i3,2:4"]), ("T.gather(x, 0, y)", [S, "i2,4:3"]),
    ("x.gather(dim=-1, index=y)", [(2, 3, 4), "i2,3,5:4"]),
    ("x.scatter(1, y, z)", [S, [[0, 1], [2, 3], [3, 0]], (3, 2)]),
    ("x.scatter(0, y, 2.5)", [S, [[0, 1, 2, 0]], ]),
    ("x.scatter(dim=1, index=y, value=-1.0)", [S, [[1], [0], [3]]]),
    ("x.scatter_add(1, y, z)", [S, "i3,5:4", (3, 5)]), ("T.scatter_add(x, 0, y, z)", [S, "i2,4:3", (2, 4)]),
    ("x.detach().scatter(1, y, z.detach(), reduce='add')", [S, [[0, 1], [2, 3], [3, 0]], (3, 2)]),
    ("x.scatter_reduce(1, y, z, reduce='sum')", [S, "i3,5:4", (3, 5)]),
    ("x.scatter_reduce(1, y, z, reduce='amax')", [S, "i3,5:4", (3, 5)]),
    ("x.scatter_reduce(1, y, z, reduce='amin', include_self=False)", [S, "i3,5:4", (3, 5)]),
    ("x.scatter_reduce(0, y, z, reduce='mean')", [S, "i2,4:3", (2, 4)]),
    ("x.scatter_reduce(1, y, z, reduce='prod')", [S, "i3,5:4", (3, 5)]),
    ("x.index_select(0, y)", [S, [2, 0, 2]]), ("T.index_select(x, 1, y)", [S, [3, 1]]),
    ("T.take_along_dim(x, y, dim=1)", [S, "i3,2:4"]), ("T.take(x, y)", [S, [0, 5, 11]]),
    ("x.index_add(0, y, z)", [S, [0, 2, 0], (3, 4)]), ("x.index_fill(1, y, 0.5)", [S, [0, 2]]),
    ("x.index_copy(0, y, z)", [S, [2, 0], (2, 4)]), ("x.masked_scatter(x > 0, y)", [S, (12,)]),
    ("x.masked_select(x > 0.5)", [S]), ("T.nonzero(x)", [[0.0, 1.0, 0.0, 2.0]]),
    ("F.embedding(y, x)", [(5, 3), [[0, 4], [2, 2]]]),
    ("F.one_hot(x, 5)", [[0, 3, 4, 1]]), ("F.one_hot(x)", [[0, 3, 2]]),
]

REDUCTIONS = [(e, [(2, 3, 4)]) for e in (
    "x.sum()", "x.sum(0)", "x.sum(dim=1)", "x.sum((0, 2))", "x.sum(dim=(0, 2), keepdim=True)",
    "x.sum(axis=1)", "x.sum(1, keepdim=True)", "T.sum(x, dim=-1)", "x.sum(dtype=T.float64)",
    "x.mean()", "x.mean(1)", "x.mean(dim=(1, 2))", "T.mean(x, dim=0, keepdim=True)",
    "x.prod()", "x.prod(1)", "x.prod(dim=2, keepdim=True)", "T.prod(x, 0)",
    "x.var()", "x.var(1)", "x.var(dim=1, unbiased=False)", "x.var(0, correction=0)",
    "x.var([1, 2], keepdim=True)", "x.var(correction=2)", "T.var(x, dim=1)", "T.var(x)",
    "x.std()", "x.std(2)", "x.std(dim=0, keepdim=True)", "x.std(unbiased=False)", "T.std(x, 1)",
    "T.std(x, dim=(0, 1), correction=0)", "T.std_mean(x)[0]", "T.std_mean(x, dim=1)[1]",
    "T.var_mean(x, 1, correction=0)[0]", "x.max()", "x.min()", "T.amax(x, (0, 1))",
    "x.amax(dim=-1, keepdim=True)", "x.amin(0)", "T.logsumexp(x, dim=1)", "x.logsumexp(1, True)",
    "T.logsumexp(x, (0, 2))", "x.norm()", "x.norm(dim=1)", "x.norm(p=1, dim=2)", "T.norm(x)",
    "T.norm(x, p=2, dim=(1, 2))", "T.linalg.norm(x)", "T.linalg.vector_norm(x, ord=3, dim=1)",
    "T.linalg.norm(x, dim=(1, 2))", "T.linalg.norm(x, ord=2, dim=(1, 2))",
    "T.linalg.norm(x, ord='nuc', dim=(1, 2))", "T.linalg.norm(x, ord=1, dim=(1, 2))",
    "T.linalg.norm(x, ord=float('inf'), dim=(1, 2))", "T.linalg.norm(x, ord=-2, dim=(1, 2))",
    "T.linalg.matrix_norm(x)", "T.linalg.matrix_norm(x, ord=-1)", "T.nansum(x)", "T.nanmean(x)",
    "x.any()", "x.all()", "(x > 0).any(dim=1)", "(x > 0).all(1)", "T.any(x > 1)", "T.all(x > -3)",
    "T.count_nonzero(x > 0)", "x.abs().sum(-1)", "T.sum(x, (0,))", "T.mean(x)",
)] + [("x.sum()", [()]), ("x.sum(0)", [()]), ("x.mean()", [()]), ("x.sum(1)", [(4, 0)]),
      ("x.mean(0)", [(0, 3)]), ("x.max()", [[1, -2**31, 5]]), ("x.sum()", [[True, True, False]]),
      ("x.var(1)", [(3, 1)]), ("x.prod()", [[2.0, 0.0, 3.0]]), ("T.linalg.norm(x, ord=2)", [S]),
      ("T.linalg.norm(x, ord='fro')", [S]), ("T.linalg.norm(x, ord=-float('inf'))", [S]),
      ("T.linalg.norm(x, ord='nuc')", [S]), ("T.linalg.norm(x, ord=-2)", [S]),
      ("T.linalg.norm(x)", [(5,)]), ("T.linalg.norm(x, ord=0)", [(5,)]),
      ("T.linalg.norm(x, ord=float('inf'))", [(5,)]), ("T.linalg.norm(x, 3)", [(5,)]),
      ("T.linalg.norm(x, ord=2, dim=(0, 1), keepdim=True)", [S]),
      ("T.linalg.vector_norm(x, ord=-1)", [(5,)])]

LOSSES = [
    ("F.mse_loss(x, y)", [S, S]), ("F.mse_loss(x, y, reduction='sum')", [S, S]),
    ("F.l1_loss(x, y, reduction='none')", [S, S]), ("F.smooth_l1_loss(x, y, beta=0.5)", [S, S]),
    ("F.huber_loss(x, y, delta=0.7)", [S, S]),
    ("F.binary_cross_entropy(x.sigmoid(), y.clip(0, 1))", [S, S]),
    ("F.binary_cross_entropy(x.sigmoid(), y.sigmoid(), weight=T.tensor([1.0, 2.0, 0.5, 1.5]))", [S, S]),
    ("F.binary_cross_entropy_with_logits(x, y.sigmoid(), reduction='sum')", [S, S]),
    ("F.binary_cross_entropy_with_logits(x, y.sigmoid(), pos_weight=T.tensor([1.0, 2.0, 3.0, 0.5]))", [S, S]),
    ("F.cross_entropy(x, y)", [S, [1, 0, 3]]), ("F.cross_entropy(x, y, reduction='sum')", [S, [1, 0, 3]]),
    ("F.cross_entropy(x, y, reduction='none')", [(3, 4, 2), [[1, 0], [3, 2], [0, 0]]]),
    ("F.cross_entropy(x, y.softmax(1))", [S, S]), ("F.cross_entropy(x, y.softmax(1), label_smoothing=0.2)", [S, S]),
    ("F.cross_entropy(x, y, label_smoothing=0.3)", [S, [1, 0, 3]]),
    ("F.cross_entropy(x, y, ignore_index=0)", [S, [1, 0, 3]]),
    ("F.cross_entropy(x, y, ignore_index=1, label_smoothing=0.3)", [S, [1, 0, 3]]),
    ("F.cross_entropy(x, y, weight=T.tensor([1.0, 2.0, 0.5, 3.0]))", [S, [1, 0, 3]]),
    ("F.cross_entropy(x, y, weight=T.tensor([1.0, 2.0, 0.5, 3.0]), reduction='sum')", [S, [1, 0, 3]]),
    ("F.cross_entropy(x, y, weight=T.tensor([1.0, 2.0, 0.5, 3.0]), reduction='none')", [S, [1, 0, 3]]),
    ("F.cross_entropy(x, y, weight=T.tensor([1.0, 2.0, 0.5, 3.0]), ignore_index=1)", [S, [1, 0, 3]]),
    ("F.cross_entropy(x, y, weight=T.tensor([1.0, 2.0, 0.5, 3.0]), label_smoothing=0.2)", [S, [1, 0, 3]]),
    ("F.cross_entropy(x, y, weight=T.tensor([1.0, 2.0, 0.5, 3.0]), label_smoothing=0.2, ignore_index=3)",
     [S, [1, 0, 3]]),
    ("F.cross_entropy(x, y.softmax(1), weight=T.tensor([1.0, 2.0, 0.5, 3.0]))", [S, S]),
    ("F.nll_loss(x.log_softmax(1), y)", [S, [1, 0, 3]]),
    ("F.nll_loss(x, y, weight=T.tensor([1.0, 2.0, 0.5, 3.0]))", [S, [1, 0, 3]]),
    ("F.nll_loss(x, y, weight=T.tensor([1.0, 2.0, 0.5, 3.0]), reduction='none')", [S, [1, 0, 3]]),
    ("F.nll_loss(x, y, ignore_index=1, reduction='sum')", [S, [1, 0, 3]]),
    ("F.nll_loss(x, y, weight=T.tensor([1.0, 2.0, 0.5, 3.0]))", [(3, 4, 2), [[1, 0], [3, 2], [0, 0]]]),
    ("nn.CrossEntropyLoss()(x, y)", [S, [1, 0, 3]]),
    ("nn.CrossEntropyLoss(weight=T.tensor([1.0, 2.0, 0.5, 3.0]), label_smoothing=0.1)(x, y)", [S, [1, 0, 3]]),
    ("nn.NLLLoss(weight=T.tensor([1.0, 2.0, 0.5, 3.0]))(x, y)", [S, [1, 0, 3]]),
    ("nn.MSELoss()(x, y)", [S, S]), ("nn.L1Loss(reduction='sum')(x, y)", [S, S]),
    ("nn.BCEWithLogitsLoss()(x, y.sigmoid())", [S, S]), ("nn.HuberLoss()(x, y)", [S, S]),
    ("F.kl_div(x.log_softmax(1), y.softmax(1), reduction='batchmean')", [S, S]),
    ("F.cosine_similarity(x, y)", [S, S]), ("F.normalize(x, dim=1)", [S]),
    ("F.pairwise_distance(x, y)", [S, S]), ("T.cdist(x, y)", [S, (2, 4)]),
    ("F.margin_ranking_loss(x, y, T.ones(4))", [(4,), (4,)]),
    ("F.soft_margin_loss(x, y.sign().detach())", [S, S]), ("F.poisson_nll_loss(x, y.abs())", [S, S]),
    ("F.gaussian_nll_loss(x, y, T.ones(3, 4))", [S, S]),
]

EINSUM = [
    ("T.einsum('ij,jk->ik', x, y)", [(3, 4), (4, 5)]), ("T.einsum('ij,jk', x, y)", [(3, 4), (4, 5)]),
    ("T.einsum('ij->ji', x)", [S]), ("T.einsum('ij->', x)", [S]), ("T.einsum('ii->i', x)", [(4, 4)]),
    ("T.einsum('ii', x)", [(4, 4)]), ("T.einsum('i,i->', x, y)", [(4,), (4,)]),
    ("T.einsum('i,j->ij', x, y)", [(3,), (4,)]), ("T.einsum('bij,bjk->bik', x, y)", [(2, 3, 4), (2, 4, 5)]),
    ("T.einsum('bij,bjk->bik', [x, y])", [(2, 3, 4), (2, 4, 5)]),
    ("T.einsum('...ij,...jk->...ik', x, y)", [(2, 3, 4), (2, 4, 5)]),
    ("T.einsum('ik,jkl,il->ij', x, y, z)", [(2, 3), (4, 3, 5), (2, 5)]),
    ("T.einsum('bhqd,bhkd->bhqk', x, y)", [(2, 2, 3, 4), (2, 2, 5, 4)]),
    ("T.einsum('ij,ij->ij', x, y)", [S, S]), ("T.einsum('ij -> j', x)", [S]),
    ("T.einsum('...ii->...', x)", [(2, 3, 3)]),
    ("x @ y", [(3, 4), (4, 2)]), ("x.matmul(y)", [(4,), (4, 2)]), ("T.matmul(x, y)", [(2, 3, 4), (4,)]),
    ("T.mm(x, y)", [(3, 4), (4, 2)]), ("T.bmm(x, y)", [(2, 3, 4), (2, 4, 2)]), ("x.mm(y)", [(3, 4), (4, 2)]),
    ("T.mv(x, y)", [(3, 4), (4,)]), ("T.dot(x, y)", [(4,), (4,)]), ("x.dot(y)", [(4,), (4,)]),
    ("T.outer(x, y)", [(3,), (4,)]), ("T.inner(x, y)", [S, S]), ("T.vdot(x, y)", [(4,), (4,)]),
    ("T.tensordot(x, y, dims=1)", [(3, 4), (4, 2)]), ("T.tensordot(x, y, dims=([1, 0], [0, 1]))", [(3, 4), (4, 3)]),
    ("T.kron(x, y)", [(2, 2), (2, 3)]), ("T.addmm(z, x, y)", [(3, 4), (4, 2), (3, 2)]),
    ("T.baddbmm(z, x, y)", [(2, 3, 4), (2, 4, 2), (2, 3, 2)]), ("T.linalg.vecdot(x, y)", [S, S]),
    ("T.cross(x, y, dim=1)", [(2, 3), (2, 3)]), ("T.linalg.det(x)", [(3, 3)]),
]

CONV = [
    ("F.conv2d(x, w)", [IMG, W]), ("F.conv2d(x, w, b)", [IMG, W, (4,)]),
    ("F.conv2d(x, w, stride=2)", [IMG, W]), ("F.conv2d(x, w, padding=1)", [IMG, W]),
    ("F.conv2d(x, w, padding=(2, 1))", [IMG, W]), ("F.conv2d(x, w, dilation=2)", [IMG, W]),
    ("F.conv2d(x, w, stride=(2, 1), padding=1, dilation=(1, 2))", [IMG, W]),
    ("F.conv2d(x, w, padding='same')", [IMG, W]), ("F.conv2d(x, w, padding='valid')", [IMG, W]),
    ("F.conv2d(x, w, groups=3)", [IMG, (6, 1, 3, 3)]), ("F.conv2d(x, w, groups=3)", [(1, 3, 5, 5), (3, 1, 1, 1)]),
    ("F.conv2d(x, w)", [(3, 7, 6), W]), ("F.conv2d(x, w, b, 1, 1, 1, 1)", [IMG, W, (4,)]),
    ("F.conv1d(x, w)", [(2, 3, 9), (4, 3, 3)]), ("F.conv1d(x, w, b, stride=2, padding=1)", [(2, 3, 9), (4, 3, 3), (4,)]),
    ("F.conv1d(x, w, groups=3, dilation=2)", [(2, 3, 9), (6, 1, 2)]),
    ("F.conv_transpose2d(x, w)", [(2, 4, 5, 5), W]), ("F.conv_transpose2d(x, w, b, stride=2)", [(2, 4, 5, 5), W, (3,)]),
    ("F.conv_transpose2d(x, w, padding=1, output_padding=1, stride=2)", [(2, 4, 5, 5), W]),
    ("F.conv_transpose2d(x, w, groups=2)", [(2, 4, 5, 5), (4, 2, 3, 3)]),
    ("F.conv_transpose2d(x, w, dilation=2)", [(2, 4, 5, 5), W]),
    ("F.conv_transpose1d(x, w)", [(2, 4, 5), (4, 3, 3)]), ("F.conv3d(x, w)", [(1, 2, 4, 4, 4), (3, 2, 2, 2, 2)]),
    ("F.linear(x, w)", [S, (5, 4)]), ("F.linear(x, w, b)", [S, (5, 4), (5,)]),
    ("F.unfold(x, 2)", [IMG]), ("F.fold(x, (4, 5), 2)", [(2, 12, 12)]),
]

POOL = [
    ("F.max_pool2d(x, 2)", [IMG]), ("F.max_pool2d(x, (3, 2))", [IMG]), ("F.max_pool2d(x, 3, stride=1)", [IMG]),
    ("F.max_pool2d(x, 3, padding=1)", [IMG]), ("F.max_pool2d(x, 2, stride=2, ceil_mode=True)", [IMG]),
    ("F.max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True)", [IMG]),
    ("F.max_pool2d(x, 2, dilation=2)", [IMG]), ("F.max_pool2d(x, kernel_size=(2, 3), stride=(1, 2))", [IMG]),
    ("F.max_pool2d(x, 2, return_indices=True)[1]", [IMG]), ("F.max_pool2d(x, 2, return_indices=True)[0]", [IMG]),
    ("F.max_pool2d(x, 2)", [[[[[1.0, 1.0, 2.0, 2.0], [1.0, 1.0, 2.0, 2.0]]]]]),
    ("F.max_pool2d(x, 3, stride=1)", [[[[[1.0] * 5] * 5]]]), ("F.max_pool2d(x, 2)", [(3, 6, 6)]),
    ("F.max_pool1d(x, 2)", [(2, 3, 8)]), ("F.max_pool1d(x, 3, stride=1, padding=1)", [(2, 3, 8)]),
    ("F.avg_pool2d(x, 2)", [IMG]), ("F.avg_pool2d(x, 3, stride=1, padding=1)", [IMG]),
    ("F.avg_pool2d(x, 3, padding=1, count_include_pad=False)", [IMG]),
    ("F.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True)", [IMG]),
    ("F.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)", [IMG]),
    ("F.avg_pool2d(x, (2, 3), divisor_override=2)", [IMG]), ("F.avg_pool1d(x, 2)", [(2, 3, 8)]),
    ("F.adaptive_avg_pool2d(x, 1)", [IMG]), ("F.adaptive_avg_pool2d(x, (3, 4))", [IMG]),
    ("F.adaptive_avg_pool2d(x, (None, 2))", [IMG]), ("F.adaptive_max_pool2d(x, (3, 2))", [IMG]),
    ("F.adaptive_avg_pool1d(x, 3)", [(2, 3, 8)]), ("F.lp_pool2d(x, 2, 2)", [IMG]),
    ("F.max_unpool2d(*F.max_pool2d(x, 2, return_indices=True), 2)", [IMG]),
    ("F.avg_pool3d(x, 2)", [(1, 2, 4, 4, 4)]), ("F.max_pool3d(x, 2)", [(1, 2, 4, 4, 4)]),
    ("nn.MaxPool2d(2)(x)", [IMG]), ("nn.AvgPool2d(3, stride=2, padding=1)(x)", [IMG]),
    ("nn.AdaptiveAvgPool2d((1, 1))(x)", [IMG]),
]

PAD = [
    ("F.pad(x, (1, 2))", [S]), ("F.pad(x, (1, 2, 3, 0))", [S]), ("F.pad(x, (1, 1), value=2.5)", [S]),
    ("F.pad(x, (-1, 2, 1, -1))", [S]), ("F.pad(x, (1, 2, 0, 1), 'constant', -1.0)", [S]),
    ("F.pad(x, (1, 1), value=float('-inf'))", [S]), ("F.pad(x, [1, 1, 1, 1])", [S]),
    ("F.pad(x, (2, 1), mode='reflect')", [(2, 3, 5)]), ("F.pad(x, (2, 1, 1, 2), mode='reflect')", [IMG]),
    ("F.pad(x, (1, 1), mode='replicate')", [(2, 3, 5)]), ("F.pad(x, (3, 0, 1, 2), mode='replicate')", [IMG]),
    ("F.pad(x, (2, 1), mode='circular')", [(2, 3, 5)]), ("F.pad(x, (1, 2, 2, 1), mode='circular')", [IMG]),
    ("F.pad(x, (1, 1, 1, 1, 1, 1), mode='reflect')", [(1, 2, 4, 4, 4)]),
    ("F.pad(x, (1, 2, 1, 0, 1, 1), mode='replicate')", [(1, 2, 4, 4, 4)]),
    ("F.pad(x, (-1, 2, 2, -1), mode='reflect')", [IMG]), ("F.pad(x, (0, 0, 1, 1, 1, 0))", [(2, 3, 4)]),
    ("F.pad(x, (1, 2))", [[1, 2, 3]]), ("nn.ZeroPad2d(1)(x)", [IMG]), ("nn.ReflectionPad2d(1)(x)", [IMG]),
    ("nn.ConstantPad1d(2, 3.5)(x)", [(2, 3, 5)]), ("nn.ReplicationPad2d((1, 0, 2, 1))(x)", [IMG]),
]

CREATION = [
    ("T.arange(5)", []), ("T.arange(1, 7, 2)", []), ("T.arange(0.5, 3.0, 0.25)", []), ("T.arange(10, 2, -3)", []),
    ("T.arange(5, dtype=T.float32)", []), ("T.linspace(0, 1, 5)", []), ("T.linspace(-2, 3, 7)", []),
    ("T.linspace(5, 10, 1)", []), ("T.eye(3)", []), ("T.eye(2, 4)", []), ("T.full((2, 3), 1.5)", []),
    ("T.full((2,), 7)", []), ("T.zeros(2, 3)", []), ("T.zeros((2, 3))", []), ("T.ones(4)", []),
    ("T.ones(2, 3, dtype=T.int32)", []), ("T.zeros([])", []), ("T.ones_like(x)", [S]), ("T.zeros_like(x)", [S]),
    ("T.full_like(x, 2.0)", [S]), ("T.empty(2, 3).shape", []), ("T.tensor([1.0, 2.0]) * 2", []),
    ("T.tensor([[1, 2], [3, 4]])", []), ("T.tensor(3.5)", []), ("T.empty_like(x).shape", [S]),
    ("T.tril(T.ones(3, 3))", []), ("T.zeros(2, 0)", []), ("T.arange(6).reshape(2, 3)", []),
    ("T.logspace(0, 2, 3)", []), ("T.tensor([True, False])", []), ("T.as_tensor([1.0, 2.0])", []),
    ("T.from_numpy(np.ones(3))", []), ("T.ones(2, 2).new_zeros(3)", []), ("x.new_ones(2)", [S]),
    ("x.new_full((2,), 3.0)", [S]), ("x.new_tensor([1.0, 2.0])", [S]), ("T.ones(3).type(T.int32)", []),
    ("x.type(T.float64)", [S]), ("x.int()", [S]), ("x.long()", [S]), ("x.bool()", [S]),
    ("x.float()", [[1, 2, 3]]), ("x.double()", [S]), ("x.to(T.float64)", [S]), ("x.half().float()", [S]),
    ("x.numel()", [S]), ("x.dim()", [S]), ("x.size()", [S]), ("x.size(1)", [S]), ("x.ndim", [S]),
    ("x.shape", [S]), ("x.sum().item()", [S]), ("x.tolist()", [S]), ("x.element_size()", [S]),
    ("x.is_floating_point()", [S]), ("len(x)", [S]), ("x.nelement()", [S]),
]

INTERPOLATE = [
    ("F.interpolate(x, size=(9, 4))", [IMG]), ("F.interpolate(x, scale_factor=2)", [IMG]),
    ("F.interpolate(x, size=(5, 9), mode='nearest')", [IMG]),
    ("F.interpolate(x, size=(10, 4), mode='bilinear')", [IMG]),
    ("F.interpolate(x, size=(10, 4), mode='bilinear', align_corners=True)", [IMG]),
    ("F.interpolate(x, scale_factor=1.5, mode='bilinear')", [IMG]),
    ("F.interpolate(x, scale_factor=(2, 0.5), mode='bilinear', align_corners=False)", [IMG]),
    ("F.interpolate(x, size=(3, 2), mode='bilinear')", [IMG]),
    ("F.interpolate(x, size=11, mode='linear')", [(2, 3, 7)]),
    ("F.interpolate(x, size=4, mode='linear', align_corners=True)", [(2, 3, 7)]),
    ("F.interpolate(x, size=9)", [(2, 3, 7)]), ("F.interpolate(x, size=(9, 4), mode='nearest-exact')", [IMG]),
    ("F.interpolate(x, size=(3, 5, 2), mode='trilinear')", [(1, 2, 4, 3, 4)]),
    ("F.interpolate(x, size=(3, 5, 2))", [(1, 2, 4, 3, 4)]),
    ("F.interpolate(x, size=(8, 8), mode='bicubic')", [IMG]), ("F.interpolate(x, scale_factor=2, mode='area')", [IMG]),
    ("F.interpolate(x, size=(3, 3), mode='area')", [IMG]), ("nn.Upsample(scale_factor=2)(x)", [IMG]),
    ("nn.Upsample(size=(5, 5), mode='bilinear')(x)", [IMG]), ("F.upsample(x, scale_factor=2)", [IMG]),
    ("F.pixel_shuffle(x, 2)", [(1, 8, 3, 3)]), ("F.pixel_unshuffle(x, 2)", [(1, 2, 4, 6)]),
    ("F.grid_sample(x, y.tanh(), align_corners=False)", [(1, 2, 4, 4), (1, 3, 3, 2)]),
]

FAMILIES = {
    "elementwise math": ELEMENTWISE, "rounding / floor division / modulo": ROUNDING,
    "shape ops": SHAPE, "cumulative scans": SCANS, "convolution": CONV, "pooling": POOL,
    "pad": PAD, "sort and selection": SORT, "activations": ACTIVATIONS,
    "scatter/gather": GATHER, "reductions": REDUCTIONS, "losses": LOSSES, "einsum": EINSUM,
    "creation": CREATION, "interpolate": INTERPOLATE,
}
