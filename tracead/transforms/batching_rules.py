"""Batching rules: one graph node applied to a batch, the batch on axis 0.

A rule gets the node (its Vars carry the *unbatched* shapes), the argument
tensors, which of them carry the batch axis (at 0) and the batch size, and
returns the output with the batch on axis 0, built from ordinary ops (so it
runs eagerly, records on the tape and traces into `compile`).

  elementwise  batched args get singleton axes after the batch axis so NumPy
               broadcasting lines the other axes up as in the unbatched op
  reduce       reduced axes shift by one
  movement     reshape/broadcast_to prepend the batch size; transpose keeps 0 first
  concatenate  unbatched args are broadcast to the batch, the axis shifts
  matmul       1-D operands become matrices, batched operands are padded so
               the batch axis is the outermost broadcast axis
  getitem / scatter_add  a leading full slice (or, for batched index arrays,
               an arange index; nothing for a shared x) selects per example;
               NumPy's placement of advanced-index axes is undone by a transpose
"""
from __future__ import annotations

import numpy as np

from .. import lax
from ..dispatch import bind
from ..errors import OpError
from ..ops.bits import left_shift_p, right_shift_p
from ..ops.index import getitem_p, scatter_add_p
from ..ops.linalg import svd_u_p, svd_vh_p, svdvals_p
from ..ops.matmul import matmul_p
from ..ops.movement import broadcast_to_p, concatenate_p, reshape_p, transpose_p
from ..ops.random import uniform_p
from ..ops.scan import cummax_index_p, cummin_index_p, cumprod_p, cumsum_p, prod_p
from ..ops.sort import argmax_p, argmin_p, argsort_p
from ..ops.window import col2im_p, im2col_p
from ..ops.window_max import plane_gather_p, plane_scatter_p, window_argmax_p
from ..tensor import Tensor, as_tensor


def _pad_batched(x: Tensor, shape: tuple, rank: int) -> Tensor:
    """(B, *shape) -> (B, 1, ..., 1, *shape) with `rank` axes after the batch."""
    return lax.reshape(x, (x.shape[0],) + (1,) * (rank - len(shape)) + tuple(shape))


def _move_to_front(x: Tensor, axis: int) -> Tensor:
    perm = (axis,) + tuple(a for a in range(x.ndim) if a != axis)
    return lax.transpose(x, perm)


def elementwise(node, args, batched, size):
    rank = node.out.ndim
    lifted = [_pad_batched(a, v.shape, rank) if b else a
              for a, b, v in zip(args, batched, node.inputs)]
    return bind(node.prim, *lifted, **node.kwargs)


def reduce(node, args, batched, size):
    params = node.kwargs
    if "axes" not in params:
        raise NoBatchingRule(f"vmap: no batching rule for reduction {node.prim.name}")
    params["axes"] = tuple(a + 1 for a in params["axes"])
    return bind(node.prim, args[0], **params)


def reshape(node, args, batched, size):
    return lax.reshape(args[0], (size,) + tuple(node.kwargs["shape"]))


def transpose(node, args, batched, size):
    return lax.transpose(args[0], (0,) + tuple(p + 1 for p in node.kwargs["perm"]))


def broadcast_to(node, args, batched, size):
    shape = tuple(node.kwargs["shape"])
    x = _pad_batched(args[0], node.inputs[0].shape, len(shape))
    return lax.broadcast_to(x, (size,) + shape)


def _batch_all(args, batched, node, size) -> list[Tensor]:
    return [a if b else lax.broadcast_to(a, (size,) + tuple(v.shape))
            for a, b, v in zip(args, batched, node.inputs)]


def concatenate(node, args, batched, size):
    return lax.concatenate(_batch_all(args, batched, node, size), axis=node.kwargs["axis"] + 1)


