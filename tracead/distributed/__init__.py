"""`tracead.distributed`: data-parallel training across processes and machines with Ray.

    from tracead.distributed import DataParallel

Importing this package does not import Ray; constructing a `DataParallel`
does (install it with `pip install 'tracead[distributed]'`).
"""
from .data_parallel import DataParallel, StepTiming, WorkerLostError
from .sharding import plan_shards

__all__ = ["DataParallel", "StepTiming", "WorkerLostError", "plan_shards"]
