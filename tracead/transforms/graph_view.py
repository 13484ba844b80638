"""`make_graph(f)(*args)`: the graph `compile` would capture, without compiling it.

The jaxpr-like view of a function: it runs `f` once under the tracer (the same
capture `compile` uses, so this is exactly what the passes would receive) and
returns the `Graph`, which prints one line per node with the user's source
line. The outputs are the function's tensor outputs; value guards and
effects that compile would also check are shown by `ta.explain`.
"""
from __future__ import annotations

import functools

from ..ir.graph import Graph
from ..trace.capture import capture


def make_graph(f):
    """`make_graph(f)(*args, **kwargs) -> Graph` (print it, or run it with ir.interpret)."""
    @functools.wraps(f)
    def wrapped(*args, **kwargs) -> Graph:
        cap = capture(f, args, kwargs)
        return cap.graph.replace(outputs=cap.graph.outputs[:cap.n_tensor_outputs])

    return wrapped
