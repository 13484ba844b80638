"""Guard keys: what must match for a compiled variant to be reused.

The key of a call is computed once per call from the flattened arguments:
for each tensor its shape, dtype and requires_grad; for each array its shape
and dtype (the np.dtype itself: it hashes faster than its `.str`); each Python scalar by type and value; other objects by identity;
plus the argument structure and grad mode. Variants are found by dict lookup,
so checking costs one tuple hash, not work proportional to the graph.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..tensor import Tensor
from ..trace import pytree

_STATIC_TYPES = (bool, int, float, complex, str, bytes, type(None))


def leaf_key(leaf) -> tuple:
    cls = type(leaf)  # exact types first: this runs for every argument of every call
    if cls is np.ndarray:
        return ("array", leaf.shape, leaf.dtype)
    if cls is Tensor or isinstance(leaf, Tensor):
        return ("tensor", leaf.shape, leaf.dtype, leaf.requires_grad)
    if isinstance(leaf, np.ndarray):
        return ("array", leaf.shape, leaf.dtype)
    if isinstance(leaf, _STATIC_TYPES) or isinstance(leaf, numbers.Number):
        return ("scalar", cls.__name__, leaf)
    return ("object", cls.__name__, id(leaf))


def call_key(leaves, treedef, grad_mode: bool) -> tuple:
    return (treedef, grad_mode, tuple(map(leaf_key, leaves)))


_CONTAINERS = (tuple, list, dict)
_FLAT_TREEDEFS: dict[int, tuple] = {}


def positional_key(args: tuple, grad_mode: bool) -> tuple | None:
    """`call_key(*pytree.flatten_args(args, {}), grad_mode)` in one pass, for the common
    call with positional leaves only (the args are then the leaves); None when an
    argument is a container."""
    keys = []
    for a in args:
        if type(a) is np.ndarray:
            keys.append(("array", a.shape, a.dtype))
        elif isinstance(a, _CONTAINERS):
            return None
        else:
            keys.append(leaf_key(a))
    treedef = _FLAT_TREEDEFS.get(len(args))
    if treedef is None:
        treedef = _FLAT_TREEDEFS[len(args)] = pytree.flatten_args(args, {})[1]
    return (treedef, grad_mode, tuple(keys))


def describe_leaf_key(key: tuple) -> str:
    kind = key[0]
    if kind == "tensor":
        return f"Tensor {np.dtype(key[2]).name}{list(key[1])}" + (" requires_grad" if key[3] else "")
    if kind == "array":
        return f"ndarray {np.dtype(key[2]).name}{list(key[1])}"
    if kind == "scalar":
        return f"{key[1]} {key[2]!r}"
    return f"{key[1]} object (id {key[2]})"


def describe_guards(key: tuple) -> list[str]:
    """Human-readable list of the guards a key stands for."""
    treedef, grad_mode, leaves = key
    lines = [f"argument {i}: {describe_leaf_key(k)}" for i, k in enumerate(leaves)]
    lines.append(f"grad mode {'on' if grad_mode else 'off'}")
    return lines


def explain_mismatch(old: tuple, new: tuple) -> str:
    """Name the first guard that differs between two keys, and how."""
    if old[0] != new[0]:
        return "argument structure changed (different nesting of tuples/lists/dicts)"
    if old[1] != new[1]:
        return f"grad mode changed from {'on' if old[1] else 'off'} to {'on' if new[1] else 'off'}"
    for i, (a, b) in enumerate(zip(old[2], new[2])):
        if a == b:
            continue
        if a[0] == b[0] == "tensor" or a[0] == b[0] == "array":
            for what, ia in (("shape", 1), ("dtype", 2), ("requires_grad", 3)):
                if ia < len(a) and a[ia] != b[ia]:
                    va, vb = a[ia], b[ia]
                    if what == "dtype":
                        va, vb = np.dtype(va).name, np.dtype(vb).name
                    return f"argument {i}: {what} changed from {va} to {vb}"
        return f"argument {i}: {describe_leaf_key(a)} -> {describe_leaf_key(b)}"
    return "arguments changed"
