"""Planning: how an optimised graph runs, decided apart from rewriting it.

`passes/` turns a Graph into a better Graph; this package reads the result and
decides how it executes: which nodes share a kernel (fuse.py, fuse_kinds.py,
split.py), in which order kernels run (order.py), and which buffer each value
lives in (memory.py). The contract with backends is the Schedule (schedule.py).
"""
from __future__ import annotations

from .fuse import plan_fusion
from .memory import MemoryPlan, plan_memory
from .schedule import Kernel, Schedule, single_node_schedule

__all__ = ["Kernel", "MemoryPlan", "Schedule", "plan_fusion", "plan_memory", "single_node_schedule"]
