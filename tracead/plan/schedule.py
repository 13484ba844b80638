"""The kernel schedule: the contract between fusion planning and backends.

`plan_fusion(graph)` (plan/fuse.py) partitions an optimised graph into an
ordered tuple of Kernels; the Numba backend turns each Kernel into one
generated function; `plan_memory` (plan/memory.py) assigns buffers over it.

Kernel kinds and what a backend may assume about them:
  "elementwise"  nodes are elementwise prims (kind "elementwise") and
                 broadcast_to; every node's output shape broadcasts to
                 `kernel.shape` (the iteration space) and every output in
                 `kernel.outputs` has exactly `kernel.shape`. Values of smaller
                 shape inside the kernel may be recomputed per element.
  "reduce"       an elementwise prologue (as above, over the reduce input's
                 shape = `kernel.shape`) ending in exactly one reduce node
                 (sum or max), which is the last node. Outputs: the reduce
                 result, plus any prologue value of shape `kernel.shape`
                 needed outside.
  "rowwise"      nodes over rows of the last axis: elementwise nodes whose
                 shapes are `kernel.shape` or `kernel.shape[:-1] + (1,)`, and
                 reduce nodes over the last axis only with keepdims=True
                 (softmax, log_softmax, layernorm patterns, forward and
                 backward).
  "matmul"       one matmul node first, then optionally elementwise epilogue
                 nodes consuming it (bias add, activation), all of the
                 matmul's output shape.
  "opaque"       exactly one node of any kind, run as its primitive's impl
                 (getitem, scatter_add, concatenate, transpose, reshape, ...).
`reason` says in words why the kernel ends where it does (for explain).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..ir.graph import Graph, Node, Var

KERNEL_KINDS = ("elementwise", "reduce", "rowwise", "matmul", "opaque")


@dataclass(frozen=True, slots=True)
class Kernel:
    index: int
    kind: str
    nodes: tuple[Node, ...]  # topological order
    inputs: tuple[Var, ...]  # read from outside: graph inputs, constants, other kernels
    outputs: tuple[Var, ...]  # materialised: used by later kernels or graph outputs
    shape: tuple[int, ...]  # iteration space (see kinds above)
    reason: str = ""

    def describe(self) -> str:
        ops = " ".join(n.prim.name for n in self.nodes)
        return f"kernel {self.index} [{self.kind}] {ops}"


@dataclass(frozen=True, slots=True)
class Schedule:
    graph: Graph
    kernels: tuple[Kernel, ...]

    def kernel_of(self) -> dict[int, int]:
        """node output id -> kernel index (for exports and explain)."""
        return {n.out.id: k.index for k in self.kernels for n in k.nodes}


def single_node_schedule(graph: Graph) -> Schedule:
    """One opaque kernel per node: the schedule with no fusion at all."""
    kernels = [Kernel(i, "opaque", (node,), node.inputs, (node.out,), node.out.shape,
                      "fusion disabled") for i, node in enumerate(graph.nodes)]
    return Schedule(graph, tuple(kernels))
