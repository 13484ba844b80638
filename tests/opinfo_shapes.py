"""OpCases of the shape, indexing and contraction functions (appended to `opinfo.CASES`).

References are written in NumPy only: torch semantics (gather, scatter,
split, repeat, F.pad's pad order) are spelled out with loops or NumPy calls
here, independently of the tracead code.
"""
from __future__ import annotations

import numpy as np

import tracead as ta
from opinfo import Arg, OpCase, _args


def _gather_ref(x, dim, index):
    out = np.empty(index.shape, x.dtype)
    for pos in np.ndindex(*index.shape):
        src = list(pos)
        src[dim] = index[pos]
        out[pos] = x[tuple(src)]
    return out


def _scatter_ref(x, dim, index, src, combine=None, include_self=True, mean=False):
    out = x.copy()
    groups: dict = {}
    for pos in np.ndindex(*index.shape):
        dst = list(pos)
        dst[dim] = index[pos]
        groups.setdefault(tuple(dst), []).append(src[pos])
    for dst, vals in groups.items():
        if combine is None:
            out[dst] = vals[-1]
            continue
        vals = ([x[dst]] if include_self else []) + vals
        total = vals[0]
        for v in vals[1:]:
            total = combine(total, v)
        out[dst] = total / len(vals) if mean else total
    return out


def _update_ref(index, mode):
    def ref(x, v):
        out = x.copy()
        {"set": lambda: out.__setitem__(index, v), "add": lambda: np.add.at(out, index, v),
         "mul": lambda: np.multiply.at(out, index, v), "min": lambda: np.minimum.at(out, index, v),
         "max": lambda: np.maximum.at(out, index, v)}[mode]()
        return out
    return ref


