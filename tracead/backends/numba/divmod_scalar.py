"""Floor division, remainder and fmod for generated kernels, as NumPy computes them.

Numba's `//` and `%` on floats differ from NumPy on infinities and signed
zeros (`inf // 3` is nan in NumPy, `1.0 // -inf` is -1.0), and integer
division of the minimum by -1 traps in hardware (NumPy wraps). These follow
NumPy's `npy_divmod` / `npy_floor_divide` / `npy_remainder` line by line:

    mod = fmod(a, b); div = (a - mod) / b
    if mod != 0 and (b < 0) != (mod < 0): mod += b; div -= 1
    else if mod == 0: mod = copysign(0, b)
    floordiv = floor(div), plus 1 if div - floor(div) > 0.5; copysign(0, a / b) if div == 0
    b == 0: floor_divide is a / b, remainder and fmod are fmod(a, b) (nan)

Integers: division by 0 gives 0, and `MIN // -1` wraps to MIN, as NumPy.
The Python bodies are the NumPy fallbacks; inside Numba the overloads apply.
Float constants are built in the operands' own dtype, so float32 stays float32.
"""
from __future__ import annotations

import math

import numpy as np
from numba import types
from numba.extending import overload

__all__ = ["floor_divide_scalar", "remainder_scalar", "fmod_scalar", "VERSION"]
VERSION = "2"  # part of kernel cache keys: Numba's cache does not see this file change


def floor_divide_scalar(a, b):
    """a // b as np.floor_divide."""
    return np.floor_divide(a, b)


def remainder_scalar(a, b):
    """a % b as np.remainder (the sign of b)."""
    return np.remainder(a, b)


def fmod_scalar(a, b):
    """C fmod as np.fmod (the sign of a)."""
    return np.fmod(a, b)


def _float_type(a, b):
    if isinstance(a, types.Float) and isinstance(b, types.Float):
        return np.float32 if a.bitwidth == b.bitwidth == 32 else np.float64
    return np.float64


def _is_float(a, b) -> bool:
    return isinstance(a, types.Float) or isinstance(b, types.Float)


@overload(floor_divide_scalar, jit_options={"fastmath": False})
def _floor_divide(a, b):
    if _is_float(a, b):
        f = _float_type(a, b)
        zero, one, half = f(0), f(1), f(0.5)

        def float_impl(a, b):
            a, b = f(a), f(b)
            if b == zero:
                return a / b
            mod = np.fmod(a, b)
            div = (a - mod) / b
            if mod != zero and (b < zero) != (mod < zero):
                div = div - one
            if div != zero:
                floordiv = np.floor(div)
                if div - floordiv > half:
                    floordiv = floordiv + one
                return floordiv
            return math.copysign(zero, a / b)
        return float_impl

    def int_impl(a, b):
        if b == 0:
            return a - a
        if b == -1:
            return -a  # wraps at MIN, where the hardware division traps
        return np.floor_divide(a, b)
    return int_impl


@overload(remainder_scalar, jit_options={"fastmath": False})
def _remainder(a, b):
    if _is_float(a, b):
        f = _float_type(a, b)
        zero = f(0)

        def float_impl(a, b):
            a, b = f(a), f(b)
            mod = np.fmod(a, b)
            if b == zero:
                return mod
            if mod != zero:
                if (b < zero) != (mod < zero):
                    mod = mod + b
                return mod
            return math.copysign(zero, b)
        return float_impl

    def int_impl(a, b):
        if b == 0 or b == -1:
            return a - a
        return np.remainder(a, b)
    return int_impl


@overload(fmod_scalar, jit_options={"fastmath": False})
def _fmod(a, b):
    if _is_float(a, b):
        f = _float_type(a, b)

        def float_impl(a, b):
            return np.fmod(f(a), f(b))
        return float_impl

    def int_impl(a, b):
        if b == 0 or b == -1:
            return a - a
        mod = np.remainder(a, b)  # Numba's integer np.fmod floors, as np.remainder
        if mod != 0 and (mod < 0) != (a < 0):
            mod = mod - b  # truncated division: the sign of a
        return mod
    return int_impl
