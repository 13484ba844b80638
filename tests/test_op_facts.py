"""The primitive row is the only place an op is described.

1. No name-keyed op facts outside `tracead/ops/` (and `tracead/prim.py`, the
   table itself). An AST scan of every other module of `tracead/` fails on:

   a. a comparison (`==`, `!=`, `in`, `not in`, `is`) with a primitive's name
      as an operand: `node.prim.name == "mul"`, `name in CHEAP`, ...;
   b. a primitive's name used as a key: `TABLE[node.prim.name]`,
      `RULES.get(prim.name)`;
   c. where a. or b. found something, also every string literal equal to a
      primitive's name in a comparison, a set/frozenset literal or as a dict
      literal's key, in that function and at that module's top level (the
      table the keyed code reads, so the report names it);
   d. a string literal equal to a primitive's name passed to `PRIMS[...]` or
      `.get` on PRIMS inside `passes/`, `plan/`, `backends/`, `ir/` and
      `transforms/`: they import the row itself (`ops.elementwise.mul_p`)
      and compare with `is`.

   "A primitive's name" is an expression `<anything>.prim.name`, `prim.name`
   (a variable called `prim`), a variable assigned from one, or a parameter
   called `prim_name`. Allowed on purpose: the name in messages, reports and
   keys that only identify a node (cse's key, explain's op lists); string
   literals that happen to equal a primitive's name but name something else
   (dunder methods "add"/"mul", nn activations "relu", index_update modes
   "mul"/"max", reduction templates "max", the kind "matmul"); and the
   primitive layer (`lax`, `functional`, ...) binding `PRIMS["add"]` to define
   the public function `add`.

2. Every row's facts agree with each other and with its impl (a view shares
   its input, commutative ops are binary and commute, never-negative ops
   give no -0.0, pointwise means elementwise or a broadcast, ...).
"""
from __future__ import annotations

import ast
import pathlib
import warnings

import numpy as np
import pytest

import tracead  # noqa: F401  (declares every primitive)
from tracead.prim import KINDS, PRIMS, inconsistency

ROOT = pathlib.Path(tracead.__file__).parent
NAMES = frozenset(PRIMS)
# Packages that must not even look a row up by its name string.
ROW_IMPORTERS = ("passes", "plan", "backends", "ir", "transforms")


def _is_prim_name(node: ast.AST, aliases: set[str]) -> bool:
    if isinstance(node, ast.Attribute) and node.attr == "name":
        base = node.value
        if isinstance(base, ast.Attribute) and base.attr == "prim":
            return True
        if isinstance(base, ast.Name) and base.id == "prim":
            return True
    return isinstance(node, ast.Name) and node.id in aliases


def _is_prims_table(node: ast.AST) -> bool:
    return (isinstance(node, ast.Name) and node.id in ("PRIMS", "P")) or (
        isinstance(node, ast.Attribute) and node.attr == "PRIMS")


def _is_set_call(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("frozenset", "set")


def _literal_names(node: ast.AST) -> list[str]:
    """Primitive names among the string literals of a constant or a collection display."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value] if node.value in NAMES else []
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [n for elt in node.elts for n in _literal_names(elt)]
    if _is_set_call(node):
        return [n for arg in node.args for n in _literal_names(arg)]
    return []


def _aliases(scope: ast.AST) -> set[str]:
    """Variables of this scope that hold a primitive's name."""
    names = set()
    for node in ast.walk(scope):
        if isinstance(node, ast.arg) and node.arg == "prim_name":
            names.add(node.arg)
    changed = True
    while changed:
        changed = False
        for node in ast.walk(scope):
            if isinstance(node, ast.Assign):
                pairs = []
                for target in node.targets:
                    if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                        pairs += zip(target.elts, node.value.elts)
                    else:
                        pairs.append((target, node.value))
                for target, value in pairs:
                    if (isinstance(target, ast.Name) and target.id not in names
                            and _is_prim_name(value, names)):
                        names.add(target.id)
                        changed = True
    return names


def _scopes(tree: ast.Module):
    """(scope, its nodes): each function (with what it nests), and the module's own
    statements (outside functions and classes) as a scope of their own."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node, list(ast.walk(node))
    functions = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    top = ast.Module(body=[stmt for stmt in tree.body if not isinstance(stmt, functions)], type_ignores=[])
    yield top, list(ast.walk(top))


def violations(source: str, path: str = "<string>") -> list[str]:
    """Name-keyed op facts in one module's source (rules a-d of the module docstring)."""
    tree = ast.parse(source)
    found = []
    row_importer = any(f"/{pkg}/" in f"/{path}" for pkg in ROW_IMPORTERS)
    keyed_anywhere = False
    for scope, nodes in _scopes(tree):
        aliases = _aliases(scope)
        keyed = []
        for node in nodes:
            where = f"{path}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Compare):
                operands = [node.left] + node.comparators
                if any(_is_prim_name(o, aliases) for o in operands):
                    others = [o for o in operands if not _is_prim_name(o, aliases)]
                    if not all(_is_prims_table(o) for o in others):
                        keyed.append(f"{where}: compares a primitive's name ({ast.unparse(node)})")
            elif isinstance(node, ast.Subscript) and _is_prim_name(node.slice, aliases):
                if not _is_prims_table(node.value):
                    keyed.append(f"{where}: looks a table up by a primitive's name ({ast.unparse(node)})")
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and node.func.attr in ("get", "setdefault", "pop")
                  and any(_is_prim_name(a, aliases) for a in node.args)
                  and not _is_prims_table(node.func.value)):
                keyed.append(f"{where}: looks a table up by a primitive's name ({ast.unparse(node)})")
            if row_importer and isinstance(node, ast.Subscript) and _is_prims_table(node.value) \
                    and _literal_names(node.slice):
                found.append(f"{where}: looks a row up by its name; import the row ({ast.unparse(node)})")
        found += keyed
        if keyed and isinstance(scope, ast.FunctionDef):
            found += _literal_tables(nodes, path)
        keyed_anywhere |= bool(keyed)
    if keyed_anywhere:  # the module-level tables the keyed code may read
        found += _literal_tables(list(_scopes(tree))[-1][1], path)
    return sorted(set(found))


