"""The user layer's public face: every user function, and the Tensor methods.

`basic_functions` (elementwise, reductions, composites, movement), the
shape, padding, indexing and contraction modules built on it, all gathered
here as `tracead.functional`; the Tensor methods and operators are attached
at the bottom from these functions, so no op is written twice. (The
primitive layer below, `tracead.lax`, has one function per primitive.)
"""
from __future__ import annotations

import sys

from . import autograd, shape_api, tensor_api, torch_api
from .basic_functions import *  # noqa: F401,F403
from .basic_functions import _lift, _pair  # noqa: F401  (used by the NumPy adapters)
from .basic_functions import (abs, add, div, eq, ge, getitem, gt, le, lt, matmul, mul, ne, neg,
                              pow, reshape, stop_gradient, sub, transpose)
from .creation import *  # noqa: F401,F403
from .indexing import *  # noqa: F401,F403
from .linalg import *  # noqa: F401,F403
from .math_functions import *  # noqa: F401,F403
from .padding import *  # noqa: F401,F403
from .norms import *  # noqa: F401,F403
from .reductions import *  # noqa: F401,F403
from .scans import *  # noqa: F401,F403
from .shape_functions import *  # noqa: F401,F403
from .tensor import Tensor
from .torch_functions import *  # noqa: F401,F403


def detach(x) -> Tensor:
    """A tensor with the same value that is cut from the autograd graph."""
    return stop_gradient(x)


# -- Tensor methods and operators, generated from the functions above ----------------
def _install_methods() -> None:
    methods = ("exp log sqrt tanh sigmoid relu abs sign sum mean max min var logsumexp "
               "softmax log_softmax gelu clip transpose swapaxes broadcast_to matmul "
               "maximum minimum cast astype").split()
    g = globals()
    for name in methods:
        setattr(Tensor, name, g[name])
    def reshape_method(self, *shape) -> Tensor:
        """This tensor with a new shape: `t.reshape(2, 3)` or `t.reshape((2, 3))`."""
        return reshape(self, *shape)

    Tensor.reshape = reshape_method
    Tensor.pow = pow
    Tensor.T = property(lambda self: transpose(self), doc="The transpose (axes reversed), like `ndarray.T`.")
    dunders = {"add": add, "sub": sub, "mul": mul, "truediv": div, "pow": pow, "matmul": matmul}
    for name, fn in dunders.items():
        setattr(Tensor, f"__{name}__", fn)
        setattr(Tensor, f"__r{name}__", lambda self, other, fn=fn: fn(other, self))
    for name, fn in {"lt": lt, "le": le, "gt": gt, "ge": ge, "eq": eq, "ne": ne}.items():
        setattr(Tensor, f"__{name}__", fn)
    Tensor.__neg__ = neg
    Tensor.__pos__ = lambda self: self
    Tensor.__abs__ = abs
    Tensor.__getitem__ = getitem
    Tensor.backward = autograd.backward
    Tensor.detach = detach


_install_methods()
tensor_api.install(sys.modules[__name__])  # wraps this module's sum, mean, max, ... for dim=
shape_api.install()
torch_api.install(sys.modules[__name__])  # torch's argument forms and remaining methods
