"""JAX-style function transforms over pytrees of tensors.

reverse.py  grad, value_and_grad, vjp, jacrev    (the eager tape)
forward.py  linearize, jvp, jacfwd, hessian       (double-vjp on the tape)
batching.py vmap                                  (batching rules in batching_rules.py)
graph_view.py  make_graph                          (the captured graph, uncompiled)

All of them take and return pytrees (`tracead.trace.pytree`), nest with each
other, and trace into `ta.compile` like any other Python code.
"""
from .batching import vmap
from .forward import hessian, jacfwd, jvp, linearize
from .graph_view import make_graph
from .reverse import grad, jacrev, value_and_grad, vjp

__all__ = ["grad", "value_and_grad", "vjp", "jacrev", "jvp", "linearize", "jacfwd", "hessian",
           "make_graph", "vmap"]