def _literal_tables(nodes, path: str) -> list[str]:
    """Rule c: primitive names compared, or held in a set or as dict keys."""
    found = []
    for node in nodes:
        names = []
        if isinstance(node, ast.Compare):
            for o in [node.left] + node.comparators:
                names += _literal_names(o)
        elif isinstance(node, ast.Set) or _is_set_call(node):
            names += _literal_names(node)
        elif isinstance(node, ast.Dict):
            names += [n for k in node.keys if k is not None for n in _literal_names(k)]
        if names:
            found.append(f"{path}:{node.lineno}: primitive names {sorted(set(names))} in a table "
                         f"or comparison next to code keyed by a primitive's name")
    return found


def _modules():
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT.parent).as_posix()
        if rel.startswith("tracead/ops/") or rel == "tracead/prim.py":
            continue
        yield rel, path.read_text()


def test_no_name_keyed_op_facts_outside_ops():
    found = [v for rel, source in _modules() for v in violations(source, rel)]
    assert not found, "ask the Prim row (a field, or `is` the row), not its name:\n" + "\n".join(found)


@pytest.mark.parametrize("snippet", [
    'def f(node):\n    return node.prim.name == "mul"\n',
    'def f(node):\n    name = node.prim.name\n    return name in ("exp", "abs")\n',
    'CHEAP = frozenset({"add", "sub"})\ndef f(n):\n    return n.prim.name not in CHEAP\n',
    'RULES = {"reshape": 1}\ndef f(prim):\n    return RULES.get(prim.name)\n',
    'def cost(prim_name):\n    return 0 if prim_name in FREE else 1\n',
    'def f(node):\n    return TABLE[node.prim.name]\n',
    'def producer(node, name):\n    return node.prim.name == name\n',
])
def test_the_scan_catches_name_keyed_facts(snippet):
    assert violations(snippet, "tracead/passes/x.py")


@pytest.mark.parametrize("snippet", [
    'def f(node):\n    return f"{node.prim.name} is not fusible"\n',
    'def f(node):\n    return (node.prim.name, node.params)\n',  # an identity key (cse)
    'ACTIVATIONS = {"relu": 1, "tanh": 2}\ndef g(a):\n    return ACTIVATIONS[a]\n',
    'def f(mode):\n    return mode == "mul"\n',
    'def f(node):\n    return node.prim.kind == "matmul"\n',
    'add = bind_wrapper(PRIMS["add"])\n',  # the primitive layer, outside the row importers
])
def test_the_scan_allows_other_uses(snippet):
    assert not violations(snippet, "tracead/lax_like.py")


def test_row_importers_do_not_look_rows_up_by_name():
    assert violations('X = PRIMS["broadcast_to"]\n', "tracead/passes/fold.py")


# -- every row is consistent ---------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(PRIMS))
def test_row_facts_are_consistent(name):
    prim = PRIMS[name]
    assert prim.kind in KINDS
    assert inconsistency(prim) is None
    assert prim.cost in (0, 1, 8) and prim.compile_weight in (1, 8)
    if prim.pointwise:
        assert prim.kind in ("elementwise", "movement") and prim.template is not None
        assert prim.arity >= 1
    if prim.view:
        assert prim.kind == "movement" and not prim.pointwise and prim.shares_input is True
    if prim.cost == 0:  # free: no arithmetic, the loop (or NumPy's view) only moves indices
        assert prim.template in (None, "{0}")
    if prim.commutative:
        assert prim.arity == 2 and prim.pointwise
    if prim.never_negative:
        assert prim.pointwise
    if prim.flops is not None:
        assert prim.kind == "matmul"


def _samples(dtype):
    info = np.finfo(dtype)
    return np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 1.0, -1.0, 0.5, -2.5, 3.0, 1e-3, -1e-3,
                     info.max, -info.max, info.smallest_subnormal, -info.smallest_subnormal], dtype)


