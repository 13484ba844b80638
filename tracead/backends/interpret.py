"""The interpret backend: the optimised graph run op by op with NumPy."""
from __future__ import annotations

from ..ir.interpret import interpret, last_uses


class InterpretExecutable:
    def __init__(self, graph) -> None:
        self.graph = graph
        self.freed = last_uses(graph)
        self.kernels: list = []  # no generated kernels: one NumPy call per node

    def __call__(self, args):
        return interpret(self.graph, args, self.freed)


class InterpretBackend:
    name = "interpret"

    def __init__(self, options: dict) -> None:
        self.options = options

    def compile(self, graph, label: str = "graph") -> InterpretExecutable:
        return InterpretExecutable(graph)