def matmul(node, args, batched, size):
    (a, b), (ba, bb) = args, batched
    sa, sb = node.inputs[0].shape, node.inputs[1].shape
    if len(sa) == 1:  # a vector is a 1 x k matrix; the final reshape drops the 1
        a, sa = lax.reshape(a, ((size,) if ba else ()) + (1, sa[0])), (1, sa[0])
    if len(sb) == 1:
        b, sb = lax.reshape(b, ((size,) if bb else ()) + (sb[0], 1)), (sb[0], 1)
    rank = max(len(sa), len(sb))
    if ba:
        a = _pad_batched(a, sa, rank)
    if bb:
        b = _pad_batched(b, sb, rank)
    return lax.reshape(lax.matmul(a, b), (size,) + tuple(node.out.shape))


# -- indexing ---------------------------------------------------------------------------
def _index_layout(index, array_shapes, x_ndim: int):
    """(advanced positions, advanced ndim, output axes before the advanced block)."""
    has_arrays = any(item[0] == "a" for item in index)
    advanced = [i for i, item in enumerate(index)
                if item[0] == "a" or (has_arrays and item[0] == "i")]
    adv_ndim = len(np.broadcast_shapes(*array_shapes)) if has_arrays else 0
    consumed = sum(1 for item in index if item[0] in "isa")
    before = 0
    for item in index[:advanced[0]] if advanced else ():
        if item[0] in "sn":
            before += 1
        elif item[0] == "e":
            before += x_ndim - consumed
    return advanced, adv_ndim, before


def _contiguous(positions) -> bool:
    return not positions or positions[-1] - positions[0] == len(positions) - 1


def _batched_index(node, arrays, arrays_batched, x_batched, size, x_shape):
    """(index param, index arrays, perm from NumPy's result layout to (B, *unbatched))."""
    index = node.kwargs["index"]
    array_vars = node.inputs[-len(arrays):] if arrays else ()
    shapes = [v.shape for v in array_vars]
    advanced, adv_ndim, before = _index_layout(index, shapes, len(x_shape))
    # getitem's output has the indexed shape; a write's (scatter_add, index_update) first input does.
    out_ndim = 1 + (node.out.ndim if node.prim is getitem_p else node.inputs[0].ndim)
    identity = list(range(out_ndim))
    if not any(arrays_batched):
        new_index = (("s", None, None, None),) + index
        if advanced and adv_ndim and not _contiguous(advanced):
            # NumPy puts the advanced axes first, then the batch axis.
            return new_index, list(arrays), [adv_ndim] + list(range(adv_ndim)) + identity[adv_ndim + 1:]
        return new_index, list(arrays), identity
    lifted = [_pad_batched(a, v.shape, adv_ndim) if b else a
              for a, b, v in zip(arrays, arrays_batched, array_vars)]
    if not x_batched:
        # A shared x (an embedding table): the batched index arrays alone pick per example;
        # NumPy puts their (B, advanced) block where the unbatched op puts its advanced axes.
        if _contiguous(advanced):
            return index, lifted, [before] + list(range(before)) + identity[before + 1:]
        return index, lifted, identity
    # Batched x and index arrays: index the batch axis too, with an arange that
    # broadcasts against the arrays.
    arange = as_tensor(np.arange(size).reshape((size,) + (1,) * adv_ndim))
    new_arrays = [arange] + lifted
    new_index = (("a", 0),) + tuple(("a", item[1] + 1) if item[0] == "a" else item for item in index)
    if _contiguous(advanced) and advanced[0] > 0:
        # NumPy gives (B, advanced, before, after); the unbatched op gives (before, advanced, after).
        adv = list(range(1, 1 + adv_ndim))
        pre = list(range(1 + adv_ndim, 1 + adv_ndim + before))
        return new_index, new_arrays, [0] + pre + adv + identity[1 + adv_ndim + before:]
    return new_index, new_arrays, identity


def getitem(node, args, batched, size):
    x, arrays = args[0], list(args[1:])
    x_shape = node.inputs[0].shape
    index, new_arrays, perm = _batched_index(node, arrays, list(batched[1:]), batched[0], size,
                                             x_shape)
    out = bind(node.prim, x, *new_arrays, index=index)
    return lax.transpose(out, perm)


