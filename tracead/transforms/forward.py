"""Forward mode: `linearize`, `jvp`.

Forward mode is built on the reverse-mode rules by the double-vjp trick
(transposing a linear map twice), not on JVP rules: the primitive table has
one derivative rule per primitive, its VJP, and a second table of JVP rules
would be a second source of truth to keep in sync. For a dummy cotangent `u`,
`g(u) = vjp(u) = u^T J` is linear in `u`; recording it (create_graph) and
differentiating `<g(u), t>` with respect to `u` gives `J t`. The forward pass
and the first backward run once per `linearize`; each tangent then costs one
backward pass over the part of the recorded backward graph that depends on
`u` (everything else is cut off with `stop_at`, so no second-order work is
done). Inside `compile` every step
is traced into the same graph; the dummy cotangent is a zero constant that
only feeds dead nodes, which DCE removes. Everything runs on the tape, so
forward mode composes with `grad` and with reverse mode (`hessian = jacfwd(jacrev)`).
"""
from __future__ import annotations

import numpy as np

from .. import state
from ..autograd import run_backward
from ..errors import OpError
from ..tape import topological_nodes
from ..tensor import Tensor
from ..trace.pytree import tree_flatten
from .primals import check_like, differentiating, make_primals, output_leaves, release, split_aux
from .reverse import _zeros_where_none


def _independent_of(roots: list[Tensor], sources: list[Tensor]) -> list[Tensor]:
    """Tensors computed on the tape behind `roots` whose value does not depend on `sources`."""
    depends = {id(t) for t in sources}
    independent = []
    for node in topological_nodes(roots):
        outs = [o for o in (ref() for ref in node.outputs) if o is not None]
        if any(id(t) in depends for t in node.inputs):
            depends.update(id(o) for o in outs)
        else:
            independent += outs
    return independent


def _linearize(f, primals: tuple, has_aux: bool, who: str):
    """(out, jvp_fn, aux, Primals) with the first backward already recorded."""
    args = list(primals)
    diff = make_primals(args, tuple(range(len(args))), who)
    with differentiating():
        result = f(*args)
    out, aux = split_aux(result, has_aux, who)
    outs, out_def = output_leaves(out, who)
    diff_outs = [o for o in outs if o.requires_grad]
    dummies = [Tensor(np.zeros(o.shape, o.dtype), requires_grad=True) for o in diff_outs]
    if diff_outs:
        cts, _ = run_backward(diff_outs, dummies, True, stop_at=diff.leaves)
        transposed = [cts.get(id(w)) for w in diff.leaves]
    else:
        transposed = [None] * len(diff.leaves)
    # The tangent pass differentiates only what depends on the dummies: the forward
    # values and the backward's u-independent parts (1 - tanh^2, ...) are cut off.
    roots = [g for g in transposed if g is not None]
    stop = dummies + _independent_of(roots, dummies) + diff.leaves

    def jvp_fn(*tangents):
        if len(tangents) != len(diff.treedefs):
            raise OpError(f"{who}: {len(tangents)} tangents for {len(diff.treedefs)} primals")
        flat = []
        for i, (tangent, treedef) in enumerate(zip(tangents, diff.treedefs)):
            leaves, t_def = tree_flatten(tangent)
            start = sum(d.num_leaves for d in diff.treedefs[:i])
            flat += check_like(who, f"tangent {i}", leaves,
                               diff.leaves[start:start + treedef.num_leaves], treedef, t_def)
        create = diff.nested or (state.grad_enabled() and any(t.requires_grad for t in flat))
        roots = [(g, t) for g, t in zip(transposed, flat) if g is not None and g.requires_grad]
        cts = {}
        if roots:
            cts, _ = run_backward([g for g, _ in roots], [t for _, t in roots], create,
                                  stop_at=stop)
        by_output = {id(o): cts.get(id(u)) for o, u in zip(diff_outs, dummies)}
        return out_def.unflatten(_zeros_where_none([by_output.get(id(o)) for o in outs], outs))

    return release(out, diff.nested), jvp_fn, release(aux, diff.nested), diff


def linearize(f, *primals, has_aux: bool = False):
    """`out, jvp_fn = linearize(f, *primals)`; `jvp_fn(*tangents)` is J @ tangents."""
    out, jvp_fn, aux, _ = _linearize(f, primals, has_aux, "linearize")
    return (out, jvp_fn, aux) if has_aux else (out, jvp_fn)


def jvp(f, primals, tangents, has_aux: bool = False):
    """`(f(*primals), J @ tangents)`; primals and tangents are tuples of matching pytrees."""
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise OpError(f"jvp: primals and tangents must be tuples or lists (one entry per "
                      f"argument of f), got {type(primals).__name__} and {type(tangents).__name__}")
    if len(primals) != len(tangents):
        raise OpError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    out, jvp_fn, aux, _ = _linearize(f, tuple(primals), has_aux, "jvp")
    tangent_out = jvp_fn(*tangents)
    return (out, tangent_out, aux) if has_aux else (out, tangent_out)
