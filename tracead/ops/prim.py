"""Compatibility path: the `Prim` type and the table live in `tracead.prim`
(the bottom layer, importable without declaring any op)."""
from ..prim import KINDS, PRIMS, Aval, Prim, Shaped, register  # noqa: F401
