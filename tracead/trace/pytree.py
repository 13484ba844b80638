"""Pytrees: nested containers of leaves, flattened to a list and a treedef.

One module serves the transforms (`grad`, `vjp`, `vmap`, ...: arguments and
results of any structure) and `compile` (arguments and results of compiled
functions). Nodes are tuples, lists, dicts, namedtuples, `None` (an empty
subtree, as in JAX) and classes registered with `register_pytree_node` or
`register_dataclass`; everything else is a leaf.

In the public view (`tree_flatten`, the transforms) dicts (and dict
subclasses, rebuilt as plain dicts) flatten in *sorted key order*, as in JAX,
so `{"b": .., "a": ..}` and `{"a": .., "b": ..}` have one structure and
unflatten to a dict with sorted keys; keys that cannot be sorted against each
other (mixed types) keep insertion order. Compile's view keeps the caller's
key order instead, so a compiled function sees and returns exactly the dicts
its eager run does (two orders are two variants).

A treedef spec is plain hashable data (it is part of compile's guard key):
  "*"                           a leaf
  ("tuple", children) / ("list", children)
  ("dict", keys, children)
  ("none", ())                  None, an empty subtree
  ("namedtuple", cls, children)
  ("node", cls, aux, children)  a registered class; aux is its static data
The children tuple is always last. `tree_flatten` wraps the spec in a
`TreeDef` for users; `flatten` / `flatten_args` / `unflatten` are compile's
view, where `None` is a leaf (a static output value) and, for arguments,
registered classes are opaque objects whose tensors are read by reference,
because the compile runtime's fast argument path and output builder know
only tuples, lists and dicts.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

LEAF = "*"


@dataclass(frozen=True, slots=True)
class NodeType:
    """How to take a registered class apart and put it back together."""

    flatten: Callable[[Any], tuple]  # obj -> (children, aux)
    unflatten: Callable[[Any, tuple], Any]  # (aux, children) -> obj
    child_names: tuple[str, ...] | None = None  # for error messages (dataclass fields)


_REGISTRY: dict[type, NodeType] = {}


def register_pytree_node(cls: type, flatten: Callable, unflatten: Callable) -> type:
    """Make instances of `cls` pytree nodes (JAX's signature).

    `flatten(obj) -> (children, aux)`: children are subtrees, aux is hashable
    static data; `unflatten(aux, children) -> obj`.
    """
    _REGISTRY[cls] = NodeType(flatten, unflatten)
    return cls


def register_dataclass(cls: type | None = None, *, data_fields=None, meta_fields=()):
    """Register a dataclass as a pytree node; usable as a decorator.

    `data_fields` (default: every field not in `meta_fields`) are subtrees;
    `meta_fields` are static (hashable) data kept in the treedef.
    """
    def register(klass: type) -> type:
        if not dataclasses.is_dataclass(klass):
            raise TypeError(f"register_dataclass: {klass.__name__} is not a dataclass")
        meta = tuple(meta_fields)
        data = tuple(data_fields) if data_fields is not None else tuple(
            f.name for f in dataclasses.fields(klass) if f.name not in meta)

        def flatten(obj):
            return [getattr(obj, n) for n in data], tuple(getattr(obj, n) for n in meta)

        def unflatten(aux, children):
            return klass(**dict(zip(data, children)), **dict(zip(meta, aux)))

        _REGISTRY[klass] = NodeType(flatten, unflatten, data)
        return klass

    return register if cls is None else register(cls)


def is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def _sorted_keys(d: dict) -> tuple:
    try:
        return tuple(sorted(d))
    except TypeError:
        return tuple(d)


@dataclass(frozen=True, slots=True)
class View:
    """Which values are nodes: the public (JAX) view or one of compile's."""

    none_is_leaf: bool  # compile: None is a static value
    custom: bool  # take registered classes apart
    sort_keys: bool  # JAX sorts dict keys; compile keeps the caller's order, so a
    # compiled function sees (and returns) dicts exactly as the eager one does


PUBLIC = View(none_is_leaf=False, custom=True, sort_keys=True)
COMPILE_RESULTS = View(none_is_leaf=True, custom=True, sort_keys=False)
COMPILE_ARGS = View(none_is_leaf=True, custom=False, sort_keys=False)


def _flatten(tree, leaves: list, view: View, is_leaf=None) -> object:
    if is_leaf is not None and is_leaf(tree):
        leaves.append(tree)
        return LEAF
    node = _REGISTRY.get(type(tree)) if view.custom else None
    if node is not None:
        children, aux = node.flatten(tree)
        return ("node", type(tree), aux, tuple(_flatten(c, leaves, view, is_leaf) for c in children))
    if tree is None and not view.none_is_leaf:
        return ("none", ())
    if isinstance(tree, tuple):
        children = tuple(_flatten(t, leaves, view, is_leaf) for t in tree)
        return ("namedtuple", type(tree), children) if is_namedtuple(tree) else ("tuple", children)
    if isinstance(tree, list):
        return ("list", tuple(_flatten(t, leaves, view, is_leaf) for t in tree))
    if isinstance(tree, dict):
        keys = _sorted_keys(tree) if view.sort_keys else tuple(tree)
        return ("dict", keys, tuple(_flatten(tree[k], leaves, view, is_leaf) for k in keys))
    leaves.append(tree)
    return LEAF


def _build(spec, it):
    if spec == LEAF:
        return next(it)
    kind, children = spec[0], spec[-1]
    items = [_build(sub, it) for sub in children]
    if kind == "tuple":
        return tuple(items)
    if kind == "list":
        return items
    if kind == "dict":
        return dict(zip(spec[1], items))
    if kind == "none":
        return None
    return rebuild_node(spec, *items)


def rebuild_node(spec, *children):
    """A namedtuple or registered node from its rebuilt children."""
    if spec[0] == "namedtuple":
        return spec[1](*children)
    return _REGISTRY[spec[1]].unflatten(spec[2], tuple(children))


def count_leaves(spec) -> int:
    if spec == LEAF:
        return 1
    return sum(count_leaves(sub) for sub in spec[-1])


# -- compile's view ---------------------------------------------------------------------
def flatten(tree) -> tuple[list, tuple]:
    """Compile's flattening of results: None is a (static) leaf."""
    leaves: list = []
    spec = _flatten(tree, leaves, COMPILE_RESULTS)
    return leaves, spec


_CONTAINERS = (tuple, list, dict)
_FLAT_ARGS: dict[int, tuple] = {}


def is_node(x) -> bool:
    """True for values `tree_flatten` takes apart (None aside, a leaf for compile)."""
    return isinstance(x, _CONTAINERS) or type(x) in _REGISTRY


def flatten_args(args: tuple, kwargs: dict) -> tuple[list, tuple]:
    """Compile's flattening of `(args, kwargs)`: registered classes stay opaque leaves.

    Fast path for flat positional calls (no argument is a container).
    """
    if not kwargs:
        for a in args:
            if isinstance(a, _CONTAINERS):
                break
        else:
            spec = _FLAT_ARGS.get(len(args))
            if spec is None:
                spec = _FLAT_ARGS[len(args)] = ("tuple", (("tuple", (LEAF,) * len(args)),
                                                          ("dict", (), ())))
            return list(args), spec
    leaves: list = []
    spec = _flatten((args, kwargs), leaves, COMPILE_ARGS)
    return leaves, spec


def unflatten(spec, leaves) -> object:
    it = iter(leaves)
    tree = _build(spec, it)
    if next(it, _END) is not _END:
        raise ValueError(f"unflatten: more leaves than the structure has ({count_leaves(spec)})")
    return tree


_END = object()


# -- plain containers: tuples, lists, dicts (in their own order); all else a leaf -------
def plain_leaves(tree) -> list:
    """The leaves of `tree` in compile's argument view (registered classes and None are
    leaves; NumPy calls and op parameters hold no other structure)."""
    leaves: list = []
    _flatten(tree, leaves, COMPILE_ARGS)
    return leaves


def map_plain(f: Callable, tree):
    """`tree` rebuilt with `f(leaf)` for every leaf of `plain_leaves(tree)`."""
    leaves: list = []
    spec = _flatten(tree, leaves, COMPILE_ARGS)
    return _build(spec, iter([f(x) for x in leaves]))


def any_plain_leaf(cls: type, tree) -> bool:
    """Whether a leaf of `plain_leaves(tree)` is a `cls`, building no list: the cheap
    check that lets a hot path skip `map_plain`."""
    if isinstance(tree, cls):
        return True
    if isinstance(tree, (list, tuple)):
        return any(any_plain_leaf(cls, t) for t in tree)
    if isinstance(tree, dict):
        return any(any_plain_leaf(cls, t) for t in tree.values())
    return False


class PrefixMismatch(ValueError):
    """`broadcast_prefix`: the prefix's structure is not a prefix of the tree's."""

    def __init__(self, where: str, prefix, tree):
        super().__init__(f"{where or 'the prefix'} = {prefix!r} does not match the tree's "
                         f"structure ({type(tree).__name__})")
        self.where, self.prefix, self.tree = where, prefix, tree


def broadcast_prefix(prefix, tree, is_leaf: Callable, where: str = "") -> list:
    """One prefix leaf per leaf of `tree` (public view): each leaf of `prefix` (`is_leaf`)
    stands for the whole subtree of `tree` at its place, as vmap's `in_axes` do.
    Tuples and lists match by position, dicts by key; `where` is the path so far."""
    if is_leaf(prefix):
        return [prefix] * len(tree_leaves(tree))
    if isinstance(prefix, (tuple, list)) and isinstance(tree, (tuple, list)) \
            and len(prefix) == len(tree):
        return [a for i, (p, t) in enumerate(zip(prefix, tree))
                for a in broadcast_prefix(p, t, is_leaf, f"{where}[{i}]")]
    if isinstance(prefix, dict) and isinstance(tree, dict) and set(prefix) == set(tree):
        return [a for k in _sorted_keys(tree)
                for a in broadcast_prefix(prefix[k], tree[k], is_leaf, f"{where}[{k!r}]")]
    raise PrefixMismatch(where, prefix, tree)


# -- the public API ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TreeDef:
    """The structure of a pytree (what `tree_flatten` returns beside the leaves)."""

    spec: object

    @property
    def num_leaves(self) -> int:
        return count_leaves(self.spec)

    def unflatten(self, leaves) -> object:
        return tree_unflatten(self, leaves)

    def paths(self) -> list[str]:
        """One readable path per leaf, e.g. "['w']", "[0].bias"."""
        return leaf_paths(self.spec)

    def __repr__(self) -> str:
        return f"PyTreeDef({_show(self.spec)})"


def _show(spec) -> str:
    if spec == LEAF:
        return "*"
    kind, children = spec[0], [_show(c) for c in spec[-1]]
    if kind == "tuple":
        return "(" + ", ".join(children) + ("," if len(children) == 1 else "") + ")"
    if kind == "list":
        return "[" + ", ".join(children) + "]"
    if kind == "dict":
        return "{" + ", ".join(f"{k!r}: {c}" for k, c in zip(spec[1], children)) + "}"
    if kind == "none":
        return "None"
    return f"{spec[1].__name__}(" + ", ".join(children) + ")"


def leaf_paths(spec, prefix: str = "") -> list[str]:
    if spec == LEAF:
        return [prefix]
    kind, children = spec[0], spec[-1]
    if kind == "dict":
        names = [f"[{k!r}]" for k in spec[1]]
    elif kind == "namedtuple":
        names = [f".{f}" for f in spec[1]._fields]
    elif kind == "node" and _REGISTRY[spec[1]].child_names is not None:
        names = [f".{n}" for n in _REGISTRY[spec[1]].child_names]
    else:
        names = [f"[{i}]" for i in range(len(children))]
    return [p for name, sub in zip(names, children) for p in leaf_paths(sub, prefix + name)]


def tree_flatten(tree, is_leaf: Callable | None = None) -> tuple[list, TreeDef]:
    """(leaves, treedef); None is an empty subtree, dict keys come sorted."""
    leaves: list = []
    spec = _flatten(tree, leaves, PUBLIC, is_leaf)
    return leaves, TreeDef(spec)


def tree_unflatten(treedef: TreeDef, leaves) -> object:
    """The pytree of structure `treedef` holding `leaves` (inverse of `tree_flatten`)."""
    leaves = list(leaves)
    if len(leaves) != treedef.num_leaves:
        raise ValueError(f"tree_unflatten: {treedef} has {treedef.num_leaves} leaves, "
                         f"got {len(leaves)}")
    return unflatten(treedef.spec, leaves)


def tree_leaves(tree, is_leaf: Callable | None = None) -> list:
    """The leaves of `tree` in flattening order (None contributes none)."""
    return tree_flatten(tree, is_leaf)[0]


def tree_structure(tree, is_leaf: Callable | None = None) -> TreeDef:
    """The `TreeDef` of `tree` (equal for trees of the same structure)."""
    return tree_flatten(tree, is_leaf)[1]


def tree_map(f: Callable, tree, *rest, is_leaf: Callable | None = None):
    """`f` applied leaf by leaf; `rest` must have the structure of `tree`."""
    leaves, treedef = tree_flatten(tree, is_leaf)
    others = []
    for i, other in enumerate(rest):
        other_leaves, other_def = tree_flatten(other, is_leaf)
        if other_def != treedef:
            raise ValueError(f"tree_map: argument {i + 1} has structure {other_def}, "
                             f"expected {treedef}")
        others.append(other_leaves)
    return treedef.unflatten([f(*xs) for xs in zip(leaves, *others)])
