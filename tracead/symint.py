"""Symbolic sizes: ints and floats that remember how they were computed from sizes.

When `compile` traces a variant with dynamic dimensions, those dimensions of the
argument tensors are `SymInt`s: real ints (the traced call's sizes, so every
eager computation of the traced run is unchanged) that also carry an expression
over the size symbols `s0, s1, ...`. Arithmetic keeps the expression
(`x.shape[0] * 2`, `n // 4`, `1 / n` is a `SymFloat`), so shape rules, op
parameters (a reshape's target) and size-derived constants (a mean's `1/N`) can
be re-evaluated for another call's sizes without tracing again (as torch's
SymInt). A comparison (`if x.shape[0] > 8:`, a broadcast check against a static
dim) decides a Python branch: it is recorded as a *size guard* (the outcome must
stay the same) on the active tracer, with the user's line.

Whatever leaves this world (`int(n)`, `len(x)`, `np.prod(shape)`, a NumPy scalar)
is a plain number again; the runtime's safety net (runtime/dynamic.py) notices a
size that escaped and specialises instead of answering wrong.
"""
from __future__ import annotations

import operator

from . import state
from .errors import user_source

# Expressions: ("sym", k) | ("const", value) | (op name, a, b) | ("neg", a).
_BINARY = {"add": operator.add, "sub": operator.sub, "mul": operator.mul,
           "floordiv": operator.floordiv, "mod": operator.mod, "truediv": operator.truediv,
           "max": max, "min": min}
_SYMBOLS = {"add": "+", "sub": "-", "mul": "*", "floordiv": "//", "mod": "%", "truediv": "/"}


def evaluate(expr, sizes):
    """The value of `expr` when symbol k is `sizes[k]`."""
    kind = expr[0]
    if kind == "sym":
        return sizes[expr[1]]
    if kind == "const":
        return expr[1]
    if kind == "neg":
        return -evaluate(expr[1], sizes)
    if kind == "float":
        return float(evaluate(expr[1], sizes))
    return _BINARY[kind](evaluate(expr[1], sizes), evaluate(expr[2], sizes))


def format_expr(expr) -> str:
    kind = expr[0]
    if kind == "sym":
        return f"s{expr[1]}"
    if kind == "const":
        return repr(expr[1])
    if kind == "neg":
        return f"-({format_expr(expr[1])})"
    if kind == "float":
        return f"float({format_expr(expr[1])})"
    if kind == "fill":  # a constant filled with one value, its shape symbolic
        return f"full(<symbolic shape>, {expr[1]!r})"
    if kind == "arange":
        return "arange(<symbolic size>)"
    if kind in ("max", "min"):
        return f"{kind}({format_expr(expr[1])}, {format_expr(expr[2])})"
    return f"({format_expr(expr[1])} {_SYMBOLS[kind]} {format_expr(expr[2])})"


def expr_of(value):
    """The expression of a SymInt/SymFloat, or a constant for a plain number."""
    e = getattr(value, "expr", None)
    return e if e is not None else ("const", value)


def is_symbolic(value) -> bool:
    return type(value) in (SymInt, SymFloat)


def _make(value, expr):
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return SymInt(value, expr)
    if isinstance(value, float):
        return SymFloat(value, expr)
    return value


def _binary(name, swap=False):
    op = _BINARY[name]

    def method(self, other):
        if not isinstance(other, (int, float)):
            return NotImplemented
        a, b = (other, self) if swap else (self, other)
        value = op(a.__base_value__() if is_symbolic(a) else a,
                   b.__base_value__() if is_symbolic(b) else b)
        ea, eb = expr_of(a), expr_of(b)
        # 1 * n, n + 0, ...: the expression stays readable (int constants only: 1.0 * n
        # is a float, n is not).
        if ea[0] == "const" and type(ea[1]) is int and (name, ea[1]) in (("mul", 1), ("add", 0)):
            return _make(value, eb)
        if eb[0] == "const" and type(eb[1]) is int and (name, eb[1]) in (
                ("mul", 1), ("floordiv", 1), ("add", 0), ("sub", 0)):
            return _make(value, ea)
        return _make(value, (name, ea, eb))
    return method


_COMPARE = {"eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le,
            "gt": operator.gt, "ge": operator.ge}


def _compare(name):
    op = _COMPARE[name]

    def method(self, other):
        if not isinstance(other, (int, float)):
            return NotImplemented
        mine, theirs = expr_of(self), expr_of(other)
        a = self.__base_value__()
        b = other.__base_value__() if is_symbolic(other) else other
        outcome = op(a, b)
        if mine != theirs and not _implied(mine, theirs):
            record_guard(SizeGuard(name, mine, theirs, outcome))
        return outcome
    return method


def _implied(a, b) -> bool:
    """A size expression against a constant below its least value: decided by the
    variant's key (every symbol is >= 2), no guard needed (`s0 * 2 == -1`, `n != 0`)."""
    if b[0] == "const" and a[0] != "const":
        least, c = _least(a), b[1]
    elif a[0] == "const" and b[0] != "const":
        least, c = _least(b), a[1]
    else:
        return False
    return least is not None and isinstance(c, (int, float)) and c < least


