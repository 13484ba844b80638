"""The primitive table. Importing this package declares every primitive."""
from . import elementwise, index, matmul, movement, reduce  # noqa: F401  (registration)
from . import index_update  # noqa: F401,E402  (registration)
from .prim import KINDS, PRIMS, Aval, Prim

__all__ = ["PRIMS", "Prim", "Aval", "KINDS"]
