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

Reductions: `combine` writes one step (reduce_steps.py for float running
sums and maxima, so the loops vectorise), `accumulator_dtype` and
SUM_BLOCK say how float32 sums are accumulated. (The cost model for the
parallel threshold and rowwise row buffers is each row's `Prim.cost`.)
"""
from __future__ import annotations

import ast
import functools
import math
import re

import numpy as np

try:  # mathlib: vectorisable exp/log/tanh/sigmoid (see its docstring)
    from . import mathlib, reduce_steps

    # Part of kernel cache keys (cache.py): Numba's cache does not see changes there.
    MATHLIB_VERSION = f"{mathlib.MATHLIB_VERSION}, reduce_steps {reduce_steps.VERSION}"
    _MATHLIB_CALLS = {"math.exp": "fexp", "math.log": "flog", "math.tanh": "ftanh"}
except ImportError:  # pragma: no cover - generated code falls back to libm
    MATHLIB_VERSION = "none"
    _MATHLIB_CALLS = {}

# The one table of call redirections (see the module docstring).
CALL_MAP: dict[str, str] = {"max": "np.maximum", "min": "np.minimum", **_MATHLIB_CALLS}
# Steps of float reductions in loops (reduce_steps.py): a float `acc + x` chain
# must stay in order and keeps the loop scalar; these let LLVM use SIMD lanes.
REDUCE_MAP: dict[str, str] = {"+": "add_reassoc", "max": "fmaximum"} if _MATHLIB_CALLS else {}
MATHLIB_IMPORT = ("from tracead.backends.numba.mathlib import fexp, flog, fsigmoid, ftanh\n"
                  "from tracead.backends.numba.reduce_steps import add_reassoc, fmaximum"
                  if _MATHLIB_CALLS else "")
# floor_divide / remainder / fmod templates call these (NumPy's semantics; see the module).
from . import divmod_scalar  # noqa: E402

MATHLIB_VERSION += f", divmod {divmod_scalar.VERSION}"
MATHLIB_IMPORT = "\n".join(filter(None, (MATHLIB_IMPORT, "from tracead.backends.numba.divmod_scalar "
                                          "import floor_divide_scalar, fmod_scalar, remainder_scalar")))

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@functools.lru_cache(maxsize=None)
def dtype_name(dtype) -> str:
    """np.dtype(dtype).name, remembered (NumPy computes it in Python on every access)."""
    return np.dtype(dtype).name


@functools.lru_cache(maxsize=None)
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
    names = {m: f"__p_{m}__" for m in _PLACEHOLDER.findall(template)}
    tree = ast.parse(_PLACEHOLDER.sub(lambda m: names[m.group(1)], template), mode="eval")
    text = ast.unparse(_Rewrite(dtype_name == "float32").visit(tree))
    for placeholder, name in names.items():
        text = text.replace(name, "{" + placeholder + "}")
    return text


def node_expression(node, operands: list[str]) -> str:
    """The scalar expression of one pointwise node over operand names.

    (`broadcast_to`'s template is `{0}`: the loop reads its input at the
    broadcast index already.)
    """
    if node.prim.template is None:
        raise NotImplementedError(f"{node.prim.name} has no Numba template and cannot be fused")
    dtype = node.out.dtype
    params = {k: _param_text(v, dtype) for k, v in node.params if f"{{{k}}}" in node.prim.template}
    template = lower_template(node.prim.template, dtype_name(dtype))
    expr = template.format(*operands, **params)
    if not params and keeps_dtype(template, tuple(dtype_name(v.dtype) for v in node.inputs), dtype_name(dtype)):
        return expr
    return cast(expr, dtype)


# Calls whose result has the dtype of their float arguments (all the same): mathlib's
# routines (float32 in, float32 out) and NumPy's elementwise maximum and minimum.
# Kept short on purpose: a call missing here only keeps its (harmless) cast.
_SAME_DTYPE_CALLS = frozenset(_MATHLIB_CALLS.values()) | {"fsigmoid", "np.maximum", "np.minimum"}
_SAME_DTYPE_OPS = (ast.Add, ast.Sub, ast.Mult, ast.Div)


@functools.lru_cache(maxsize=None)
def keeps_dtype(template: str, in_dtypes: tuple[str, ...], out_dtype: str) -> bool:
    """Does Numba type this lowered template already as `out_dtype`? Then the cast
    around it is left out: it changes nothing, and each one is a call Numba types
    and lowers (a good part of a long float chain's compile time: compile_curve.md).

    Conservative: float results only, built from the operands, `+ - * /`, unary
    minus, _SAME_DTYPE_CALLS and constants of the right type (float32 code has
    `np.float32(c)`, scalar.lower_template; float64 code may use plain numbers).
    Anything else (comparisons, `if`, libm, mixed dtypes) keeps its cast, and so
    do integers: Numba computes int32 + int32 in int64.
    """
    if np.dtype(out_dtype).kind != "f":
        return False
    slots = {m: f"__p_{m}__" for m in _PLACEHOLDER.findall(template)}
    try:
        tree = ast.parse(_PLACEHOLDER.sub(lambda m: slots[m.group(1)], template), mode="eval").body
    except SyntaxError:  # pragma: no cover - templates are valid expressions
        return False
    operand = {f"__p_{i}__": dt for i, dt in enumerate(in_dtypes)}
    return _expr_dtype(tree, operand, out_dtype) == out_dtype


def _expr_dtype(tree: ast.AST, operand: dict[str, str], out: str) -> str | None:
    """The dtype name of `tree` as Numba types it, "number" for a Python literal
    (float64 with a float64 operand), or None when not sure."""
    if isinstance(tree, ast.Name):
        return operand.get(tree.id)
    if isinstance(tree, ast.Constant):
        ok = isinstance(tree.value, (int, float)) and not isinstance(tree.value, bool)
        return "number" if ok else None
    if isinstance(tree, ast.UnaryOp) and isinstance(tree.op, ast.USub):
        return _expr_dtype(tree.operand, operand, out)
    if isinstance(tree, ast.BinOp) and isinstance(tree.op, _SAME_DTYPE_OPS):
        left, right = _expr_dtype(tree.left, operand, out), _expr_dtype(tree.right, operand, out)
        if left == right:
            return left
        kinds = {left, right}
        return "float64" if kinds == {"float64", "number"} else None
    if isinstance(tree, ast.Call) and not tree.keywords:
        func = ast.unparse(tree.func)
        args = [_expr_dtype(a, operand, out) for a in tree.args]
        if func == f"np.{out}" and len(tree.args) == 1 and isinstance(tree.args[0], ast.Constant):
            return out if args[0] == "number" else None
        if func in _SAME_DTYPE_CALLS and args and len(set(args)) == 1 and args[0] in ("float32", "float64"):
            return args[0]
    return None


def cast(expr: str, dtype) -> str:
    """`np.float32(expr)`, unless expr already is exactly that conversion."""
    ctor = np_type(dtype)
    tree = ast.parse(expr, mode="eval").body
    if isinstance(tree, ast.Call) and ast.unparse(tree.func) == ctor and len(tree.args) == 1:
        return expr
    return f"{ctor}({expr})"


# -- reductions ---------------------------------------------------------------
def accumulator_dtype(template: str, in_dtype, out_dtype) -> np.dtype:
    """float32 sums (the reduce template "+") accumulate in float64, in blocks (see split_sum)."""
    if template == "+" and np.dtype(out_dtype).kind == "f":
        return np.dtype(np.float64)
    return np.dtype(out_dtype)


# float32 values summed in float64 are summed in blocks of SUM_BLOCK: a
# float32 partial sum per block (add_reassoc: 8-wide SIMD lanes, so each lane
# adds at most SUM_BLOCK / 8 values in order), and the block totals in
# float64. A float64 running sum in the loop itself would make LLVM run the
# whole loop 4 lanes wide (it vectorises for the widest type in the loop),
# halving the float32 work per instruction. Accuracy: NumPy sums float32
# pairwise with 8 accumulators over leaves of 128 values (16 per accumulator,
# then a float32 tree); here it is <= 32 per lane, then a float32 tree of the
# lanes, then float64 across blocks, so the error bound stays of the same
# size (~32 eps32 relative to the sum of |x| per block, instead of growing
# with the number of blocks; 256 eps32 where a loop does not vectorise, e.g.
# over strided inputs). W1 at 4M float32: value error 4.5e-9 relative.
SUM_BLOCK = 256


def split_sum(template: str, in_dtype, acc_dtype) -> bool:
    """Is this reduction a float32 (or smaller) sum accumulated in float64? (SUM_BLOCK)"""
    return (template == "+" and np.dtype(in_dtype).kind == "f"
            and np.dtype(acc_dtype).itemsize > np.dtype(in_dtype).itemsize)


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


def combine(template: str, acc: str, value: str, dtype=None) -> str:
    """One reduction step from the reduce prim's template ("+" or "max").

    With `dtype` (the accumulator's, a float): the vectorisable step from
    REDUCE_MAP, for a running accumulator in a loop."""
    if dtype is not None and np.dtype(dtype).kind == "f" and template in REDUCE_MAP:
        return f"{REDUCE_MAP[template]}({acc}, {value})"
    if template.isidentifier():
        return f"{CALL_MAP.get(template, template)}({acc}, {value})"
    return f"{acc} {template} {value}"