def scatter_add(node, args, batched, size):
    g, arrays = args[0], list(args[1:])
    shape = tuple(node.kwargs["shape"])
    if not batched[0]:
        g = lax.broadcast_to(g, (size,) + tuple(node.inputs[0].shape))
    # The output is per example even when only the index arrays are batched.
    index, new_arrays, perm = _batched_index(node, arrays, list(batched[1:]), True, size, shape)
    g = lax.transpose(g, tuple(int(i) for i in np.argsort(perm)))  # to NumPy's layout
    return bind(node.prim, g, *new_arrays, index=index, shape=(size,) + shape)


def _fold_batch(node, args, batched, size):
    """Window ops (im2col, col2im, max pooling's): the vmapped batch joins the image
    batch N of every input, then splits off. N is axis 0, except in im2col's "gemm"
    column layout (C, kh, kw, N, Ho, Wo), where it is axis 3: those columns are moved
    to and from the "image" order around the call."""
    gemm = node.kwargs.get("layout") == "gemm"
    folded = []
    for arg, is_batched, var in zip(args, batched, node.inputs):
        x = arg if is_batched else lax.broadcast_to(arg, (size,) + tuple(var.shape))
        if gemm and node.prim is col2im_p:
            x = lax.transpose(x, (0, 4, 1, 2, 3, 5, 6))  # (B, N, C, kh, kw, Ho, Wo)
        folded.append(lax.reshape(x, (size * x.shape[1],) + tuple(x.shape[2:])))
    params = dict(node.kwargs, layout="image") if gemm else node.kwargs
    out = bind(node.prim, *folded, **params)
    if gemm and node.prim is im2col_p:
        c, kh, kw, n, ho, wo = node.out.shape
        out = lax.reshape(out, (size, n, c, kh, kw, ho, wo))
        return lax.transpose(out, (0, 2, 3, 4, 1, 5, 6))
    return lax.reshape(out, (size,) + tuple(node.out.shape))


def uniform(node, args, batched, size):
    # One stream per key: a batch of keys gives a batch of draws (independent examples).
    return bind(node.prim, args[0], **node.kwargs)


def shifted_axis(node, args, batched, size):
    """Ops along one `axis` (scans, sorting, argmax): the axis moves past the batch axis."""
    params = dict(node.kwargs)
    params["axis"] += 1
    return bind(node.prim, args[0], **params)


# Keyed by the row itself (as JAX's primitive_batchers): the rules are written with
# this module's machinery, so they live here and the rows need not know about vmap.
RULES = {reshape_p: reshape, transpose_p: transpose, broadcast_to_p: broadcast_to,
         concatenate_p: concatenate, matmul_p: matmul, getitem_p: getitem,
         scatter_add_p: scatter_add, im2col_p: _fold_batch, col2im_p: _fold_batch,
         window_argmax_p: _fold_batch, plane_gather_p: _fold_batch, plane_scatter_p: _fold_batch,
         uniform_p: uniform,
         prod_p: reduce,
         **dict.fromkeys((cumsum_p, cumprod_p, cummax_index_p, cummin_index_p, argsort_p,
                          argmax_p, argmin_p), shifted_axis),
         # the trailing two axes are the matrix: the batch is one more leading axis
         **dict.fromkeys((svdvals_p, svd_u_p, svd_vh_p), lambda node, args, batched, size:
                         bind(node.prim, args[0])),
         left_shift_p: elementwise, right_shift_p: elementwise}
KIND_RULES = {"elementwise": elementwise, "reduce": reduce}


class NoBatchingRule(OpError):
    """A primitive vmap cannot batch (jacrev/jacfwd then fall back to a loop)."""


def rule_for(prim):
    rule = RULES.get(prim) or KIND_RULES.get(prim.kind)
    if rule is None:
        raise NoBatchingRule(f"vmap: no batching rule for primitive {prim.name!r} (kind {prim.kind})")
    return rule
