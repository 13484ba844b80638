"""tracead: trace-and-compile automatic differentiation on NumPy and Numba.

Public API (see SPEC.md): Tensor, tensor, the op functions, no_grad,
grad / value_and_grad, compile, explain, profile.
"""
from . import functional  # first: declares the primitive table and Tensor methods
from .functional import (abs, add, broadcast_to, cast, clip, concatenate, div, exp, expand_dims,
                         gelu, log, log_softmax, logsumexp, matmul, max, maximum, mean, min,
                         minimum, mul, neg, ones, ones_like, pow, relu, reshape, sigmoid, sign,
                         softmax, sqrt, stack, stop_gradient, sub, sum, swapaxes, tanh,
                         transpose, var, where, zeros, zeros_like)
from .errors import CheckError
from .ops import PRIMS
from .runtime.compiled import CompiledFunction, RecompileWarning, compile
from .state import enable_grad, no_grad
from .tensor import Tensor, tensor
from .tools.explain import explain
from .tools.profile import profile
from .transforms import grad, value_and_grad

float32 = "float32"
float64 = "float64"

__version__ = "0.1.0"

__all__ = [name for name in dir() if not name.startswith("_")]
