"""Guard keys: what must match for a compiled variant to be reused.

The key of a call is computed once per call from the flattened arguments:
for each tensor its shape, dtype and requires_grad; for each array its shape
and dtype (the np.dtype itself: it hashes faster than its `.str`); each Python
scalar by type and value (floats by bit pattern, so 0.0 and -0.0 differ and a
NaN equals itself); other objects by value when their type defines equality
and hashing, else by identity, which the variant backs with a weak reference
(an id alone can be reused by a new object) and a snapshot of the object's
plain attributes (`object_guards`); plus the argument structure and grad
mode. Variants are found by dict lookup, so checking costs one tuple hash,
not work proportional to the graph.
"""
from __future__ import annotations

import itertools
import numbers
import struct
import types
import weakref

import numpy as np

from ..tensor import Tensor
from ..trace import pytree

_STATIC_TYPES = (bool, int, float, complex, str, bytes, type(None))


def leaf_key(leaf) -> tuple:
    cls = type(leaf)  # exact types first: this runs for every argument of every call
    if cls is np.ndarray:
        return ("array", leaf.shape, leaf.dtype)
    if cls is Tensor or isinstance(leaf, Tensor):
        return ("tensor", leaf.shape, leaf.dtype, leaf.requires_grad)
    if isinstance(leaf, np.ndarray):
        return ("array", leaf.shape, leaf.dtype)
    if cls is float:
        return ("float", "float", _PACK_DOUBLE(leaf))
    if isinstance(leaf, _STATIC_TYPES) or isinstance(leaf, numbers.Number):
        if isinstance(leaf, (float, complex, np.inexact)):
            return ("float", cls.__name__, _bits(leaf))
        return ("scalar", cls.__name__, leaf)
    return _object_key(leaf, cls)


_PACK_DOUBLE = struct.Struct("<d").pack
_NEVER_EQUAL = itertools.count()


def _bits(value) -> bytes:
    """The exact value of a float or complex scalar (sign of zero, NaN payload)."""
    if isinstance(value, np.generic):
        return value.tobytes()
    if isinstance(value, complex):
        return struct.pack("<dd", value.real, value.imag)
    return _PACK_DOUBLE(float(value))


def float_of_key(key: tuple):
    """The scalar a ("float", type name, bits) key stands for (for messages)."""
    bits = key[2]
    if key[1] == "float":
        return struct.unpack("<d", bits)[0]
    if key[1] == "complex":
        return complex(*struct.unpack("<dd", bits))
    return np.frombuffer(bits, dtype=np.dtype(key[1]))[0]


_BY_VALUE: dict[type, bool] = {}


def _compared_by_value(cls) -> bool:
    """Does `cls` define its own equality and hashing (a frozen dataclass, an enum-like
    value class)? Cached per class."""
    known = _BY_VALUE.get(cls)
    if known is None:
        known = _BY_VALUE[cls] = (cls.__eq__ is not object.__eq__
                                  and cls.__hash__ not in (None, object.__hash__))
    return known


def _object_key(leaf, cls) -> tuple:
    if _compared_by_value(cls):
        try:
            hash(leaf)
            return ("static", cls, leaf)
        except TypeError:  # e.g. a frozen dataclass holding a list
            pass
    if cls.__weakrefoffset__:
        return ("object", cls.__name__, id(leaf))
    # No safe way to recognise this object again: never reuse a variant for it.
    return ("unguarded", cls.__name__, next(_NEVER_EQUAL))


_PLAIN_SCALARS = (bool, int, float, complex, str, bytes, type(None), np.generic)
_MAX_SCALAR_LIST = 64
_NOT_STATE = (types.ModuleType, type, types.FunctionType, types.MethodType)


def attributes_key(obj, depth: int = 2) -> tuple:
    """The plain attributes of an object argument (scalars, strings, None, short lists
    and tuples of those; nested plain objects `depth` levels down), so that
    `cfg.scale = 2.0` between calls retraces. Other attributes (dicts, arrays, long
    lists) are not compared: the identity guard covers rebinding them, not mutating them.
    Tensors reached through the object are found again per call (free_inputs.py)."""
    attrs = getattr(obj, "__dict__", None)
    if not isinstance(attrs, dict):
        return ()
    out = []
    for name, value in attrs.items():
        if isinstance(value, _PLAIN_SCALARS):
            out.append((name, leaf_key(value)))
        elif type(value) in (list, tuple) and len(value) <= _MAX_SCALAR_LIST \
                and all(isinstance(v, _PLAIN_SCALARS) for v in value):
            out.append((name, type(value).__name__, tuple(map(leaf_key, value))))
        elif depth > 1 and not isinstance(value, (Tensor, np.ndarray) + _NOT_STATE) \
                and isinstance(getattr(value, "__dict__", None), dict):
            out.append((name, attributes_key(value, depth - 1)))
    return tuple(out)


