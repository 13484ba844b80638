"""The interpret backend: the optimised graph run op by op with NumPy."""
from __future__ import annotations

import time

from ..ir.cost import bytes_moved, flops
from ..ir.interpret import interpret, last_uses


class InterpretExecutable:
    def __init__(self, graph) -> None:
        self.graph = graph
        self.freed = last_uses(graph)
        self.kernels: list = []  # no generated kernels: one NumPy call per node

    def __call__(self, args):
        return interpret(self.graph, args, self.freed)

    def run_timed(self, args):
        """Run node by node, timing each (for `profile`)."""
        env = dict(self.graph.constants)
        env.update((v.id, a) for v, a in zip(self.graph.inputs, args))
        timings = []
        for i, node in enumerate(self.graph.nodes):
            start = time.perf_counter()
            env[node.out.id] = node.prim.apply([env[v.id] for v in node.inputs], node.kwargs, node.out)
            timings.append({"index": i, "kind": node.prim.kind, "ops": node.prim.name,
                            "seconds": time.perf_counter() - start,
                            "bytes": bytes_moved(node.inputs, (node.out,)), "flops": flops(node)})
        return [env[v.id] for v in self.graph.outputs], timings


class InterpretBackend:
    name = "interpret"

    def __init__(self, options: dict) -> None:
        self.options = options

    def compile(self, graph, label: str = "graph") -> InterpretExecutable:
        return InterpretExecutable(graph)
