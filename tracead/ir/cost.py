"""Cost figures of nodes and kernels: bytes moved and FLOPs (for profile)."""
from __future__ import annotations


def bytes_moved(inputs, outputs) -> int:
    """Bytes a kernel must read (each input once) and write (each output once)."""
    seen, total = set(), 0
    for v in list(inputs) + list(outputs):
        if v.id not in seen:
            seen.add(v.id)
            total += v.nbytes
    return total


def flops(node) -> int:
    """Floating-point operations of a node, as its row counts them (`Prim.flops`:
    2 per multiply-add of a matmul; 0 for ops that count none)."""
    return node.prim.count_flops(node.out, *node.inputs, **node.kwargs)
