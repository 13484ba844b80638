"""Graph IR: data structures, printer, verifier, interpreter, exports."""
from .graph import Graph, Node, Var, VarFactory, freeze_params
from .interpret import interpret
from .printer import format_graph
from .verify import GraphError, verify

__all__ = ["Graph", "Node", "Var", "VarFactory", "freeze_params", "interpret", "format_graph",
           "verify", "GraphError"]