def _torch_pad_ref(pad, mode, value=0.0):
    np_mode = {"constant": "constant", "reflect": "reflect", "replicate": "edge",
               "circular": "wrap"}[mode]

    def ref(x):
        widths = [(0, 0)] * x.ndim
        for k in range(len(pad) // 2):
            widths[x.ndim - 1 - k] = (pad[2 * k], pad[2 * k + 1])
        kw = {"constant_values": value} if mode == "constant" else {}
        return np.pad(x, widths, mode=np_mode, **kw)
    return ref


def _setitem(x, v):
    y = x * 1.0
    y[1:, 0] = v
    y[0] = y[0] * 2.0  # a second write reading the first
    return y


def _setitem_ref(x, v):
    y = x * 1.0
    y[1:, 0] = v
    y[0] = y[0] * 2.0
    return y


def _pieces(fn):
    """A tuple of pieces as one tensor: each weighted, then concatenated (flattened)."""
    def run(x):
        parts = fn(x)
        lib = np if isinstance(x, np.ndarray) else ta
        return lib.concatenate([lib.reshape(p * (i + 1.0), (-1,)) for i, p in enumerate(parts)])
    return run


GIDX = np.array([[2, 0, 1, 2], [0, 0, 2, 1]])      # (2, 4) rows of a (3, 4)
GIDX1 = np.array([[3, 0], [1, 1], [0, 2]])         # (3, 2) columns of a (3, 4)
UNIQUE_COLS = np.array([[0, 2, 1, 0], [1, 0, 2, 2]])  # no repeated row within a column
REPEATED = np.array([[0, 2, 0, 1], [0, 0, 0, 1]])
UIDX, RIDX = np.array([2, 0]), np.array([1, 3, 1])
X34, X2_34, X24 = Arg((3, 4)), Arg((2, 4)), Arg((2, 4), "away0")

SHAPE_CASES: list[OpCase] = [
    # -- the index_update primitive, through x.at[...] ------------------------------------
    OpCase("index_update", lambda x, v: x.at[UIDX].set(v), _update_ref(UIDX, "set"),
           (_args((4, 3), (2, 3)), _args((4, 3), (3,)))),
    OpCase("index_update_0d", lambda x, v: x.at[()].set(v), lambda x, v: v.copy(), (_args((), ()),),
           prim="index_update"),
    OpCase("at_add_repeated", lambda x, v: x.at[:, RIDX].add(v), _update_ref((slice(None), RIDX), "add"),
           (_args((2, 4), (2, 3)), _args((2, 4), ())), prim="index_update"),
    OpCase("at_mul_repeated", lambda x, v: x.at[RIDX].mul(v), _update_ref(RIDX, "mul"),
           (_args((4, 2), (3, 2), domain="away0"),), prim="index_update"),
    OpCase("at_min", lambda x, v: x.at[1:, 0].min(v), _update_ref((slice(1, None), 0), "min"),
           (_args((3, 2), (2,)),), prim="index_update", smooth=False),
    OpCase("at_max_repeated", lambda x, v: x.at[RIDX].max(v), _update_ref(RIDX, "max"),
           (_args((4,), (3,)),), prim="index_update", smooth=False),
    OpCase("setitem", _setitem, _setitem_ref, (_args((3, 2), (2,)), _args((3, 2), ())),
           prim="index_update"),
    # -- gather / scatter -----------------------------------------------------------------
    OpCase("gather_dim0", lambda x: ta.gather(x, 0, GIDX), lambda x: _gather_ref(x, 0, GIDX), (_args((3, 4)),)),
    OpCase("gather_dim1_smaller", lambda x: x.gather(-1, GIDX1), lambda x: _gather_ref(x, 1, GIDX1),
           (_args((3, 4)),)),
    OpCase("take_along_axis", lambda x: ta.take_along_axis(x, GIDX1, 1),
           lambda x: np.take_along_axis(x, GIDX1, 1), (_args((3, 4)),)),
    OpCase("scatter", lambda x, s: ta.scatter(x, 0, UNIQUE_COLS, s),
           lambda x, s: _scatter_ref(x, 0, UNIQUE_COLS, s), ((X34, X2_34),)),
    OpCase("scatter_value", lambda x: x.scatter(1, GIDX1[:2], value=-1.5),
           lambda x: _scatter_ref(x, 1, GIDX1[:2], np.full((2, 2), -1.5, x.dtype)), (_args((3, 4)),)),
    OpCase("scatter_add_torch", lambda x, s: ta.scatter_add(x, 0, REPEATED, s),
           lambda x, s: _scatter_ref(x, 0, REPEATED, s, np.add), ((X34, X2_34),)),
    OpCase("scatter_reduce_prod", lambda x, s: ta.scatter_reduce(x, 0, REPEATED, s, "prod"),
           lambda x, s: _scatter_ref(x, 0, REPEATED, s, np.multiply), ((Arg((3, 4), "away0"), X24),)),
    OpCase("scatter_reduce_mean", lambda x, s: x.scatter_reduce(0, REPEATED, s, "mean", include_self=False),
           lambda x, s: _scatter_ref(x, 0, REPEATED, s, np.add, False, True), ((X34, X2_34),)),
    OpCase("scatter_reduce_amax", lambda x, s: ta.scatter_reduce(x, 0, REPEATED, s, "amax"),
           lambda x, s: _scatter_ref(x, 0, REPEATED, s, np.maximum), ((X34, X2_34),), smooth=False),
    OpCase("scatter_reduce_amin", lambda x, s: ta.scatter_reduce(x, 0, REPEATED, s, "amin", include_self=False),
           lambda x, s: _scatter_ref(x, 0, REPEATED, s, np.minimum, False), ((X34, X2_34),), smooth=False),
    OpCase("index_select", lambda x: x.index_select(1, RIDX), lambda x: x[:, RIDX], (_args((2, 4)),)),
    OpCase("masked_fill", lambda x, m: ta.masked_fill(x, m, 0.5), lambda x, m: np.where(m, 0.5, x).astype(x.dtype),
           ((Arg((2, 3)), Arg((3,), "bool")), (Arg(()), Arg((), "bool")))),
    # -- padding --------------------------------------------------------------------------
    OpCase("pad_constant", lambda x: ta.pad(x, (1, 2, 0, 1), value=0.5),
           _torch_pad_ref((1, 2, 0, 1), "constant", 0.5), (_args((2, 3)),)),
    OpCase("pad_reflect", lambda x: ta.pad(x, (2, 1), mode="reflect"), _torch_pad_ref((2, 1), "reflect"),
           (_args((2, 3)),)),
    OpCase("pad_replicate", lambda x: ta.pad(x, (1, 2, 2, 0), mode="replicate"),
           _torch_pad_ref((1, 2, 2, 0), "replicate"), (_args((1, 2)),)),
    OpCase("pad_circular", lambda x: ta.pad(x, (3, 1), mode="circular"),
           _torch_pad_ref((3, 1), "circular"), (_args((2, 3)),)),
    OpCase("pad_constant_crop", lambda x: ta.pad(x, (-1, 2, 1, -1)),
           lambda x: np.pad(x, ((1, 0), (0, 2)))[:-1, 1:], (_args((2, 3)),)),
    OpCase("np_pad_modes", lambda x: ta.np_pad(ta.np_pad(x, 1, "symmetric"), ((0, 4), (5, 0)), "wrap"),
           lambda x: np.pad(np.pad(x, 1, "symmetric"), ((0, 4), (5, 0)), "wrap"), (_args((1, 2)),)),
    OpCase("np_pad_reflect_wide", lambda x: np.pad(x, (4, 5), mode="reflect"),
           lambda x: np.pad(x, (4, 5), mode="reflect"), (_args((3,)), _args((1,)))),
    # -- movement composites --------------------------------------------------------------
    OpCase("flip", lambda x: ta.flip(x, (0, -1)), lambda x: np.flip(x, (0, -1)), (_args((2, 3)), _args((1, 1, 2)))),
    OpCase("roll", lambda x: x.roll((1, -4), (0, 1)), lambda x: np.roll(x, (1, -4), (0, 1)), (_args((2, 3)),)),
    OpCase("roll_flat", lambda x: ta.roll(x, 2), lambda x: np.roll(x, 2), (_args(()), _args((2, 3)))),
    OpCase("tril_triu", lambda x: ta.tril(x, -1) + ta.triu(x, 2) * 3.0,
           lambda x: np.tril(x, -1) + np.triu(x, 2) * 3.0, (_args((3, 4)), _args((2, 1, 3)))),
    OpCase("split", _pieces(lambda x: ta.split(x, 2, dim=1)), _pieces(lambda x: np.split(x, [2, 4], axis=1)),
           (_args((2, 5)),)),
    OpCase("split_sizes", _pieces(lambda x: x.split([1, 0, 2])), _pieces(lambda x: np.split(x, [1, 1])),
           (_args((3, 2)),)),
    OpCase("chunk", _pieces(lambda x: x.chunk(3, -1)), _pieces(lambda x: np.split(x, [2, 4], axis=-1)),
           (_args((2, 5)),)),
    OpCase("array_split", _pieces(lambda x: ta.array_split(x, 3)), _pieces(lambda x: np.array_split(x, 3)),
           (_args((4,)), _args((2, 2)))),
    OpCase("squeeze_unsqueeze", lambda x: x.squeeze().unsqueeze(-1), lambda x: np.squeeze(x)[..., None],
           (_args((1, 3, 1)), _args(()))),
    OpCase("flatten_unflatten", lambda x: ta.unflatten(ta.flatten(x, 1), 1, (-1, 2)),
           lambda x: x.reshape(x.shape[0], -1, 2), (_args((2, 2, 3)),)),
    OpCase("view_permute", lambda x: x.view(2, -1).permute(1, 0), lambda x: x.reshape(2, -1).T,
           (_args((2, 3)),)),
    OpCase("repeat_tile", lambda x: x.repeat(2, 1, 3) + ta.tile(x, (2, 1, 3)),
           lambda x: 2 * np.tile(x, (2, 1, 3)), (_args((1, 2)), _args(()))),
    OpCase("repeat_interleave", lambda x: ta.repeat_interleave(x, 2, dim=0),
           lambda x: np.repeat(x, 2, axis=0), (_args((2, 3)),)),
    OpCase("repeat_interleave_counts", lambda x: x.repeat_interleave(np.array([2, 0, 1]), dim=1),
           lambda x: np.repeat(x, [2, 0, 1], axis=1), (_args((2, 3)),)),
    OpCase("expand", lambda x: x.expand(2, -1, 3), lambda x: np.broadcast_to(x, (2, 4, 3)),
           (_args((4, 1)),)),
    OpCase("movedim", lambda x: ta.movedim(x, (0, 1), (2, 0)), lambda x: np.moveaxis(x, (0, 1), (2, 0)),
           (_args((2, 3, 1)),)),
    OpCase("meshgrid", lambda a, b: ta.stack(ta.meshgrid(a, b, indexing="xy")) * 1.0,
           lambda a, b: np.stack(np.meshgrid(a, b)), (_args((2,), (3,)),)),
    # -- contractions -----------------------------------------------------------------------
    # Bilinear: their second derivatives are matmul's (checked by its cases), so only
    # einsum_matmul repeats that check; the others would add Numba compiles, not coverage.
    OpCase("einsum_matmul", lambda a, b: ta.einsum("ij,jk->ik", a, b), lambda a, b: np.einsum("ij,jk->ik", a, b),
           (_args((2, 3), (3, 4)), _args((1, 0), (0, 2)))),
    OpCase("einsum_batch_ellipsis", lambda a, b: ta.einsum("...ij,...kj", a, b),
           lambda a, b: np.einsum("...ij,...kj", a, b), (_args((2, 1, 2, 3), (4, 2, 3)),), smooth=False),
    OpCase("einsum_diagonal_trace", lambda a, b: ta.einsum("ii->i", a) + ta.einsum("jj", b),
           lambda a, b: np.einsum("ii->i", a) + np.einsum("jj", b), (_args((3, 3), (2, 2)),), smooth=False),
    OpCase("einsum_three", lambda a, b, c: ta.einsum("bi,ij,bj->b", a, b, c),
           lambda a, b, c: np.einsum("bi,ij,bj->b", a, b, c), (_args((2, 3), (3, 4), (2, 4)),), smooth=False),
    OpCase("einsum_outer_sum", lambda a, b: ta.einsum("i,jk->kji", a, b) + ta.einsum("ij->", b)[None],
           lambda a, b: np.einsum("i,jk->kji", a, b) + np.einsum("jk->", b), (_args((2,), (3, 1)),), smooth=False),
    OpCase("tensordot", lambda a, b: ta.tensordot(a, b, 2) + ta.tensordot(a, b, ([0], [2])).sum(),
           lambda a, b: np.tensordot(a, b, 2) + np.tensordot(a, b, ([0], [2])).sum(),
           (_args((2, 2, 3), (2, 3, 2)),), smooth=False),
    OpCase("outer_inner_vdot", lambda a, b: ta.outer(a, b) * ta.vdot(a, a) + ta.inner(b, b),
           lambda a, b: np.outer(a, b) * np.vdot(a, a) + np.inner(b, b), (_args((3,), (2,)),), smooth=False),
    OpCase("dot_nd", lambda a, b: ta.dot(a, b), np.dot,
           (_args((2, 3), (4, 3, 2)), _args((), (2,)), _args((3,), (3,))), smooth=False),
]
