"""NumPy calls on Tensors: `np.exp(t)`, `np.sum(t, axis=0)` route to tracead.

Users write NumPy-style code; when a NumPy ufunc or function meets a Tensor
it dispatches here (NEP 13 / NEP 18). Known ones become tracead ops
(`numpy_functions` holds the adapters), so they are differentiated and traced
like any other op. Anything else would have to convert the tensor to an
array, which is a wrong answer in two places, so there it is a clear error
naming the NumPy function, the tensor and the user's line:
- an input requires grad: the gradient would be silently dropped;
- a trace is running (`compile`, graph autodiff): the value would be baked
  into the compiled graph as a constant.
Outside those, an eager tensor that needs no gradient converts as
`np.asarray(t)` does and the NumPy result comes back (np.allclose, np.sort).
"""
from __future__ import annotations

import numpy as np

from . import functional as F
from . import state
from .errors import OpTypeError, describe, user_source
from .numpy_functions import FUNCTIONS, METADATA, Unsupported
from . import numpy_functions_more as _more
from .shape_api import NUMPY_FUNCTIONS
from .tensor import Tensor
from .trace.pytree import map_plain, plain_leaves

UFUNCS = {
    np.add: F.add, np.subtract: F.sub, np.multiply: F.mul, np.true_divide: F.div,
    np.negative: F.neg, np.positive: F._lift, np.exp: F.exp, np.log: F.log, np.sqrt: F.sqrt,
    np.tanh: F.tanh, np.absolute: F.abs, np.sign: F.sign, np.maximum: F.maximum,
    np.minimum: F.minimum, np.power: F.pow, np.matmul: F.matmul, np.square: lambda x: F.mul(x, x),
    np.less: F.lt, np.less_equal: F.le, np.greater: F.gt, np.greater_equal: F.ge,
    np.equal: F.eq, np.not_equal: F.ne,
}

UFUNCS.update(_more.UFUNCS)  # sin, floor_divide, isnan, logical_and, ... (numpy_functions_more)
# np.einsum, np.pad, np.roll, ... (shape_api), then cumsum, sort, argmax, prod, std,
# linalg.norm, ... (numpy_functions_more, whose take_along_axis wins)
FUNCTIONS = {**FUNCTIONS, **NUMPY_FUNCTIONS, **_more.FUNCTIONS}

# ufunc.reduce as a tracead reduction (np.add.reduce(t, axis=0)).
REDUCES = {np.add: F.sum, np.maximum: F.max, np.minimum: F.min}


def _refuse(what: str, tensors: list, why: str, fix: str) -> OpTypeError:
    where = user_source(3)
    return OpTypeError(
        f"{what}: tracead has no op for this call, and {why} (input {describe(*tensors[:3])})"
        + (f" at {where}" if where else "") + f". {fix}")


def _convert(what: str, call, args, kwargs):
    """Run the NumPy call on arrays, where that cannot give a wrong answer."""
    tensors = [x for x in plain_leaves((args, kwargs)) if isinstance(x, Tensor)]
    grads = [t for t in tensors if t.requires_grad]
    if grads and state.grad_enabled():
        raise _refuse(what, grads, "the tensor requires grad: converting it to NumPy would "
                      "silently drop the gradient",
                      "Write it with tracead ops, or call .detach().numpy() to leave autodiff "
                      "on purpose")
    if state.current_tracer() is not None:
        raise _refuse(what, tensors, "a compiled function is being traced: converting the tensor "
                      "to NumPy would bake its value into the compiled graph",
                      "Write it with tracead ops, or call .numpy() explicitly (a guarded value "
                      "that re-traces when it changes)")
    args, kwargs = map_plain(lambda x: np.asarray(x) if isinstance(x, Tensor) else x, (args, kwargs))
    return call(*args, **kwargs)


def array_ufunc(self, ufunc, method, *inputs, **kwargs):
    name = f"np.{ufunc.__name__}" if method == "__call__" else f"np.{ufunc.__name__}.{method}"
    if method == "__call__" and not kwargs and ufunc in UFUNCS:
        return UFUNCS[ufunc](*inputs)
    if method == "reduce" and ufunc in REDUCES and len(inputs) == 1 \
            and set(kwargs) <= {"axis", "keepdims"}:
        return REDUCES[ufunc](inputs[0], kwargs.get("axis", 0), kwargs.get("keepdims", False))
    return _convert(name, getattr(ufunc, method), inputs, kwargs)


def _numpy_name(func) -> str:
    module = getattr(func, "__module__", "") or ""
    prefix = "np.linalg" if module.startswith("numpy.linalg") else "np"
    return f"{prefix}.{func.__name__}"


def array_function(self, func, types, args, kwargs):
    if func in METADATA:
        return METADATA[func](*args, **kwargs)
    adapter = FUNCTIONS.get(func)
    if adapter is not None:
        try:
            return adapter(*args, **kwargs)
        except Unsupported as exc:
            return _convert(str(exc), func, args, kwargs)
    return _convert(_numpy_name(func), func, args, kwargs)


# NumPy calls on Tensors (np.exp(t), ndarray + t) dispatch to tracead ops
# from here on; `import tracead` imports this module.
Tensor.__array_ufunc__ = array_ufunc
Tensor.__array_function__ = array_function
