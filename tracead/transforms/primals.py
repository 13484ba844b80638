"""What every differentiating transform does first: pytree arguments to leaves.

`grad`, `vjp`, `linearize` (and through them `jacrev`, `jacfwd`, `jvp`,
`hessian`) flatten the arguments they differentiate with the pytree module,
make each leaf a tensor to differentiate with respect to, call `f` with the
same structure rebuilt, and split `(out, aux)` when `has_aux=True`.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .. import lax, state
from ..dispatch import bind
from ..errors import OpError, OpTypeError, user_source
from ..ops.movement import reshape_p
from ..tensor import Tensor, as_tensor
from ..trace.scalars import ScalarInput
from ..trace.pytree import TreeDef, tree_flatten, tree_map


def argnums_tuple(argnums, who: str) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not nums or not all(isinstance(i, int) and i >= 0 for i in nums):
        raise OpError(f"{who}: argnums must be a non-negative int or a non-empty tuple of them, "
                      f"got {argnums!r}")
    return nums


def _as_leaf(x, who: str, where: Callable[[], str]) -> tuple[Tensor, bool]:
    """The tensor to differentiate with respect to; True if it is nested.

    Only inside another transform's `f` is an argument that requires grad
    differentiated in place (its gradient graph recorded for the outer
    level); at the outermost level every argument becomes a fresh leaf, so a
    parameter with requires_grad=True does not build a second-order graph.
    `where()` names the leaf in errors (worked out only then).
    """
    if type(x) is ScalarInput:  # a float argument of a compiled function: its graph input
        x = x.lifted()
    if (isinstance(x, Tensor) and x.requires_grad and state.grad_enabled()
            and state.STATE.grad_depth > 0):
        return x, True
    if isinstance(x, Tensor):
        leaf = x.detach()
    else:
        if not isinstance(x, (bool, int, float, np.ndarray, np.generic)):
            raise OpTypeError(f"{who}: argument {where()} is a {type(x).__name__}, not a tensor, "
                              f"array or number (register its class with "
                              f"ta.register_pytree_node to differentiate through it)")
        array = np.asarray(x)
        if array.dtype.kind in "biu" and not isinstance(x, (np.ndarray, np.generic)):
            array = array.astype(np.float64)  # grad(f)(3) means d/dx at 3.0
        # Shares memory with the caller's array, as a constant does: ops never
        # write into their inputs, so the copy would only cost a pass over it.
        leaf = as_tensor(array, op=who)
    if leaf.dtype.kind != "f":
        raise OpTypeError(f"{who}: argument {where()} has dtype {leaf.dtype} (shape {leaf.shape}); "
                          f"gradients need float32 or float64")
    leaf.requires_grad = True
    return leaf, False


def _alias(x: Tensor) -> Tensor:
    """A differentiable copy of a tensor passed twice (f(w, w), {"a": w, "b": w}).

    Gradients are collected per tensor object, so two leaves that are one
    object would each get the sum of both gradients; an identity node gives
    the second leaf its own identity while the outer level still
    differentiates through it.
    """
    return bind(reshape_p, x, shape=x.shape)


@dataclass(frozen=True, slots=True)
class Primals:
    """The differentiated arguments: flat leaves and each argument's structure."""

    leaves: list[Tensor]
    treedefs: list[TreeDef]
    nested: bool  # an outer transform differentiates through this one

    def unflatten(self, flat: list) -> list:
        """Flat per-leaf values -> one tree per differentiated argument."""
        trees, start = [], 0
        for treedef in self.treedefs:
            n = treedef.num_leaves
            trees.append(treedef.unflatten(flat[start:start + n]))
            start += n
        return trees


def make_primals(args: list, nums: tuple[int, ...], who: str) -> Primals:
    """Replace `args[i]` for i in `nums` (in place) by trees of leaves to differentiate."""
    # Inside another transform's f the outer level may differentiate through
    # what f closes over (d/dy of grad_x(x * y * y)), not only through our
    # arguments: record the gradient graph then too.
    nested = state.STATE.grad_depth > 0 and state.grad_enabled()
    leaves, treedefs = [], []
    in_place: set[int] = set()
    for i in nums:
        if i >= len(args):
            raise OpError(f"{who}: argnums={nums} but f got {len(args)} positional arguments")
        flat, treedef = tree_flatten(args[i])
        new = []
        for j, x in enumerate(flat):
            leaf, was_nested = _as_leaf(x, who, lambda: f"{i}{treedef.paths()[j]}")
            if was_nested:
                nested = True
                if id(leaf) in in_place:
                    leaf = _alias(leaf)
                in_place.add(id(leaf))
            new.append(leaf)
        args[i] = treedef.unflatten(new)
        leaves.extend(new)
        treedefs.append(treedef)
    return Primals(leaves, treedefs, nested)


@contextlib.contextmanager
def differentiating():
    """Run f with gradients recorded, telling inner transforms they are nested."""
    state.STATE.grad_depth += 1
    try:
        with state.enable_grad():
            yield
    finally:
        state.STATE.grad_depth -= 1


def split_aux(out, has_aux: bool, who: str):
    """(out, aux) of f's result; aux is None without has_aux."""
    if not has_aux:
        return out, None
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        got = f"a {type(out).__name__}" + (f" of length {len(out)}" if isinstance(out, (tuple, list))
                                           else "")
        raise OpError(f"{who}(has_aux=True): f must return a pair (output, aux), got {got}"
                      + _called_at())
    return out[0], out[1]


def release(tree, nested: bool):
    """Results handed back to the caller: detached unless an outer level differentiates."""
    if nested:
        return tree
    return tree_map(lambda x: x.detach() if isinstance(x, Tensor) and x.requires_grad else x, tree)


def output_leaves(out, who: str) -> tuple[list[Tensor], TreeDef]:
    """f's output pytree as tensors (numbers and arrays become constants)."""
    leaves, treedef = tree_flatten(out)
    tensors = []
    for path, x in zip(treedef.paths(), leaves):
        if not isinstance(x, (Tensor, np.ndarray, np.generic, bool, int, float)):
            raise OpTypeError(f"{who}: output{path} is a {type(x).__name__}, not a tensor"
                              + _called_at())
        tensors.append(as_tensor(x))
    return tensors, treedef


def check_like(who: str, what: str, values, reference: list[Tensor], ref_def: TreeDef,
               value_def: TreeDef) -> list[Tensor]:
    """`values` (flat, structure `value_def`) as tensors shaped like `reference`."""
    if value_def != ref_def:
        raise OpError(f"{who}: {what} has structure {value_def}, expected {ref_def}"
                      + _called_at())
    out = []
    for path, v, ref in zip(ref_def.paths(), values, reference):
        t = as_tensor(v)
        if t.shape != ref.shape:
            raise OpError(f"{who}: {what}{path} has shape {t.shape}, expected {ref.shape}"
                          + _called_at())
        if t.dtype != ref.dtype and ref.dtype.kind == "f":
            t = lax.cast(t, ref.dtype)
        out.append(t)
    return out


def _called_at() -> str:
    where = user_source(3)
    return f" (called at {where})" if where else ""
