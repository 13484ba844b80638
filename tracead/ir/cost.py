"""Cost figures of nodes and kernels: bytes moved and FLOPs (for profile)."""
from __future__ import annotations

import numpy as np


def bytes_moved(inputs, outputs) -> int:
    """Bytes a kernel must read (each input once) and write (each output once)."""
    seen, total = set(), 0
    for v in list(inputs) + list(outputs):
        if v.id not in seen:
            seen.add(v.id)
            total += v.nbytes
    return total


def flops(node) -> int:
    """Floating-point operations of a matmul node (2 per multiply-add); 0 otherwise."""
    if node.prim.name != "matmul":
        return 0
    a = node.inputs[0]
    k = a.shape[-1]
    return 2 * k * int(np.prod(node.out.shape, dtype=np.int64))
