"""A deterministic tree all-reduce of gradient lists through Ray's object store.

Ray's collective library (`ray.util.collective`) offers NCCL (GPUs, CuPy)
and Gloo through `torch.distributed`: neither works on a CPU-only machine
without a large extra native dependency, so gradients are reduced with
ordinary actor calls instead. Each worker's gradients are an ObjectRef
(over 100 kB in the shared-memory object store, smaller ones inline); the
driver never fetches them, it only wires the calls together:

    level 1:  w0.add(g0, g1)   w2.add(g2, g3)   ...
    level 2:  w0.add(s01, s23) ...
    result:   the sum at w0, handed (as one ref) to every worker's apply()

The pairing depends only on the number of workers, so the additions happen
in the same order at every step and on every run: the reduced gradient is
deterministic, and every replica receives the very same bytes, so replicas
never drift apart. log2(N) rounds; N - 1 additions in all.
"""
from __future__ import annotations


def tree_pairs(num_workers: int) -> list[list[tuple[int, int]]]:
    """Rounds of (receiver, sender) ranks; after the last round rank 0 holds the sum."""
    rounds, stride = [], 1
    while stride < num_workers:
        rounds.append([(i, i + stride) for i in range(0, num_workers, 2 * stride)
                       if i + stride < num_workers])
        stride *= 2
    return rounds


def tree_allreduce(workers: list, grad_refs: list):
    """Submit the additions; returns the ObjectRef of the sum (at worker 0)."""
    partial = list(grad_refs)
    for level in tree_pairs(len(workers)):
        for receiver, sender in level:
            partial[receiver] = workers[receiver].add.remote(partial[receiver], partial[sender])
    return partial[0]
