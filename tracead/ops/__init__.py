"""The op rows. Importing this package declares every primitive into `PRIMS`."""
from . import elementwise, index, index_update, matmul, movement, reduce  # noqa: F401  (registration)
from ..prim import KINDS, PRIMS, Aval, Prim

__all__ = ["PRIMS", "Prim", "Aval", "KINDS"]
