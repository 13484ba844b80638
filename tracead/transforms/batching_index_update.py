"""Batching rule for `index_update` (x with v written at index), batch on axis 0.

x is made batched (broadcast when shared), then the index gains the batch
axis exactly as `getitem`'s rule does (a leading full slice, or an arange for
batched index arrays); v is broadcast to the batched indexed shape and put in
NumPy's layout of that index, so every example writes only into its own row.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from .. import lax
from ..dispatch import bind
from ..ops.index_update import index_update_p, indexed_shape
from ..prim import Aval
from .batching_rules import RULES, _batched_index, _pad_batched


def index_update(node, args, batched, size):
    x, v, arrays = args[0], args[1], list(args[2:])
    x_var, v_var, array_vars = node.inputs[0], node.inputs[1], node.inputs[2:]
    index = node.kwargs["index"]
    target = indexed_shape(x_var, array_vars, index)
    if not batched[0]:
        x = lax.broadcast_to(x, (size,) + tuple(x_var.shape))
    if batched[1]:
        v = _pad_batched(v, v_var.shape, len(target))
    v = lax.broadcast_to(v, (size,) + target)
    # _batched_index lays out a write like scatter_add's: its first input has the indexed shape.
    like = SimpleNamespace(kwargs={"index": index}, out=node.out, prim=node.prim,
                           inputs=(Aval(target, v_var.dtype),) + tuple(array_vars))
    new_index, new_arrays, perm = _batched_index(like, arrays, list(batched[2:]), True, size,
                                                 tuple(x_var.shape))
    v = lax.transpose(v, tuple(int(i) for i in np.argsort(perm)))  # to NumPy's layout
    return bind(node.prim, x, v, *new_arrays, index=new_index, mode=node.kwargs["mode"])


RULES[index_update_p] = index_update
