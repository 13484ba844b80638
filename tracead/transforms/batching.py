"""`vmap`: run a function over a batch axis with batching rules, not a loop.

`vmap(f)(*args)` traces `f` once on abstract per-example values (shapes and
dtypes, no data: the same abstract tracer graph-to-graph autodiff uses), then
walks the graph and applies each node to the whole batch with the rule for
its primitive (`batching_rules.py`); nodes whose inputs are all unbatched
run as they are. The batch axis is kept at axis 0 throughout and moved to
`out_axes` at the end. The walk uses ordinary ops, so the result is
differentiable, and vmap composes with `grad` and the other transforms (they
are traced into the per-example graph) and traces into `compile`.

As in JAX, `f` must not look at values (`.item()`, `if x > 0:`): that is an
error here, where a per-example loop would silently specialise.
"""
from __future__ import annotations

import functools

import numpy as np

from .. import lax, state
from ..dispatch import bind
from ..errors import OpError, UnsupportedInCompile
from ..prim import Aval
from ..tensor import Tensor, as_tensor
from ..trace.pytree import PrefixMismatch, broadcast_prefix, tree_flatten, tree_leaves
from ..trace.tracer import Tracer
from . import batching_index_update  # noqa: F401  (registers its rule)
from .batching_rules import rule_for


def _prefix_axes(prefix, tree, where: str) -> list:
    """One axis (int or None) per leaf of `tree`, from a pytree prefix of it."""
    try:
        return broadcast_prefix(prefix, tree, lambda a: a is None or isinstance(a, int), where)
    except PrefixMismatch as e:
        raise OpError(f"vmap: in_axes{e.where} = {e.prefix!r} does not match the argument's "
                      f"structure ({type(e.tree).__name__})") from None


def _leaf_axes(in_axes, args: tuple, kwargs: dict) -> list:
    if isinstance(in_axes, (tuple, list)):
        if len(in_axes) != len(args):
            raise OpError(f"vmap: in_axes has {len(in_axes)} entries but f got {len(args)} "
                          f"positional arguments")
        axes = [a for i, (p, t) in enumerate(zip(in_axes, args))
                for a in _prefix_axes(p, t, f"[{i}]")]
    elif in_axes is None or isinstance(in_axes, int):
        axes = [in_axes] * len(tree_leaves(args))
    else:
        raise OpError(f"vmap: in_axes must be an int, None, or a tuple with one entry per "
                      f"argument, got {in_axes!r}")
    return axes + [0] * len(tree_leaves(kwargs))  # keyword arguments are batched on axis 0


def _move_axis(x: Tensor, source: int, dest: int) -> Tensor:
    perm = [a for a in range(x.ndim) if a != source]
    perm.insert(dest, source)
    return lax.transpose(x, perm)


def _batched_leaves(leaves, axes, paths) -> tuple[list, int]:
    """Batched leaves as tensors with the batch on axis 0, and the batch size."""
    sizes, out = {}, []
    for leaf, axis, path in zip(leaves, axes, paths):
        if axis is None:  # arrays become tensors, as in compile; Python values stay static
            out.append(as_tensor(leaf) if isinstance(leaf, np.ndarray) else leaf)
            continue
        if not isinstance(leaf, (Tensor, np.ndarray, np.generic, int, float, bool)):
            raise OpError(f"vmap: argument {path} is a {type(leaf).__name__}; batched arguments "
                          f"must be tensors or arrays (use in_axes=None for it)")
        t = as_tensor(leaf)
        if not -t.ndim <= axis < t.ndim:
            raise OpError(f"vmap: in_axes {axis} is out of range for argument {path} of shape "
                          f"{t.shape}")
        axis %= t.ndim
        sizes[path] = t.shape[axis]
        out.append(_move_axis(t, axis, 0) if axis else t)
    if not sizes:
        raise OpError("vmap: no argument is batched (every in_axes is None)")
    if len(set(sizes.values())) > 1:
        listed = ", ".join(f"argument {p}: {n}" for p, n in sizes.items())
        raise OpError(f"vmap: batched arguments have different sizes along their in_axes ({listed})")
    return out, next(iter(sizes.values()))


class _ExampleTracer(Tracer):
    """The abstract tracer of one example; writes to tensors are refused before they
    happen (an abstract value written into a real tensor would erase its data)."""

    def mutate(self, target, new) -> None:
        raise UnsupportedInCompile("vmap: f must not write to tensors (assign_); return the "
                                   "new values instead")

    def write_grad(self, owner, value) -> None:
        raise UnsupportedInCompile("vmap: f must not set .grad; return the gradients instead")


