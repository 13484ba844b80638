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


def unflatten(treedef, leaves) -> object:
    it = iter(leaves)
    return _build(treedef, it)


def _build(treedef, it):
    if treedef == "*":
        return next(it)
    if treedef[0] == "dict":
        return {k: _build(sub, it) for k, sub in zip(treedef[1], treedef[2])}
    items = [_build(sub, it) for sub in treedef[1]]
    return tuple(items) if treedef[0] == "tuple" else items
