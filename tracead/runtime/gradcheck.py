"""`check="grad"`: compiled gradients against central finite differences.

For the floating arguments x_i of a call and a random cotangent ct per
floating output, h(x) = sum_k <ct_k, f(x)_k>. The gradient of h is computed by
compiling `value_and_grad(h)` with the same backend and options (so it runs
the compiler's joint forward+backward graph), and each <dh/dx_i, v> for a
random direction v is compared with (h(x + eps v) - h(x - eps v)) / 2 eps,
evaluated eagerly. Meant for the small inputs of a debugging run: it costs a
compile and two eager calls per floating argument.
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from ..trace import pytree

# dtype -> (eps, rtol)
_STEPS = {np.dtype(np.float32): (3e-3, 3e-2), np.dtype(np.float64): (1e-6, 1e-5)}


def _is_float(leaf) -> bool:
    return isinstance(leaf, (Tensor, np.ndarray)) and leaf.dtype.kind == "f"


def check_gradients(compiled, args, kwargs) -> str | None:
    """None when every floating argument's gradient matches finite differences, else why."""
    from .. import transforms
    from .compiled import CompiledFunction

    leaves, treedef = pytree.flatten_args(args, kwargs)
    positions = [i for i, leaf in enumerate(leaves) if _is_float(leaf)]
    if not positions:
        return None
    values = [np.array(leaves[i]._data if isinstance(leaves[i], Tensor) else leaves[i]) for i in positions]
    outputs = _float_outputs(compiled.fn, treedef, leaves, positions, [Tensor(v) for v in values])
    if not outputs:
        return None
    rng = np.random.default_rng(0)
    cts = [rng.standard_normal(o.shape).astype(o.dtype) for o in outputs]

    def h(*xs):
        total = None
        for o, ct in zip(_float_outputs(compiled.fn, treedef, leaves, positions, xs), cts):
            term = (o * Tensor(ct)).sum()
            total = term if total is None else total + term
        return total

    options = {k: v for k, v in compiled.options.items() if k not in ("check", "check_calls")}
    options["check"] = False
    gradient = CompiledFunction(transforms.value_and_grad(h, tuple(range(len(positions)))),
                                compiled.backend_name, **options)
    inputs = [Tensor(v) for v in values]
    gradient(*inputs)  # traces
    h_value, grads = gradient(*inputs)
    if gradient.stats["hits"] < 1:
        return None  # could not be compiled (ran eagerly): nothing compiled to check
    problems = []
    for pos, x, g in zip(positions, values, grads):
        eps, rtol = _STEPS.get(x.dtype, _STEPS[np.dtype(np.float64)])
        v = rng.standard_normal(x.shape).astype(x.dtype)
        reverse = float(np.vdot(np.asarray(g._data, np.float64), v.astype(np.float64)))
        plus = h(*[Tensor(x + eps * v) if p == pos else Tensor(y) for p, y in zip(positions, values)])
        minus = h(*[Tensor(x - eps * v) if p == pos else Tensor(y) for p, y in zip(positions, values)])
        numeric = (float(plus.item()) - float(minus.item())) / (2 * eps)
        roundoff = np.finfo(x.dtype).eps * abs(float(h_value.item())) / eps
        if not abs(reverse - numeric) <= rtol * (1 + abs(numeric)) + 10 * roundoff:
            problems.append(f"gradient of argument {pos} ({x.dtype}{list(x.shape)}): compiled "
                            f"<grad, v> = {reverse!r}, central finite differences give {numeric!r} "
                            f"(eps={eps})")
    return "\n".join(problems) or None


def _float_outputs(fn, treedef, leaves, positions, xs) -> list:
    """The floating tensor outputs of fn with the floating arguments replaced by xs."""
    call = list(leaves)
    for p, x in zip(positions, xs):
        call[p] = x
    call_args, call_kwargs = pytree.unflatten(treedef, call)
    with np.errstate(all="ignore"):
        out = fn(*call_args, **call_kwargs)
    return [o for o in pytree.flatten(out)[0] if isinstance(o, Tensor) and o.dtype.kind == "f"]
