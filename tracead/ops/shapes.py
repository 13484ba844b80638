"""Compatibility path: the shared shape rules live in `tracead.shapes`."""
from ..shapes import *  # noqa: F401,F403
from ..shapes import FLOAT_DTYPES  # noqa: F401
