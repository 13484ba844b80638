"""Whole Jacobians: `jacrev`, `jacfwd`, `hessian`.

`jacrev` pulls back every basis vector of the output through one `vjp`;
`jacfwd` pushes every basis vector of the input through one `linearize`.
The basis vectors go through `vmap` as one batch (as JAX does), so a
Jacobian costs one batched backward (or tangent) pass and, inside `compile`,
a graph whose size does not grow with the number of rows. Only when the
graph has a primitive without a batching rule do they loop over the basis.

For an output leaf of shape S and an input leaf of shape T the block has
shape S + T; the result is the output's tree of (the input's tree of)
blocks, with a tuple over `argnums` when it is a tuple (as jax.jacrev).
"""
from __future__ import annotations

import functools

import numpy as np

from ..functional import reshape, stack, transpose, zeros
from ..tensor import Tensor
from ..trace.pytree import tree_flatten, tree_leaves
from .batching import vmap
from .batching_rules import NoBatchingRule
from .forward import _linearize
from .primals import argnums_tuple, output_leaves
from .reverse import partial_in, vjp


def _over_basis(fn, leaves: list[Tensor], k: int, rebuild) -> list[Tensor]:
    """`fn(*rebuild(basis))` for every basis vector of `leaves[k]` (other leaves zero):
    flat output leaves, each with a leading axis of `leaves[k].size`."""
    n = leaves[k].size
    if n == 0:
        sample = tree_leaves(fn(*rebuild([np.zeros(x.shape, x.dtype) for x in leaves])))
        return [zeros((0,) + s.shape, s.dtype) for s in sample]
    basis = [np.zeros((n,) + x.shape, x.dtype) for x in leaves]
    basis[k] = np.eye(n, dtype=leaves[k].dtype).reshape((n,) + leaves[k].shape)
    try:
        return tree_leaves(vmap(lambda *flat: fn(*rebuild(list(flat))))(*basis))
    except NoBatchingRule:
        rows = [tree_leaves(fn(*rebuild([b[e] for b in basis]))) for e in range(n)]
        return [stack([r[j] for r in rows]) for j in range(len(rows[0]))]


def _input_structure(args, nums, argnums, blocks: list):
    """Flat per-input-leaf blocks -> the differentiated arguments' structure."""
    trees, start = [], 0
    for i in nums:
        treedef = tree_flatten(args[i])[1]
        n = treedef.num_leaves
        trees.append(treedef.unflatten(blocks[start:start + n]))
        start += n
    return trees[0] if isinstance(argnums, int) else tuple(trees)


def jacrev(f, argnums=0, has_aux: bool = False):
    """The Jacobian by reverse mode: one batched vjp over the output's basis."""
    nums = argnums_tuple(argnums, "jacrev")

    @functools.wraps(f)
    def wrapped(*args, **kwargs):
        g = partial_in(f, args, kwargs, nums)
        res = vjp(g, *(args[i] for i in nums), has_aux=has_aux)
        outs, out_def = output_leaves(res[0], "jacrev")
        per_output = []
        for k, o in enumerate(outs):
            rows = _over_basis(res[1], outs, k, lambda flat: (out_def.unflatten(flat),))
            blocks = [reshape(r, o.shape + r.shape[1:]) for r in rows]
            per_output.append(_input_structure(args, nums, argnums, blocks))
        jac = out_def.unflatten(per_output)
        return (jac, res[2]) if has_aux else jac

    return wrapped


def jacfwd(f, argnums=0, has_aux: bool = False):
    """The Jacobian by forward mode: one batched jvp over the input's basis."""
    nums = argnums_tuple(argnums, "jacfwd")

    @functools.wraps(f)
    def wrapped(*args, **kwargs):
        g = partial_in(f, args, kwargs, nums)
        out, jvp_fn, aux, diff = _linearize(g, tuple(args[i] for i in nums), has_aux, "jacfwd")
        outs, out_def = output_leaves(out, "jacfwd")
        # columns[j][k]: output leaf k's tangents for input leaf j's basis, basis axis first
        columns = [_over_basis(jvp_fn, diff.leaves, j, diff.unflatten)
                   for j in range(len(diff.leaves))]
        per_output = []
        for k, o in enumerate(outs):
            blocks = []
            for j, leaf in enumerate(diff.leaves):
                col = columns[j][k]
                last = transpose(col, tuple(range(1, col.ndim)) + (0,))  # basis axis last
                blocks.append(reshape(last, o.shape + leaf.shape))
            per_output.append(_input_structure(args, nums, argnums, blocks))
        jac = out_def.unflatten(per_output)
        return (jac, aux) if has_aux else jac

    return wrapped


def hessian(f, argnums=0, has_aux: bool = False):
    """Second derivatives, `jacfwd(jacrev(f))` (forward-over-reverse, as JAX)."""
    return jacfwd(jacrev(f, argnums, has_aux), argnums, has_aux)
