"""Splitting a batch across workers, and the weight of each shard.

Policy: a batch of B rows is cut into `num_workers` contiguous shards whose
sizes differ by at most one (the first B % N shards get the extra row, as
`np.array_split`). The loss is a mean, so worker k's gradient is the mean
over its b_k rows; scaled by b_k / B and summed over workers it is exactly
the mean over all B rows, the gradient one process computes on the whole
batch. Uneven shards are therefore weighted by their size, never averaged
equally (which would over-weight the rows of the smaller shards).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Shard:
    start: int
    stop: int
    weight: float  # rows in this shard / rows in the batch

    @property
    def size(self) -> int:
        return self.stop - self.start


def as_array(value, what: str) -> np.ndarray:
    array = np.asarray(value)  # a tracead Tensor converts through __array__
    if array.ndim == 0:
        raise ValueError(f"DataParallel.step: {what} must have a batch dimension, got a 0-d value")
    return array


def plan_shards(batch: int, num_workers: int) -> list[Shard]:
    """Contiguous shards of `batch` rows for `num_workers` workers (policy above)."""
    if batch < num_workers:
        raise ValueError(f"DataParallel.step: a batch of {batch} rows cannot be split across "
                         f"{num_workers} workers (every worker needs at least one row); use a "
                         f"batch of at least {num_workers} rows or fewer workers")
    base, extra = divmod(batch, num_workers)
    shards, start = [], 0
    for k in range(num_workers):
        size = base + (1 if k < extra else 0)
        shards.append(Shard(start, start + size, size / batch))
        start += size
    return shards
