"""Scalar expressions for generated kernels (backend stage: codegen helpers).

The body of every fused loop is built only from the primitives' `template`
strings (`ops/`), never from a second definition of an op. This module turns
one node into one Python/Numba statement:

    v7 = np.float32(fexp(v5 * np.float32(0.5)))

Three rewrites happen on the template's syntax tree, so they cannot touch
the substituted input names:
  * calls listed in CALL_MAP are redirected: libm `math.exp` & co. keep a loop
    scalar (no SVML here), mathlib's versions vectorise; builtin `max`/`min`
    keep the first operand when the other is NaN, `np.maximum`/`np.minimum`
    propagate NaN as NumPy does;
  * numeric literals in a float32 node become float32 (`0.5 * x` with a
    Python float would silently compute in float64 and block 8-wide SIMD);
  * the result is cast to the node's dtype (`np.float32(...)`), so every
    intermediate has exactly the dtype the graph says, as in the interpreter.
"""
from __future__ import annotations

import ast
import functools
import math
import re

import numpy as np

try:  # mathlib: vectorisable exp/log/tanh/sigmoid (see its docstring)
    from . import mathlib

    MATHLIB_VERSION = mathlib.MATHLIB_VERSION
    _MATHLIB_CALLS = {"math.exp": "fexp", "math.log": "flog", "math.tanh": "ftanh"}
    # The whole sigmoid template has a stable, vectorised twin computing the same
    # function in the same dtype (no exp overflow for very negative x).
    TEMPLATE_MAP = {"(1.0 / (1.0 + math.exp(-{0})))": "fsigmoid({0})"}
except ImportError:  # pragma: no cover - generated code falls back to libm
    MATHLIB_VERSION = "none"
    _MATHLIB_CALLS, TEMPLATE_MAP = {}, {}

# The one table of call redirections (see the module docstring).
CALL_MAP: dict[str, str] = {"max": "np.maximum", "min": "np.minimum", **_MATHLIB_CALLS}
MATHLIB_IMPORT = ("from tracead.backends.numba.mathlib import fexp, flog, fsigmoid, ftanh"
                  if _MATHLIB_CALLS else "")

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def np_type(dtype) -> str:
    """The NumPy scalar constructor of a dtype, as source text: 'np.float32'."""
    dtype = np.dtype(dtype)
    return "np.bool_" if dtype == np.bool_ else f"np.{dtype.name}"


def literal(value, dtype) -> str:
    """A constant of `dtype` as source text (typed, so float32 stays float32)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return f"np.bool_({bool(value)})"
    if dtype.kind in "iu":
        return f"{np_type(dtype)}({int(value)})"
    value = float(value)
    text = ("math.nan" if math.isnan(value) else
            ("math.inf" if value > 0 else "-math.inf") if math.isinf(value) else repr(value))
    return f"{np_type(dtype)}({text})"


def _param_text(value, dtype) -> str:
    """A param substituted into a template (e.g. pow_scalar's exponent)."""
    if isinstance(value, str):
        return value  # e.g. cast's dtype name in "np.{dtype}({0})"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if np.dtype(dtype).kind == "f":
        # A non-negative integer exponent stays an int literal: Numba expands
        # `x ** 3` into multiplications. Negative ones must not (Numba's
        # integer power raises ZeroDivisionError at x == 0 even under the numpy
        # error model), so they become floats, like NumPy's float power.
        if isinstance(value, (int, np.integer)) and value >= 0:
            return str(int(value))
        return literal(value, dtype)
    return f"({value!r})"


class _Rewrite(ast.NodeTransformer):
    def __init__(self, float32: bool) -> None:
        self.float32 = float32

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        target = CALL_MAP.get(ast.unparse(node.func))
        if target is not None:
            node.func = ast.parse(target, mode="eval").body
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if self.float32 and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            return ast.Call(ast.parse("np.float32", mode="eval").body, [node], [])
        return node


@functools.lru_cache(maxsize=None)
def lower_template(template: str, dtype_name: str) -> str:
    """Rewrite a template for a node of dtype `dtype_name`; placeholders survive.

    The result still has `{0}`, `{exponent}`, ... to fill in with `str.format`.
    """
    is_float = np.dtype(dtype_name).kind == "f"
    if is_float and template in TEMPLATE_MAP:
        template = TEMPLATE_MAP[template]
    names = {m: f"__p_{m}__" for m in _PLACEHOLDER.findall(template)}
    tree = ast.parse(_PLACEHOLDER.sub(lambda m: names[m.group(1)], template), mode="eval")
    text = ast.unparse(_Rewrite(dtype_name == "float32").visit(tree))
    for placeholder, name in names.items():
        text = text.replace(name, "{" + placeholder + "}")
    return text


def node_expression(node, operands: list[str]) -> str:
    """The scalar expression of one elementwise node over operand names.

    `broadcast_to` is the identity per element: the loop reads its input at
    the broadcast index already.
    """
    if node.prim.name == "broadcast_to":
        return operands[0]
    if node.prim.template is None:
        raise NotImplementedError(f"{node.prim.name} has no Numba template and cannot be fused")
    dtype = node.out.dtype
    params = {k: _param_text(v, dtype) for k, v in node.params}
    expr = lower_template(node.prim.template, dtype.name).format(*operands, **params)
    return cast(expr, dtype)


def cast(expr: str, dtype) -> str:
    """`np.float32(expr)`, unless expr already is exactly that conversion."""
    ctor = np_type(dtype)
    tree = ast.parse(expr, mode="eval").body
    if isinstance(tree, ast.Call) and ast.unparse(tree.func) == ctor and len(tree.args) == 1:
        return expr
    return f"{ctor}({expr})"


# -- reductions ---------------------------------------------------------------
def accumulator_dtype(prim_name: str, in_dtype, out_dtype) -> np.dtype:
    """float32 sums accumulate in float64 (NumPy sums pairwise in float32: we
    are at least as accurate, and one running sum per output stays simple)."""
    if prim_name == "sum" and np.dtype(out_dtype).kind == "f":
        return np.dtype(np.float64)
    return np.dtype(out_dtype)


def identity(template: str, dtype) -> str:
    dtype = np.dtype(dtype)
    if template == "+":
        return literal(0, dtype)
    if template == "max":
        if dtype.kind == "f":
            return literal(-math.inf, dtype)
        if dtype.kind == "b":
            return literal(False, dtype)
        return literal(np.iinfo(dtype).min, dtype)
    raise NotImplementedError(f"no identity for reduction template {template!r}")


def combine(template: str, acc: str, value: str) -> str:
    """One reduction step from the reduce prim's template ("+" or "max")."""
    if template.isidentifier():
        return f"{CALL_MAP.get(template, template)}({acc}, {value})"
    return f"{acc} {template} {value}"
