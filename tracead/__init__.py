"""tracead: trace-and-compile automatic differentiation on NumPy and Numba.

Public API: `Tensor` and `tensor` (eager, with reverse-mode autograd), the op
functions (`exp`, `matmul`, `softmax`, ...), `no_grad` / `enable_grad`,
JAX-style `grad` / `value_and_grad`, `compile` (trace, optimise, fuse, run as
Numba kernels), `explain` (what the compiler did) and `profile` (what it
bought). `tracead.nn` and `tracead.optim` hold modules and optimizers. The
user guide is in the repository's `docs/` folder.
"""
from . import functional  # first: declares the primitive table and Tensor methods
from .functional import (abs, add, broadcast_to, cast, clip, concatenate, div, exp, expand_dims,
                         gelu, log, log_softmax, logsumexp, matmul, max, maximum, mean, min,
                         minimum, mul, neg, ones, ones_like, pow, relu, reshape, sigmoid, sign,
                         softmax, sqrt, stack, stop_gradient, sub, sum, swapaxes, tanh,
                         transpose, var, where, zeros, zeros_like)
from .errors import CheckError
from .indexing import (gather, index_select, masked_fill, scatter, scatter_add, scatter_reduce,
                       take_along_axis)
from .linalg import dot, einsum, inner, outer, tensordot, vdot
from .padding import np_pad, pad
from .shape_functions import (array_split, chunk, expand, flatten, flip, meshgrid, movedim,
                              moveaxis, permute, repeat, repeat_interleave, roll, split, squeeze,
                              tile, tril, triu, unflatten, unsqueeze, view)
from .ops import PRIMS
from .runtime.compiled import CompiledFunction, RecompileWarning, compile
from .state import enable_grad, no_grad
from .tensor import Tensor, tensor
from . import nn, optim  # ta.nn.functional_call, ta.optim.Adam without another import
from .tools.explain import explain
from .tools.profile import profile
from .trace.pytree import (register_dataclass, register_pytree_node, tree_flatten, tree_leaves,
                           tree_map, tree_structure, tree_unflatten)
from .transforms import (grad, hessian, jacfwd, jacrev, jvp, linearize, make_graph,
                         value_and_grad, vjp, vmap)

float32 = "float32"
float64 = "float64"

__version__ = "0.1.0"

# Public names: everything imported above except the submodules.
__all__ = sorted(name for name, value in globals().items()
                 if not name.startswith("_") and not isinstance(value, type(functional)))
