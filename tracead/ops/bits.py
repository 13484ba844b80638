"""Bit operations on integer tensors: and, or, xor, not, left and right shifts.

No gradient (integers carry none). Bool tensors never reach these rows:
`math_functions` keeps `&`, `|`, `^`, `~` on masks as the logical ops
(`~True` is -2 in Python and Numba). Shifts follow NumPy (the shift count
is taken as it is; counts beyond the bit width are undefined in C, NumPy and
torch alike in C; NumPy gives 0 or -1, and the rows run NumPy's shift).
"""
from __future__ import annotations

import numpy as np

from .. import shapes
from ..errors import op_error
from ..prim import Prim, register


def _ints_rule(name: str, arity: int):
    def rule(*xs):
        for x in xs:
            if x.dtype.kind not in "iu":
                raise op_error(name, f"needs integer tensors, got {x.dtype}", *xs, type_error=True)
        return shapes.elementwise(name, *xs)
    return rule


def _bits(name: str, impl, template: str | None, arity: int = 2, **facts) -> Prim:
    kind = "elementwise" if template else "opaque"
    return register(Prim(name, kind, impl, _ints_rule(name, arity), None, template,
                         differentiable=False, arity=arity, pointwise=template is not None,
                         doc=f"integer {name}", **facts))


# one instruction each; and, or, xor are symmetric bit for bit
bitwise_and_p = _bits("bitwise_and", np.bitwise_and, "({0} & {1})", cost=1, commutative=True)
bitwise_or_p = _bits("bitwise_or", np.bitwise_or, "({0} | {1})", cost=1, commutative=True)
bitwise_xor_p = _bits("bitwise_xor", np.bitwise_xor, "({0} ^ {1})", cost=1, commutative=True)
bitwise_not_p = _bits("bitwise_not", np.invert, "(~{0})", arity=1, cost=1)
# Shifts by a negative count or by the bit width or more are 0 (or -1) in NumPy but
# undefined in LLVM, so they run as NumPy calls (one kernel each), not fused.
left_shift_p = _bits("left_shift", np.left_shift, None)
right_shift_p = _bits("right_shift", np.right_shift, None)