def _trace_one_example(f, leaves, axes, treedef):
    """f on abstract per-example values -> (graph, input values, out treedef)."""
    tracer = _ExampleTracer(concrete=False)
    call_leaves, inputs = [], []
    with state.tracing(tracer):
        for position, (leaf, axis) in enumerate(zip(leaves, axes)):
            if isinstance(leaf, Tensor):
                shape = leaf.shape[1:] if axis is not None else leaf.shape
                example = Tensor._from_op(None, Aval(tuple(shape), leaf.dtype))
                # As the real value does: a transform inside f then differentiates it in
                # place for an outer level instead of detaching it (a stop_gradient node).
                example.requires_grad = leaf.requires_grad
                tracer.add_input(example, position)
                inputs.append((leaf, axis is not None))
                call_leaves.append(example)
            else:
                call_leaves.append(leaf)  # Python values: static
        args, kwargs = treedef.unflatten(call_leaves)
        try:
            result = f(*args, **kwargs)
        except UnsupportedInCompile as exc:
            if str(exc).startswith("vmap:"):
                raise
            raise UnsupportedInCompile(f"vmap: f looked at a value ({exc}); vmap traces f once "
                                       f"for all examples, so its Python control flow must not "
                                       f"depend on values") from None
        out_leaves, out_def = tree_flatten(result)
        out_vars = [tracer.var_of(as_tensor(x)) for x in out_leaves]
    graph = tracer.graph(out_vars)
    inputs += [(t, False) for t, _ in tracer.free]  # closed-over tensors: unbatched
    return graph, inputs, out_def


def _run_batched(graph, inputs, size: int) -> list[tuple[Tensor, bool]]:
    """Each node on the whole batch: (value, batched) per graph output."""
    env = {var.id: value for var, value in zip(graph.inputs, inputs)}
    for vid, value in graph.constants.items():
        env[vid] = (as_tensor(value), False)
    tracer = state.current_tracer()
    hint = tracer.source_hint if tracer is not None else None
    try:
        for node in graph.nodes:
            if tracer is not None:  # an outer trace records the user's line, not ours
                tracer.source_hint = node.source
            env[node.out.id] = _run_node(node, [env[v.id] for v in node.inputs], size)
    finally:
        if tracer is not None:
            tracer.source_hint = hint
    return [env[v.id] for v in graph.outputs]


def _run_node(node, values, size: int) -> tuple[Tensor, bool]:
    args = [v for v, _ in values]
    batched = [b for _, b in values]
    if not any(batched):
        return bind(node.prim, *args, **node.kwargs), False
    out = rule_for(node.prim)(node, args, batched, size)
    expected = (size,) + tuple(node.out.shape)
    if out.shape != expected:
        raise OpError(f"vmap: internal: the {node.prim.name} rule gave shape {out.shape}, "
                      f"expected {expected} (at {node.source})")
    return out, True


def _place_output(value: Tensor, batched: bool, axis, size: int, path: str) -> Tensor:
    if axis is None:
        if batched:
            raise OpError(f"vmap: output{path} depends on the batch but out_axes is None")
        return value
    if not batched:
        value = lax.broadcast_to(value, (size,) + value.shape)
    if not -value.ndim <= axis < value.ndim:
        raise OpError(f"vmap: out_axes {axis} is out of range for output{path} of "
                      f"{value.ndim - 1}-d examples")
    axis %= value.ndim
    return _move_axis(value, 0, axis) if axis else value


def vmap(f, in_axes=0, out_axes=0):
    """Vectorise `f` over an axis of its arguments (JAX semantics).

    `in_axes`: an int, None (not batched), or a tuple with one entry per
    positional argument, each an int/None or a pytree prefix of that argument
    (e.g. `({"w": None, "x": 0},)`). Keyword arguments are batched on axis 0.
    `out_axes`: an int, None, or a pytree prefix of the output.
    """
    @functools.wraps(f)
    def wrapped(*args, **kwargs):
        leaves, treedef = tree_flatten((args, kwargs))
        axes = _leaf_axes(in_axes, args, kwargs)
        paths = [p[3:] if p.startswith("[0]") else f"kwargs{p[3:]}" for p in treedef.paths()]
        batched_leaves, size = _batched_leaves(leaves, axes, paths)
        graph, inputs, out_def = _trace_one_example(f, batched_leaves, axes, treedef)
        results = _run_batched(graph, inputs, size)
        if out_axes is None or isinstance(out_axes, int):
            out_axes_leaves = [out_axes] * len(results)
        else:
            out_axes_leaves = _prefix_axes(out_axes, out_def.unflatten([0] * len(results)), "")
        outs = [_place_output(v, b, a, size, p) for (v, b), a, p
                in zip(results, out_axes_leaves, out_def.paths())]
        return out_def.unflatten(outs)

    return wrapped