def object_guards(leaves, keys) -> tuple:
    """(position, weak reference, attributes_key) for each argument guarded by identity."""
    return tuple((i, weakref.ref(leaf), attributes_key(leaf))
                 for i, (leaf, key) in enumerate(zip(leaves, keys)) if key[0] == "object")


def object_guard_failure(guards, leaves) -> str | None:
    """None if every identity-guarded argument is the traced object, unchanged."""
    for position, ref, attrs in guards:
        leaf = leaves[position]
        if ref() is not leaf:
            return (f"argument {position}: a different {type(leaf).__name__} object "
                    f"(the traced one is gone; its id was reused)")
        if attributes_key(leaf) != attrs:
            return f"argument {position}: an attribute of the {type(leaf).__name__} object changed"
    return None


# The key of a Python float argument that is a graph input (scalars.py): any value.
FLOAT_INPUT = ("float input",)


def call_key(leaves, treedef, grad_mode: bool, float_inputs: bool = False,
             static: frozenset = frozenset()) -> tuple:
    """`float_inputs`: plain float leaves (not at a `static` flat position) are graph
    inputs, keyed by type only."""
    if not float_inputs:
        return (treedef, grad_mode, tuple(map(leaf_key, leaves)))
    return (treedef, grad_mode, tuple(FLOAT_INPUT if type(leaf) is float and i not in static
                                      else leaf_key(leaf) for i, leaf in enumerate(leaves)))


_CONTAINERS = (tuple, list, dict)
_FLAT_TREEDEFS: dict[int, tuple] = {}


def positional_key(args: tuple, grad_mode: bool, float_inputs: bool = False) -> tuple | None:
    """`call_key(*pytree.flatten_args(args, {}), grad_mode, float_inputs)` in one pass, for
    the common call with positional leaves only (the args are then the leaves); None when
    an argument is a container."""
    keys = []
    for a in args:
        if type(a) is np.ndarray:
            keys.append(("array", a.shape, a.dtype))
        elif float_inputs and type(a) is float:
            keys.append(FLOAT_INPUT)
        elif isinstance(a, _CONTAINERS):
            return None
        else:
            keys.append(leaf_key(a))
    treedef = _FLAT_TREEDEFS.get(len(args))
    if treedef is None:
        treedef = _FLAT_TREEDEFS[len(args)] = pytree.flatten_args(args, {})[1]
    return (treedef, grad_mode, tuple(keys))


def describe_leaf_key(key: tuple) -> str:
    kind = key[0]
    if key == FLOAT_INPUT:
        return "float (a graph input: any value)"
    if kind == "tensor":
        return f"Tensor {np.dtype(key[2]).name}{list(key[1])}" + (" requires_grad" if key[3] else "")
    if kind == "array":
        return f"ndarray {np.dtype(key[2]).name}{list(key[1])}"
    if kind == "scalar":
        return f"{key[1]} {key[2]!r}"
    if kind == "float":
        return f"{key[1]} {float_of_key(key)!r}"
    if kind == "static":
        return f"{key[1].__name__} {key[2]!r} (compared by ==)"
    if kind == "unguarded":
        return f"{key[1]} object (cannot be recognised again: not weak-referenceable, no __eq__)"
    return f"{key[1]} object (id {key[2]}, held by weak reference)"


def describe_guards(key: tuple) -> list[str]:
    """Human-readable list of the guards a key stands for."""
    treedef, grad_mode, leaves = key
    lines = [f"argument {i}: {describe_leaf_key(k)}" for i, k in enumerate(leaves)]
    lines.append(f"grad mode {'on' if grad_mode else 'off'}")
    return lines


def explain_mismatch(old: tuple, new: tuple) -> str:
    """Name the first guard that differs between two keys, and how."""
    if old[0] != new[0]:
        return "argument structure changed (different nesting of tuples/lists/dicts)"
    if old[1] != new[1]:
        return f"grad mode changed from {'on' if old[1] else 'off'} to {'on' if new[1] else 'off'}"
    for i, (a, b) in enumerate(zip(old[2], new[2])):
        if a == b:
            continue
        if a[0] == b[0] == "tensor" or a[0] == b[0] == "array":
            for what, ia in (("shape", 1), ("dtype", 2), ("requires_grad", 3)):
                if ia < len(a) and a[ia] != b[ia]:
                    va, vb = a[ia], b[ia]
                    if what == "dtype":
                        va, vb = np.dtype(va).name, np.dtype(vb).name
                    return f"argument {i}: {what} changed from {va} to {vb}"
        return f"argument {i}: {describe_leaf_key(a)} -> {describe_leaf_key(b)}"
    return "arguments changed"
