"""tracead: trace-and-compile automatic differentiation on NumPy and Numba.

Public API: `Tensor` and `tensor` (eager, with reverse-mode autograd), the op
functions (`exp`, `matmul`, `softmax`, ...), `no_grad` / `enable_grad`,
JAX-style `grad` / `value_and_grad`, `compile` (trace, optimise, fuse, run as
Numba kernels), `explain` (what the compiler did) and `profile` (what it
bought). `tracead.nn` and `tracead.optim` hold modules and optimizers. The
user guide is in the repository's `docs/` folder.
"""
from . import numpy_interop  # noqa: F401  (np.exp(t) and friends dispatch to tracead)
from .functional import (abs, add, broadcast_to, cast, clip, concatenate, div, exp, expand_dims,
                         gelu, log, log_softmax, logsumexp, matmul, max, maximum, mean, min,
                         minimum, mul, neg, ones, ones_like, pow, relu, reshape, sigmoid, sign,
                         softmax, sqrt, stack, stop_gradient, sub, sum, swapaxes, tanh,
                         transpose, var, where, zeros, zeros_like)
from .creation import *  # noqa: F401,F403  (arange, linspace, eye, full, rand, randn, randint)
from .creation import as_tensor  # torch's (not in __all__: tensor.as_tensor keeps its name below)
from .math_functions import *  # noqa: F401,F403  (sin, floor_divide, isclose, logical_and, ...)
from .math_functions import round
from .norms import *  # noqa: F401,F403
from .reductions import *  # noqa: F401,F403  (prod, std, norm, vector_norm, ...)
from .reductions import all, any
from .scans import *  # noqa: F401,F403  (cumsum, argmax, sort, topk, ...)
from . import creation as _creation
from . import math_functions as _math
from . import norms as _norms
from . import reductions as _reductions
from . import scans as _scans
from .functional import full_like
from .torch_functions import *  # noqa: F401,F403  (cat, unbind, lerp, kthvalue, ...)
from . import torch_functions as _torch_functions
# torch's forms (transpose(x, 0, 1), stack(dim=), cumsum(dim=), sort(dim=), max(x, y)):
from .functional import (add, concatenate, cumprod, cumsum, div, max, mean, min, sort, stack, sub,
                         sum, transpose)
from .errors import CheckError
from .indexing import (gather, index_select, masked_fill, scatter, scatter_add, scatter_reduce,
                       take_along_axis)
from .linalg import (addmm, baddbmm, bmm, cross, dot, einsum, inner, kron, mm, mv, outer,
                     tensordot, vdot)
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

# dtype names, accepted wherever a dtype is (as torch.float32 / np.float32).
float32, float64 = "float32", "float64"
int8, int16, int32, int64, uint8 = "int8", "int16", "int32", "int64", "uint8"
bool = "bool"

__version__ = "0.1.0"

__all__ = sorted(set([
    # tensors and modes
    "Tensor", "tensor", "as_tensor", "no_grad", "enable_grad", "float32", "float64",
    # ops (and below, the math, reduction, scan and creation modules' own lists)
    "abs", "add", "broadcast_to", "cast", "clip", "concatenate", "div", "exp", "expand_dims",
    "gelu", "log", "log_softmax", "logsumexp", "matmul", "max", "maximum", "mean", "min",
    "minimum", "mul", "neg", "ones", "ones_like", "pow", "relu", "reshape", "sigmoid", "sign",
    "softmax", "sqrt", "stack", "stop_gradient", "sub", "sum", "swapaxes", "tanh", "transpose",
    "var", "where", "zeros", "zeros_like", "full_like", "round", "all", "any", "PRIMS",
    # shape, indexing and contraction functions
    "array_split", "chunk", "expand", "flatten", "flip", "meshgrid", "movedim", "moveaxis",
    "permute", "repeat", "repeat_interleave", "roll", "split", "squeeze", "tile", "tril", "triu",
    "unflatten", "unsqueeze", "view", "np_pad", "pad", "gather", "index_select", "masked_fill",
    "scatter", "scatter_add", "scatter_reduce", "take_along_axis", "dot", "einsum", "inner",
    "outer", "tensordot", "vdot", "addmm", "baddbmm", "bmm", "cross", "kron", "mm", "mv",
    # transforms
    "grad", "value_and_grad", "vjp", "jvp", "linearize", "jacfwd", "jacrev", "hessian", "vmap",
    "make_graph",
    # compile and its tools
    "compile", "CompiledFunction", "RecompileWarning", "CheckError", "explain", "profile",
    # pytrees
    "register_dataclass", "register_pytree_node", "tree_flatten", "tree_leaves", "tree_map",
    "tree_structure", "tree_unflatten",
] + _creation.__all__ + _math.__all__ + _reductions.__all__ + _norms.__all__
                     + _torch_functions.__all__
                     + _scans.__all__))
