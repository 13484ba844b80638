"""Which node sets may form one kernel, and of which kind (see schedule.py).

`classify(group, nodes, needed_outside)` returns (kind, shape) for a legal
group, or a string saying why it is not one; `fuse.py` uses the string as the
`reason` a kernel ends where it does.

Recomputation rule: no node is ever duplicated (kernels partition the graph),
so a value used by several kernels is computed once and materialised. Inside
one elementwise or reduce kernel a node of a smaller shape than the kernel's
(a broadcast operand) may be evaluated once per element by a simple loop
generator; we allow that only for cheap ops (`Prim.cheap`: cost <= 1), so an exp
or a divide on a row vector gets its own small kernel instead of running once
per element.
Row-shaped values in row-wise kernels are computed once per row: no limit.
"""
from __future__ import annotations

import functools
import math

import numpy as np

def _shape(shape) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


def _size(shape) -> int:
    return math.prod(shape)  # np.prod builds an array first, and the planner asks often


def nbytes_of(var) -> int:
    return math.prod(var.shape) * np.dtype(var.dtype).itemsize


def is_pointwise(node) -> bool:
    """Ops a loop over the kernel's iteration space evaluates per element."""
    return node.prim.pointwise


def single_kind(node) -> tuple[str, tuple]:
    if is_pointwise(node):
        return "elementwise", node.out.shape
    if node.prim.kind == "reduce":
        return "reduce", node.inputs[0].shape
    if node.prim.kind == "matmul":
        return "matmul", node.out.shape
    return "opaque", node.out.shape


@functools.lru_cache(maxsize=4096)
def broadcast(a: tuple, b: tuple) -> tuple | None:
    """np.broadcast_shapes of two shapes, None if they do not broadcast (cached: the
    planner asks for the same few pairs of shapes thousands of times)."""
    try:
        return tuple(np.broadcast_shapes(a, b))
    except ValueError:
        return None


def _fits(shape, space) -> bool:
    return broadcast(tuple(shape), tuple(space)) == tuple(space)


def _pointwise_body(body, outs, space, kind) -> str | None:
    """Checks shared by elementwise kernels and reduce prologues."""
    for n in body:
        if not is_pointwise(n):
            return f"{n.prim.name} is not elementwise"
        if not _fits(n.out.shape, space):
            return f"{n.prim.name} {_shape(n.out.shape)} does not broadcast to {_shape(space)}"
        if n.out.id in outs and n.out.shape != tuple(space):
            return (f"{n.prim.name} {_shape(n.out.shape)} is needed by a later kernel at a "
                    f"smaller shape than the {kind} space {_shape(space)}")
        if _size(n.out.shape) < _size(space) and not n.prim.cheap:
            return (f"{n.prim.name} {_shape(n.out.shape)} would be recomputed per element of "
                    f"{_shape(space)}")
    return None


def _rowwise(group, reduces) -> tuple | str:
    space = reduces[0].inputs[0].shape
    for r in reduces:
        axes, x = r.kwargs["axes"], r.inputs[0]
        if x.ndim == 0 or axes != (x.ndim - 1,) or not r.kwargs["keepdims"]:
            return f"{r.prim.name} over axes {axes} keepdims={r.kwargs['keepdims']} is not row-wise"
        if x.shape != space:
            return f"reductions over {_shape(space)} and {_shape(x.shape)} rows differ"
    row = space[:-1] + (1,)
    for n in group:
        if n.prim.kind != "reduce" and not is_pointwise(n):
            return f"{n.prim.name} is not elementwise"
        if n.out.shape not in (space, row):
            return f"{n.prim.name} {_shape(n.out.shape)} is neither a row nor {_shape(space)}"
    return "rowwise", space


def _matmul(group, mms, reduces) -> tuple | str:
    if len(mms) > 1:
        return "a kernel holds one matmul (a BLAS call)"
    mm = mms[0]
    if any(v.id in {n.out.id for n in group} for v in mm.inputs):
        return "a matmul (a BLAS call) starts its kernel: it takes no prologue"
    if reduces:
        return f"a matmul kernel takes an elementwise epilogue only, not {reduces[0].prim.name}"
    reached = {mm.out.id}
    for n in group:  # topological order
        if n is mm:
            continue
        if n.prim.kind != "elementwise":
            return f"{n.prim.name} is not an elementwise epilogue of the matmul"
        if n.out.shape != mm.out.shape:
            return f"{n.prim.name} {_shape(n.out.shape)} is not of the matmul's shape"
        if not any(v.id in reached for v in n.inputs):
            return f"{n.prim.name} does not consume the matmul (a matmul kernel starts with it)"
        reached.add(n.out.id)
    return "matmul", mm.out.shape


def classify(group, outs) -> tuple | str:
    """group: nodes in topological order; outs: ids of values needed outside it."""
    if len(group) == 1:
        return single_kind(group[0])
    for n in group:
        if single_kind(n)[0] == "opaque":
            return f"{n.prim.name} is not fusible ({n.prim.kind} op)"
    reduces = [n for n in group if n.prim.kind == "reduce"]
    mms = [n for n in group if n.prim.kind == "matmul"]
    if mms:
        return _matmul(group, mms, reduces)
    if not reduces:
        try:
            space = tuple(np.broadcast_shapes(*(n.out.shape for n in group)))
        except ValueError:
            return "shapes do not broadcast"
        problem = _pointwise_body(group, outs, space, "elementwise")
        return problem if problem else ("elementwise", space)
    inner = {v.id for n in group for v in n.inputs}
    if len(reduces) == 1 and reduces[0].out.id not in inner:  # one reduction, nothing after it
        r = reduces[0]
        body = [n for n in group if n is not r]
        problem = _pointwise_body(body, outs, r.inputs[0].shape, "reduction's input")
        if problem is None:
            return "reduce", r.inputs[0].shape
        rowwise = _rowwise(group, reduces)
        return rowwise if isinstance(rowwise, tuple) else problem
    return _rowwise(group, reduces)


# -- incremental checks for the planner ---------------------------------------------
def merge_pointwise(space_a: tuple, space_b: tuple, members_a, members_b, needed_outside) -> tuple | str:
    """`classify` of the union of two groups of pointwise nodes, incrementally: the
    union's space, or the reason `classify` would give. Planning a chain by calling
    `classify` on every union was quadratic; this is O(1) amortised.

    Only nodes of a shape smaller than the space can be rejected (`_pointwise_body`).
    A side whose space equals the union's needs no check: its nodes passed against
    that space, and the union only has fewer readers outside than the side had. A
    side whose space grows is rescanned (members_*(): its (index, node) pairs); spaces
    only grow, a few times at most, so each node is rescanned a bounded number of times.
    needed_outside(index): is that node's value read outside the union."""
    space = broadcast(space_a, space_b)
    if space is None:
        return "shapes do not broadcast"
    fresh = []
    for side, members in ((space_a, members_a), (space_b, members_b)):
        if side != space:
            fresh += [(i, n) for i, n in members() if tuple(n.out.shape) != space]
    size = _size(space)
    for i, n in sorted(fresh, key=lambda pair: pair[0]):  # classify's order: topological
        if needed_outside(i):
            return (f"{n.prim.name} {_shape(n.out.shape)} is needed by a later kernel at a "
                    f"smaller shape than the elementwise space {_shape(space)}")
        if _size(n.out.shape) < size and not n.prim.cheap:
            return f"{n.prim.name} {_shape(n.out.shape)} would be recomputed per element of {_shape(space)}"
    return space