def _float_inputs(prim, dtype):
    x = _samples(dtype)
    if prim.arity == 1:
        return [x]
    a, b = np.meshgrid(x, x)
    return [a.ravel(), b.ravel()]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_never_negative_ops_give_no_negative_or_minus_zero(dtype):
    for prim in (p for p in PRIMS.values() if p.never_negative):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = np.asarray(prim.impl(*_float_inputs(prim, dtype)))
        bad = ~np.isnan(out) & np.signbit(out)
        assert not bad.any(), f"{prim.name} gave {out[bad][:4]}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_commutative_ops_commute(dtype):
    for prim in (p for p in PRIMS.values() if p.commutative):
        x = _samples(dtype) if dtype is not np.int64 else np.arange(-4, 5, dtype=dtype)
        a, b = (v.ravel() for v in np.meshgrid(x, x))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                ab, ba = prim.impl(a, b), prim.impl(b, a)
            except TypeError:  # an integer-only row (bitwise_and, ...): checked in int64
                assert dtype is not np.int64, prim.name
                continue
        assert np.array_equal(ab.view(np.uint8), ba.view(np.uint8)) or (
            ab.dtype.kind == "f" and np.array_equal(ab, ba, equal_nan=True)), prim.name


def test_views_share_memory_and_copies_do_not():
    x = np.arange(24.0).reshape(2, 3, 4)
    params = {"reshape": {"shape": (6, 4)}, "transpose": {"perm": (2, 0, 1)},
              "broadcast_to": {"shape": (5, 2, 3, 4)}, "stop_gradient": {}}
    for name, kw in params.items():
        prim = PRIMS[name]
        shares = np.shares_memory(prim.impl(x, **kw), x)
        assert shares == prim.may_share_input(kw), name
        if prim.view:
            assert shares
    getitem = PRIMS["getitem"]
    basic = {"index": (("i", 1), ("s", None, None, 2))}
    arrays = {"index": (("a", 0),)}
    assert getitem.may_share_input(basic) and np.shares_memory(getitem.impl(x, **basic), x)
    assert not getitem.may_share_input(arrays)
    assert not np.shares_memory(getitem.impl(x, np.array([1, 0]), **arrays), x)
    assert not PRIMS["transpose"].impl(x, perm=(2, 0, 1)).flags.c_contiguous  # strided


def test_matmul_flops_and_cheapness():
    from tracead.prim import Aval
    a, b = Aval((5, 3, 7), np.dtype(np.float32)), Aval((7, 2), np.dtype(np.float32))
    out = PRIMS["matmul"].shape_rule(a, b)
    assert PRIMS["matmul"].count_flops(out, a, b) == 2 * 7 * 5 * 3 * 2
    assert PRIMS["add"].count_flops(out, out, out) == 0
    assert PRIMS["add"].cheap and PRIMS["floor"].cheap and PRIMS["broadcast_to"].cheap
    assert not PRIMS["div"].cheap and not PRIMS["exp"].cheap


def test_a_new_row_is_safe_by_default():
    from tracead.prim import Aval, Prim
    row = Prim("brand_new", "opaque", lambda x: x, lambda x: Aval(x.shape, x.dtype), differentiable=False)
    assert not row.cheap and not row.commutative and not row.pointwise and not row.never_negative
    assert not row.view and not row.may_share_input({}) and not row.indexed_write
    assert inconsistency(row) is None


def test_contradictory_rows_are_refused():
    from tracead.prim import Aval, Prim, register
    shape = lambda a, b: Aval(a.shape, a.dtype)  # noqa: E731
    for kw in ({"commutative": True, "arity": 1}, {"pointwise": False},
               {"view": True}, {"strided": True}):
        row = Prim("contradictory", "elementwise", np.add, shape, template="({0} + {1})",
                   differentiable=False, arity=kw.pop("arity", 2), **{"pointwise": True, **kw})
        with pytest.raises(ValueError, match="contradictory"):
            register(row)
    assert "contradictory" not in PRIMS


def test_rows_pickle_to_themselves():
    import copy
    import pickle
    for prim in PRIMS.values():
        assert pickle.loads(pickle.dumps(prim)) is prim
        assert copy.deepcopy(prim) is prim


@pytest.mark.parametrize("backend", ["numba", "interpret"])
def test_compiled_plus_zero_after_never_negative_ops_matches_numpy(backend):
    """simplify drops `+ 0.0` after these ops: the compiled results keep NumPy's signs."""
    import tracead as ta
    from tracead.dispatch import bind
    ops = [p for p in PRIMS.values() if p.never_negative and p.arity == 1]
    x = _samples(np.float64)

    def fn(t):
        return tuple(bind(p, t) + 0.0 for p in ops)

    cf = ta.compile(fn, backend=backend)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cf(x)
        outs = cf(x)
        assert cf.stats["hits"] >= 1 and cf.stats["eager_calls"] == 0
        for p, got in zip(ops, outs):
            want = np.asarray(p.impl(x)) + 0.0
            got = got.numpy()
            assert np.array_equal(np.isnan(got), np.isnan(want)), p.name
            ok = ~np.isnan(want)
            assert np.array_equal(np.signbit(got[ok]), np.signbit(want[ok])), p.name
            np.testing.assert_allclose(got[ok], want[ok], rtol=1e-12, err_msg=p.name)
