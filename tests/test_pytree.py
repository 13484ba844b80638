"""The pytree module: every node kind flattens, rebuilds and maps as JAX's does."""
from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass

import numpy as np
import pytest

import tracead as ta
from tracead.trace import pytree

Pair = namedtuple("Pair", "first second")


@ta.register_dataclass
@dataclass
class Params:
    w: object
    b: object


@dataclass
class Scaled:
    value: object
    scale: float  # static: part of the structure, not a leaf


ta.register_dataclass(Scaled, meta_fields=("scale",))


class Box:
    """A plain class registered by hand."""

    def __init__(self, items, tag):
        self.items, self.tag = items, tag


ta.register_pytree_node(Box, lambda b: (b.items, b.tag), lambda tag, items: Box(list(items), tag))


TREES = {
    "tuple": ((1, 2), [1, 2]),
    "list": ([1, [2, 3]], [1, 2, 3]),
    "dict sorted": ({"b": 1, "a": 2, "c": {"z": 3, "y": 4}}, [2, 1, 4, 3]),
    "namedtuple": (Pair(1, (2, 3)), [1, 2, 3]),
    "None is empty": ({"a": None, "b": (None, 5)}, [5]),
    "dataclass": (Params(w=1, b=[2, 3]), [1, 2, 3]),
    "meta field": (Scaled(value=(1, 2), scale=0.5), [1, 2]),
    "registered": ({"box": Box([1, 2], "t")}, [1, 2]),
    "leaf": (7, [7]),
    "empty": ((), []),
}


@pytest.mark.parametrize("name", list(TREES))
def test_flatten_gives_leaves_in_order_and_rebuilds(name):
    tree, expected_leaves = TREES[name]
    leaves, treedef = ta.tree_flatten(tree)
    assert leaves == expected_leaves
    assert treedef.num_leaves == len(leaves)
    rebuilt = ta.tree_unflatten(treedef, leaves)
    assert type(rebuilt) is type(tree)
    assert ta.tree_structure(rebuilt) == treedef
    assert ta.tree_leaves(rebuilt) == leaves
    hash(treedef)  # a treedef is part of compile's guard key


def test_dicts_with_the_same_keys_share_one_structure_and_come_back_sorted():
    a = {"b": 1, "a": 2}
    b = {"a": 3, "b": 4}
    assert ta.tree_structure(a) == ta.tree_structure(b)
    assert list(ta.tree_map(lambda x: x, a)) == ["a", "b"]
    assert ta.tree_leaves({1: "x", "k": "y"}) == ["x", "y"]  # unsortable keys: insertion order


def test_tree_map_over_several_trees_and_structure_mismatch():
    out = ta.tree_map(lambda x, y: x + y, {"a": 1, "b": (2, 3)}, {"a": 10, "b": (20, 30)})
    assert out == {"a": 11, "b": (22, 33)}
    with pytest.raises(ValueError, match=r"argument 1 has structure PyTreeDef\(\{'a': \*\}\)"):
        ta.tree_map(lambda x, y: x, {"a": 1, "b": 2}, {"a": 1})
    assert ta.tree_map(lambda x: x * 2, Scaled((1, 2), 0.5)) == Scaled((2, 4), 0.5)
    meta_a, meta_b = ta.tree_structure(Scaled(1, 0.5)), ta.tree_structure(Scaled(1, 2.0))
    assert meta_a != meta_b  # static fields are structure


def test_is_leaf_and_unflatten_arity_errors():
    tree = {"a": (1, 2), "b": 3}
    assert ta.tree_leaves(tree, is_leaf=lambda x: isinstance(x, tuple)) == [(1, 2), 3]
    _, treedef = ta.tree_flatten(tree)
    with pytest.raises(ValueError, match="has 3 leaves, got 2"):
        ta.tree_unflatten(treedef, [1, 2])


def test_treedef_prints_and_names_leaf_paths():
    _, treedef = ta.tree_flatten({"w": [1, 2], "p": Pair(3, Params(4, 5)), "n": None})
    assert repr(treedef) == "PyTreeDef({'n': None, 'p': Pair(*, Params(*, *)), 'w': [*, *]})"
    assert treedef.paths() == ["['p'].first", "['p'].second.w",
                               "['p'].second.b", "['w'][0]", "['w'][1]"]


def test_compile_view_keeps_none_as_a_leaf_and_builtin_specs():
    leaves, spec = pytree.flatten({"a": None, "b": [1, (2,)]})
    assert leaves == [None, 1, 2]
    assert spec == ("dict", ("a", "b"), ("*", ("list", ("*", ("tuple", ("*",))))))
    assert pytree.unflatten(spec, leaves) == {"a": None, "b": [1, (2,)]}
    # Arguments: registered classes stay opaque objects (read by reference).
    box = Box([1], "t")
    leaves, spec = pytree.flatten_args((box, [Pair(1, 2)]), {"k": 3})
    assert leaves[0] is box and leaves[1:] == [1, 2, 3]
    args, kwargs = pytree.unflatten(spec, leaves)
    assert args[1][0] == Pair(1, 2) and type(args[1][0]) is Pair and kwargs == {"k": 3}


def test_register_dataclass_rejects_non_dataclasses():
    with pytest.raises(TypeError, match="not a dataclass"):
        ta.register_dataclass(Box)


def test_tree_map_does_not_mutate_its_input():
    tree = {"a": [np.ones(2)], "b": Params(np.zeros(1), None)}
    out = ta.tree_map(lambda x: x + 1, tree)
    np.testing.assert_array_equal(tree["a"][0], [1.0, 1.0])
    np.testing.assert_array_equal(out["a"][0], [2.0, 2.0])
    assert out["b"].b is None


def test_plain_view_takes_apart_containers_only_and_keeps_dict_order():
    p = Params(1.0, 2.0)
    tree = {"z": [Pair(3, None), p], "a": (4,)}
    assert pytree.plain_leaves(tree) == [3, None, p, 4]  # registered classes, None: leaves
    doubled = pytree.map_plain(lambda x: x * 2 if isinstance(x, int) else x, tree)
    assert list(doubled) == ["z", "a"] and doubled["z"][0] == Pair(6, None)
    assert type(doubled["z"][0]) is Pair and doubled["z"][1] is p and doubled["a"] == (8,)
    assert pytree.any_plain_leaf(Params, tree) and not pytree.any_plain_leaf(str, tree)


def test_broadcast_prefix_gives_one_prefix_leaf_per_tree_leaf():
    tree = ({"b": np.ones(2), "a": [1, 2]}, np.zeros(3))
    is_axis = lambda a: a is None or isinstance(a, int)  # noqa: E731
    assert pytree.broadcast_prefix(0, tree, is_axis) == [0, 0, 0, 0]
    # dict entries follow the tree's flattening order (sorted keys): a's two leaves, then b
    assert pytree.broadcast_prefix(({"b": None, "a": 1}, 0), tree, is_axis) == [1, 1, None, 0]
    with pytest.raises(pytree.PrefixMismatch, match=r"\[0\]\['b'\] = \(0, 1\)") as e:
        pytree.broadcast_prefix(({"b": (0, 1), "a": 1}, 0), tree, is_axis)
    assert e.value.where == "[0]['b']"
