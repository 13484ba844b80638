"""The op rows. Importing this package declares every primitive into `PRIMS`."""
from . import (elementwise, index, index_update, math, matmul, movement, reduce, scan,  # noqa: F401
               sort)  # (registration)
from ..prim import KINDS, PRIMS, Aval, Prim

__all__ = ["PRIMS", "Prim", "Aval", "KINDS"]
