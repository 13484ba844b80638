"""`bind`: the one dispatch point every op goes through.

Eager mode runs the primitive's NumPy `impl` (through `Prim.apply`, as every
stage does) and, when gradients are wanted, puts a tape entry on the output. When a tracer is active the same call is also
recorded as a graph node; an abstract tracer (graph-to-graph autodiff) skips
`impl` and propagates shapes and dtypes only. No op has separate eager and
traced versions.
"""
from __future__ import annotations

from . import state
from .prim import Prim
from .tape import TapeNode
from .tensor import Tensor, as_tensor
from .trace.scalars import plain_params


def bind(prim: Prim, *args, **params) -> Tensor:
    inputs = tuple(as_tensor(a, op=prim.name) for a in args)
    tracer = state.current_tracer()
    if tracer is not None and params:
        params = plain_params(params)
    aval = prim.shape_rule(*inputs, **params)
    if tracer is not None and not tracer.concrete:
        data = None
    else:
        data = prim.apply([t._data for t in inputs], params, aval)
    out = Tensor._from_op(data, aval)
    if (prim.differentiable and state.STATE.grad_enabled
            and any(t.requires_grad for t in inputs)):
        out.requires_grad = True
        out._tape = TapeNode.single(prim, inputs, params, out)
    if tracer is not None:
        node = tracer.record(prim, inputs, params, out)
        if out._tape is not None:
            out._tape.source = node.source  # gradients of this op point back here
    return out
