"""The order of fused kernels: dependency order, chosen to keep memory low.

List scheduling: among the kernels whose inputs are ready, run first the one
that frees the most bytes net of what it allocates (it is the last reader of
big temporaries), ties by earliest node. A weight gradient that ends an
activation's life then runs before the next backward matmul allocates, so the
memory plan (memory.py) can hand the activation's buffer on.
"""
from __future__ import annotations

def kernel_order(groups) -> list[int]:
    """Group ids of a fuse._Groups in an order that respects every dependency."""
    nodes, members, outputs = groups.nodes, groups.members, groups.graph_outputs
    producer = {nodes[i].out.id: g for g, m in members.items() for i in m}
    view_of = {}  # reading a view (reshape, transpose: `Prim.view`) reads its input's buffer
    for m in members.values():
        node = nodes[m[0]]
        if len(m) == 1 and node.prim.view and node.out.id not in outputs:
            view_of[node.out.id] = node.inputs[0].id

    def base(vid: int) -> int:
        while vid in view_of:
            vid = view_of[vid]
        return vid

    # what each kernel reads from other kernels, and how many kernels read each value
    reads = {g: {base(v.id) for i in m for v in nodes[i].inputs} - {nodes[i].out.id for i in m}
             for g, m in members.items()}
    readers: dict[int, int] = {}
    for vids in reads.values():
        for vid in vids:
            readers[vid] = readers.get(vid, 0) + 1
    nbytes = {n.out.id: n.out.nbytes for n in nodes}
    alloc = {g: sum(nbytes[v] for v in groups.outs(m) if v not in view_of) for g, m in members.items()}

    def cost(g: int) -> tuple:
        freed = sum(nbytes[v] for v in reads[g]
                    if readers[v] == 1 and v in producer and v not in outputs)
        return (alloc[g] - freed, min(members[g]))

    indegree = {g: len(groups.pred[g]) for g in members}
    ready = [g for g in members if indegree[g] == 0]
    order = []
    while ready:
        g = min(ready, key=cost)
        ready.remove(g)
        order.append(g)
        for vid in reads[g]:
            readers[vid] -= 1
        for s in groups.succ[g]:
            indegree[s] -= 1
            if indegree[s] == 0:
                ready.append(s)
    assert len(order) == len(members), "fusion groups form a cycle"
    return order
