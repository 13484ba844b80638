"""JAX-style function transforms: `grad` and `value_and_grad`.

They run `f` eagerly on fresh leaves and take gradients with the tape. When an
argument already requires grad (we are inside an outer `grad`, or tracing a
function whose input requires grad) the gradient graph is itself recorded,
so `grad(grad(f))` gives second derivatives.
"""
from __future__ import annotations

import functools

import numpy as np

from . import state
from .autograd import grad_of
from .errors import OpError, OpTypeError, user_source
from .tensor import Tensor


def _argnums(argnums) -> tuple[int, ...]:
    return (argnums,) if isinstance(argnums, int) else tuple(argnums)


def _as_leaf(x, position: int) -> tuple[Tensor, bool]:
    """The tensor to differentiate with respect to; True if it is nested.

    Only inside another transform's `f` is an argument that requires grad
    differentiated in place (its gradient graph recorded for the outer
    level); at the outermost level every argument becomes a fresh leaf, so a
    parameter with requires_grad=True does not build a second-order graph.
    """
    if (isinstance(x, Tensor) and x.requires_grad and state.grad_enabled()
            and state.STATE.grad_depth > 0):
        return x, True
    if isinstance(x, Tensor):
        leaf = x.detach()
    else:
        array = np.asarray(x)
        if array.dtype.kind in "biu" and not isinstance(x, np.ndarray):
            array = array.astype(np.float64)  # grad(f)(3) means d/dx at 3.0
        leaf = Tensor(array)
    if leaf.dtype.kind != "f":
        raise OpTypeError(f"grad: argument {position} has dtype {leaf.dtype}; gradients need "
                          f"float32 or float64")
    leaf.requires_grad = True
    return leaf, False


def value_and_grad(f, argnums=0):
    """`value_and_grad(f)(*args) -> (f(*args), df/dargs)`."""
    nums = _argnums(argnums)

    @functools.wraps(f)
    def wrapped(*args, **kwargs):
        args = list(args)
        # Inside another transform's f the outer level may differentiate
        # through what f closes over (d/dy of grad_x(x * y * y)), not only
        # through our arguments: record the gradient graph then too.
        nested = state.STATE.grad_depth > 0 and state.grad_enabled()
        for i in nums:
            if i >= len(args):
                raise OpError(f"grad: argnums={argnums} but f got {len(args)} positional arguments")
            args[i], was_nested = _as_leaf(args[i], i)
            nested = nested or was_nested
        state.STATE.grad_depth += 1
        try:
            with state.enable_grad():
                out = f(*args, **kwargs)
        finally:
            state.STATE.grad_depth -= 1
        if not isinstance(out, Tensor) or out.size != 1:
            where = user_source(2)
            got = f"shape {out.shape}" if isinstance(out, Tensor) else type(out).__name__
            raise OpError(f"grad: f must return a single-element tensor, got {got}"
                          + (f" (called at {where})" if where else ""))
        wrt = [args[i] for i in nums]
        grads = grad_of(out, wrt, create_graph=nested)
        from .functional import zeros_like

        grads = [g if g is not None else zeros_like(w).detach() for g, w in zip(grads, wrt)]
        value = out if nested else out.detach()
        return value, (grads[0] if isinstance(argnums, int) else tuple(grads))

    return wrapped


def grad(f, argnums=0):
    """`grad(f)(*args) -> df/dargs` for a function returning one element."""
    vg = value_and_grad(f, argnums)

    @functools.wraps(f)
    def wrapped(*args, **kwargs):
        return vg(*args, **kwargs)[1]

    return wrapped
