"""JAX-style function transforms over pytrees of tensors.

reverse.py  grad, value_and_grad, vjp              (the eager tape)
forward.py  linearize, jvp                        (double-vjp on the tape)
jacobians.py  jacrev, jacfwd, hessian             (vmap over basis vectors)
batching.py vmap                                  (batching rules in batching_rules.py)
graph_view.py  make_graph                          (the captured graph, uncompiled)

All of them take and return pytrees (`tracead.trace.pytree`), nest with each
other, and trace into `ta.compile` like any other Python code.
"""
from .batching import vmap
from .forward import jvp, linearize
from .graph_view import make_graph
from .jacobians import hessian, jacfwd, jacrev
from .reverse import grad, value_and_grad, vjp

__all__ = ["grad", "value_and_grad", "vjp", "jacrev", "jvp", "linearize", "jacfwd", "hessian",
           "make_graph", "vmap"]
