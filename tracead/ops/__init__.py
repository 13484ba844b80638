"""The op rows. Importing this package declares every primitive into `PRIMS`."""
from . import (bits, elementwise, index, index_update, linalg, math, matmul, movement,  # noqa: F401
               random, reduce, scan, sort, window, window_max)  # (registration)
from ..prim import KINDS, PRIMS, Aval, Prim

__all__ = ["PRIMS", "Prim", "Aval", "KINDS"]
