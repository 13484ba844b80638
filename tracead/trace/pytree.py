"""Flatten nested Python containers of tensors (tuples, lists, dicts).

Inputs and outputs of compiled functions may be any nesting of these; the
tracer sees a flat list of leaves and a `treedef` that rebuilds the structure.
"""
from __future__ import annotations


def flatten(tree) -> tuple[list, tuple]:
    leaves: list = []
    treedef = _flatten(tree, leaves)
    return leaves, treedef


def _flatten(tree, leaves: list):
    if isinstance(tree, (tuple, list)):
        return (type(tree).__name__, tuple(_flatten(t, leaves) for t in tree))
    if isinstance(tree, dict):
        keys = tuple(tree.keys())
        return ("dict", keys, tuple(_flatten(tree[k], leaves) for k in keys))
    leaves.append(tree)
    return "*"


_CONTAINERS = (tuple, list, dict)
_FLAT_ARGS: dict[int, tuple] = {}


def flatten_args(args: tuple, kwargs: dict) -> tuple[list, tuple]:
    """`flatten((args, kwargs))`, with a fast path for flat positional calls."""
    if not kwargs:
        for a in args:
            if isinstance(a, _CONTAINERS):
                break
        else:
            treedef = _FLAT_ARGS.get(len(args))
            if treedef is None:
                treedef = _FLAT_ARGS[len(args)] = flatten((args, {}))[1]
            return list(args), treedef
    return flatten((args, kwargs))


def unflatten(treedef, leaves) -> object:
    if treedef == "*":
        return leaves[0]
    return _build(treedef, iter(leaves))


def _build(treedef, it):
    if treedef == "*":
        return next(it)
    if treedef[0] == "dict":
        return {k: _build(sub, it) for k, sub in zip(treedef[1], treedef[2])}
    items = [_build(sub, it) for sub in treedef[1]]
    return tuple(items) if treedef[0] == "tuple" else items
