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


# Shape rules of these kinds read only shapes, dtypes and params, so their result
# is reused for the next call with the same ones (eager loops repeat them).
_CACHED_KINDS = frozenset({"elementwise", "reduce", "movement"})
_AVALS: dict = {}
_MAX_AVALS = 4096


def _aval(prim: Prim, inputs: tuple, params: dict):
    if prim.kind not in _CACHED_KINDS:
        return prim.shape_rule(*inputs, **params)
    if len(inputs) == 2 and not params:  # binary elementwise: most eager ops
        a, b = inputs[0]._aval, inputs[1]._aval
        key = (prim.name, a.shape, a.dtype, b.shape, b.dtype)
    else:
        key = [prim.name]
        for t in inputs:
            aval = t._aval
            key.append(aval.shape)
            key.append(aval.dtype)
        if params:
            key.append(tuple([(k, _typed(v)) for k, v in params.items()]))
        key = tuple(key)
    try:
        hit = _AVALS.get(key)
    except TypeError:  # an unhashable param
        return prim.shape_rule(*inputs, **params)
    if hit is not None and hit[0] is prim:
        return hit[1]
    aval = prim.shape_rule(*inputs, **params)
    if len(_AVALS) >= _MAX_AVALS:
        _AVALS.clear()
    _AVALS[key] = (prim, aval)
    return aval


def _typed(value):
    """A param as a cache key: 2, 2.0 and np.float64(2.0) are equal but type results apart."""
    if type(value) is tuple:
        return tuple([_typed(v) for v in value])
    return (type(value), value)


def bind(prim: Prim, *args, **params) -> Tensor:
    if not state.STATE.tracers:  # eager mode's hot path: only what it must do
        inputs = tuple([a if isinstance(a, Tensor) else as_tensor(a, op=prim.name) for a in args])
        aval = _aval(prim, inputs, params)
        out = Tensor._from_op(prim.apply([t._data for t in inputs], params, aval), aval)
        if prim.differentiable and state.STATE.grad_enabled:
            for t in inputs:
                if t.requires_grad:
                    out.requires_grad = True
                    out._tape = TapeNode.single(prim, inputs, params, out)
                    break
        return out
    tracer = state.current_tracer()
    inputs = tuple(as_tensor(a, op=prim.name) for a in args)
    if params:
        params = plain_params(params)
    aval = prim.shape_rule(*inputs, **params)
    data = prim.apply([t._data for t in inputs], params, aval) if tracer.concrete else None
    out = Tensor._from_op(data, aval)
    if (prim.differentiable and state.STATE.grad_enabled
            and any(t.requires_grad for t in inputs)):
        out.requires_grad = True
        out._tape = TapeNode.single(prim, inputs, params, out)
    node = tracer.record(prim, inputs, params, out)
    if out._tape is not None:
        out._tape.source = node.source  # gradients of this op point back here
    return out
