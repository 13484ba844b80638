"""Reverse mode: `grad`, `value_and_grad`, `vjp`.

They run `f` eagerly on fresh leaves and take gradients with the tape. When an
argument already requires grad (we are inside an outer transform, or tracing a
function whose input requires grad) the gradient graph is itself recorded,
so `grad(grad(f))` gives second derivatives. Arguments and results are
pytrees; a gradient has the structure of its argument.
"""
from __future__ import annotations

import functools

from .. import lax, state
from ..autograd import run_backward
from ..errors import OpError, user_source
from ..tensor import Tensor
from ..trace.pytree import tree_flatten
from .primals import (argnums_tuple, check_like, differentiating, make_primals, output_leaves,
                      release, split_aux)


def _zeros_where_none(grads: list, like: list[Tensor]) -> list[Tensor]:
    return [g if g is not None else lax.stop_gradient(lax.zeros_like(w)) for g, w in zip(grads, like)]


def _check_scalar(out, who: str) -> Tensor:
    if isinstance(out, Tensor) and out.size == 1 and out.dtype.kind == "f":
        return out
    where = user_source(3)
    if isinstance(out, Tensor) and out.size != 1:
        got = f"a tensor of shape {out.shape}; use jacrev/vjp for non-scalar outputs"
    elif isinstance(out, Tensor):
        got = f"a tensor of dtype {out.dtype}; gradients need a float output"
    else:
        got = type(out).__name__
    raise OpError(f"{who}: f must return a single-element float tensor, got {got}"
                  + (f" (called at {where})" if where else ""))


def value_and_grad(f, argnums=0, has_aux: bool = False):
    """`value_and_grad(f)(*args) -> (f(*args), df/dargs)`.

    With `has_aux=True`, f returns `(out, aux)` and the result is
    `((out, aux), grads)`. `argnums` an int gives one gradient (shaped like
    that argument's pytree); a tuple gives a tuple of them.
    """
    nums = argnums_tuple(argnums, "grad")

    @functools.wraps(f)
    def wrapped(*args, **kwargs):
        args = list(args)
        primals = make_primals(args, nums, "grad")
        with differentiating():
            result = f(*args, **kwargs)
        out, aux = split_aux(result, has_aux, "grad")
        out = _check_scalar(out, "grad")
        nested = primals.nested
        if out.requires_grad:
            cts, _ = run_backward([out], [lax.ones_like(out)], nested,
                                  stop_at=primals.leaves)
            grads = [cts.get(id(w)) for w in primals.leaves]
        else:
            grads = [None] * len(primals.leaves)
        trees = primals.unflatten(_zeros_where_none(grads, primals.leaves))
        grads_out = trees[0] if isinstance(argnums, int) else tuple(trees)
        value = release(out, nested)
        if has_aux:
            return (value, release(aux, nested)), grads_out
        return value, grads_out

    return wrapped


def grad(f, argnums=0, has_aux: bool = False):
    """`grad(f)(*args) -> df/dargs` for f returning one element (`(g, aux)` with has_aux)."""
    vg = value_and_grad(f, argnums, has_aux)

    @functools.wraps(f)
    def wrapped(*args, **kwargs):
        value, grads = vg(*args, **kwargs)
        return (grads, value[1]) if has_aux else grads

    return wrapped


def vjp(f, *primals, has_aux: bool = False):
    """`out, vjp_fn = vjp(f, *primals)`; `vjp_fn(ct)` is a tuple, one tree per primal.

    `ct` must have the structure and shapes of `out`. With `has_aux=True`:
    `out, vjp_fn, aux = vjp(f, *primals, has_aux=True)`.
    """
    args = list(primals)
    diff = make_primals(args, tuple(range(len(args))), "vjp")
    with differentiating():
        result = f(*args)
    out, aux = split_aux(result, has_aux, "vjp")
    outs, out_def = output_leaves(out, "vjp")

    def vjp_fn(cotangent):
        ct_leaves, ct_def = tree_flatten(cotangent)
        seeds = check_like("vjp", "cotangent", ct_leaves, outs, out_def, ct_def)
        # Record the gradient graph when an outer level will differentiate it:
        # nested primals, or cotangents that require grad (forward mode's trick).
        create = diff.nested or (state.grad_enabled() and any(s.requires_grad for s in seeds))
        roots = [(o, s) for o, s in zip(outs, seeds) if o.requires_grad]
        if roots:
            cts, _ = run_backward([o for o, _ in roots], [s for _, s in roots], create,
                                  stop_at=diff.leaves)
            grads = [cts.get(id(w)) for w in diff.leaves]
        else:
            grads = [None] * len(diff.leaves)
        return tuple(diff.unflatten(_zeros_where_none(grads, diff.leaves)))

    value = release(out, diff.nested)
    if has_aux:
        return value, vjp_fn, release(aux, diff.nested)
    return value, vjp_fn


def partial_in(f, args: tuple, kwargs: dict, nums: tuple[int, ...]):
    """f as a function of the arguments at `nums` only (the rest fixed)."""
    def g(*diff):
        full = list(args)
        for i, d in zip(nums, diff):
            full[i] = d
        return f(*full, **kwargs)

    for i in nums:
        if i >= len(args):
            raise OpError(f"argnums={nums} but f got {len(args)} positional arguments")
    return g