def _least(expr):
    """The smallest value of `expr` for symbols >= 2, for sums and products of
    symbols and non-negative constants; None when not that simple."""
    kind = expr[0]
    if kind == "sym":
        return 2
    if kind == "const":
        return expr[1] if isinstance(expr[1], (int, float)) and expr[1] >= 0 else None
    if kind == "sub" and expr[2][0] == "const":
        least = _least(expr[1])
        return None if least is None or not isinstance(expr[2][1], (int, float)) else least - expr[2][1]
    if kind in ("add", "mul"):
        a, b = _least(expr[1]), _least(expr[2])
        if a is None or b is None:
            return None
        return a + b if kind == "add" else a * b
    return None


class SizeGuard:
    """A comparison of sizes Python made while tracing: later sizes must give the same outcome."""

    __slots__ = ("op", "left", "right", "outcome", "source")

    def __init__(self, op, left, right, outcome, source=None) -> None:
        self.op, self.left, self.right, self.outcome, self.source = op, left, right, outcome, source

    def holds(self, sizes) -> bool:
        try:
            return _COMPARE[self.op](evaluate(self.left, sizes), evaluate(self.right, sizes)) == self.outcome
        except ArithmeticError:
            return False

    def describe(self) -> str:
        ops = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
        negated = {"eq": "ne", "ne": "eq", "lt": "ge", "ge": "lt", "le": "gt", "gt": "le"}
        op = self.op if self.outcome else negated[self.op]  # the statement that held
        text = f"{format_expr(self.left)} {ops[op]} {format_expr(self.right)}"
        return f"size guard: {text}" + (f" (at {self.source})" if self.source else "")

    def key(self) -> tuple:
        if self.op in ("eq", "ne"):  # a == b and b == a are one guard
            return (self.op, *sorted((self.left, self.right), key=repr), self.outcome)
        return (self.op, self.left, self.right, self.outcome)


def record_guard(guard: SizeGuard) -> None:
    """Onto the innermost dynamic-shape trace (an inner tracer, e.g. of a transform, has none)."""
    sink = next((t.size_guards for t in reversed(state.STATE.tracers)
                 if getattr(t, "size_guards", None) is not None), None)
    if sink is None:
        return
    if guard.key() not in sink:
        guard.source = user_source(2)
        sink[guard.key()] = guard


class _SymArithmetic:
    """The operators SymInt and SymFloat share: arithmetic keeps the expression,
    comparisons become size guards."""

    __slots__ = ()
    __add__, __radd__ = _binary("add"), _binary("add", swap=True)
    __sub__, __rsub__ = _binary("sub"), _binary("sub", swap=True)
    __mul__, __rmul__ = _binary("mul"), _binary("mul", swap=True)
    __truediv__, __rtruediv__ = _binary("truediv"), _binary("truediv", swap=True)
    __eq__, __ne__ = _compare("eq"), _compare("ne")
    __lt__, __le__ = _compare("lt"), _compare("le")
    __gt__, __ge__ = _compare("gt"), _compare("ge")

    def __new__(cls, value, expr):
        self = super().__new__(cls, value)
        self.expr = expr
        return self

    def __neg__(self):
        return type(self)(-self.__base_value__(), ("neg", self.expr))


class SymInt(_SymArithmetic, int):
    """An int that is a function of the size symbols (see the module docstring)."""

    def __base_value__(self) -> int:
        return int.__int__(self)

    __floordiv__, __rfloordiv__ = _binary("floordiv"), _binary("floordiv", swap=True)
    __mod__, __rmod__ = _binary("mod"), _binary("mod", swap=True)

    def __pos__(self):
        return self

    def __hash__(self) -> int:
        return int.__hash__(self)

    def __bool__(self) -> bool:
        return self != 0

    def __repr__(self) -> str:
        return repr(self.__base_value__())

    __str__ = __repr__

    def __reduce__(self):  # pickles (cache keys, worker processes) as the plain value
        return (int, (self.__base_value__(),))


class SymFloat(_SymArithmetic, float):
    """A float computed from sizes (`1 / n`): a constant re-evaluated per call's sizes."""

    def __base_value__(self) -> float:
        return float.__float__(self)

    def __hash__(self) -> int:
        return float.__hash__(self)

    def __repr__(self) -> str:
        return repr(self.__base_value__())

    __str__ = __repr__

    def __reduce__(self):
        return (float, (self.__base_value__(),))


def sizes_of(shape) -> tuple:
    """A shape as a tuple of ints, symbolic sizes kept (`int(s)` would drop the expression)."""
    return tuple(s if type(s) is SymInt else int(s) for s in shape)


def substitute(value, sizes):
    """`value` (a param: nested tuples of numbers, SymInts, strings...) at other sizes."""
    if is_symbolic(value):
        return evaluate(value.expr, sizes)
    if type(value) is tuple:
        return tuple(substitute(v, sizes) for v in value)
    return value


def concrete(value):
    """`value` with every SymInt/SymFloat replaced by its plain number."""
    if is_symbolic(value):
        return value.__base_value__()
    if type(value) is tuple:
        return tuple(concrete(v) for v in value)
    return value


def has_symbols(value) -> bool:
    if is_symbolic(value):
        return True
    if type(value) is tuple:
        return any(has_symbols(v) for v in value)
    return False
