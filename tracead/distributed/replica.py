"""One data-parallel worker's replica: model, optimizer, and its two steps.

A `Replica` is plain Python (tests drive it without Ray); `DataParallel` runs
each one inside a Ray actor. A training step is split in two so that the
gradients can be combined across workers in between:

    gradients(x_shard, y_shard, weight) -> (weight * loss, [weight * dL/dp])
    apply(summed gradients)             -> the optimizer update

With `compile=True` both halves are `ta.compile`d: the first is forward +
backward in one graph, the second the optimizer's update fused into kernels.
Kernels come from the on-disk cache (TRACEAD_CACHE_DIR) when another worker
on the machine has already built them; `report()` says how many did.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..nn import Module
from ..optim import Optimizer
from ..runtime.compiled import CompiledFunction, compile as ta_compile
from ..tensor import Tensor
from . import checkpoint

Gradients = list  # list[np.ndarray | None], one entry per parameter


@dataclass(frozen=True)
class ReplicaSpec:
    """What every worker needs to build its replica (pickled to the workers)."""

    loss_fn: Callable  # loss_fn(model, x, y) -> scalar mean loss
    model_factory: Callable[[], Module]
    optimizer_factory: Callable[[Module], Optimizer]
    compile: bool = True
    compile_options: tuple = ()  # (name, value) pairs for ta.compile


def add_gradients(a: Gradients, b: Gradients) -> Gradients:
    """Element-wise sum of two gradient lists; None (no gradient) is the identity."""
    if len(a) != len(b):
        raise ValueError(f"gradient lists of different lengths: {len(a)} and {len(b)}")
    return [y if x is None else x if y is None else x + y for x, y in zip(a, b)]


class Replica:
    def __init__(self, rank: int, spec: ReplicaSpec) -> None:
        self.rank = rank
        self.spec = spec
        self.model = spec.model_factory()
        if not isinstance(self.model, Module):
            raise TypeError(f"model_factory must return a ta.nn.Module, got {type(self.model).__name__}")
        self.optimizer = spec.optimizer_factory(self.model)
        if not isinstance(self.optimizer, Optimizer):
            raise TypeError(f"optimizer_factory must return a ta.optim.Optimizer, "
                            f"got {type(self.optimizer).__name__}")
        self.params = self.model.parameters()
        self.step_count = 0
        self.compile_seconds = 0.0
        # Time in the steps (compiling calls excluded), wall-clock and CPU.
        self.run_seconds = {"gradients": 0.0, "apply": 0.0, "gradients_cpu": 0.0, "apply_cpu": 0.0}
        options = dict(spec.compile_options)
        if spec.compile:
            self._grad_fn = ta_compile(self._gradient_step, **options)
            self._apply_fn = ta_compile(self._apply_step, **options)
        else:
            self._grad_fn, self._apply_fn = self._gradient_step, self._apply_step

    # -- the two halves of a step (traced when compiled) --------------------------------
    def _gradient_step(self, x, y):
        self.model.zero_grad()
        loss = self.spec.loss_fn(self.model, x, y)
        if not isinstance(loss, Tensor) or loss.size != 1:
            raise TypeError(f"loss_fn must return a scalar Tensor (a mean over the batch), "
                            f"got {type(loss).__name__} of shape {getattr(loss, 'shape', None)}")
        loss.backward()
        return loss

    def _apply_step(self, present: tuple, *grads: Tensor) -> None:
        for p in self.params:
            p.grad = None
        for i, g in zip(present, grads):
            self.params[i].grad = g
        self.optimizer.step()

    def _timed(self, phase: str, fn, *args):
        """Call fn; its time goes to compile_seconds if it compiled a new variant, else to `phase`."""
        misses = fn.stats["misses"] if isinstance(fn, CompiledFunction) else 0
        start, cpu = time.perf_counter(), time.thread_time()
        out = fn(*args)
        if isinstance(fn, CompiledFunction) and fn.stats["misses"] > misses:
            self.compile_seconds += time.perf_counter() - start
        else:
            self.run_seconds[phase] += time.perf_counter() - start
            # CPU time of this thread: the work itself, without the waits for a core
            # that a busy machine adds to the wall-clock time.
            self.run_seconds[phase + "_cpu"] += time.thread_time() - cpu
        return out

    # -- what the driver calls -----------------------------------------------------------
    def gradients(self, x: np.ndarray, y: np.ndarray, weight: float) -> tuple[float, Gradients]:
        """(weight * loss, weight * gradient per parameter) on this worker's shard."""
        loss = self._timed("gradients", self._grad_fn, x, y)
        grads: Gradients = []
        for p in self.params:
            g = p.grad
            if g is None:
                grads.append(None)
                continue
            g = g.numpy()
            if weight != 1.0:
                g *= weight
            grads.append(g)
        return float(loss) * weight, grads

    def add(self, a: Gradients, b: Gradients) -> Gradients:
        return add_gradients(a, b)

    def apply(self, grads: Gradients) -> int:
        """Set every parameter's .grad to the combined gradient and step the optimizer."""
        present = tuple(i for i, g in enumerate(grads) if g is not None)
        self._timed("apply", self._apply_fn, present, *(Tensor(grads[i]) for i in present))
        self.step_count += 1
        return self.step_count

    def state(self) -> dict[str, np.ndarray]:
        return checkpoint.gather_state(self.model, self.optimizer, self.step_count)

    def load(self, state: dict[str, np.ndarray]) -> int:
        self.step_count = checkpoint.restore_state(self.model, self.optimizer, state)
        return self.step_count

    def report(self) -> dict:
        """Compile time, time in the two halves of the steps (compiling calls excluded),
        kernel cache hits and compiled-path counters of this worker."""
        report = {"rank": self.rank, "pid": os.getpid(), "steps": self.step_count,
                  "compile_seconds": self.compile_seconds,
                  "gradient_seconds": self.run_seconds["gradients"],
                  "gradient_cpu_seconds": self.run_seconds["gradients_cpu"],
                  "apply_seconds": self.run_seconds["apply"],
                  "apply_cpu_seconds": self.run_seconds["apply_cpu"], "kernels_from_cache": 0,
                  "kernels_built": 0, "compiled_calls": 0, "eager_calls": 0}
        for fn in (self._grad_fn, self._apply_fn):
            if not isinstance(fn, CompiledFunction):
                continue
            report["compiled_calls"] += fn.stats["hits"]
            report["eager_calls"] += fn.stats["eager_calls"]
            for status in _kernel_cache_statuses(fn):
                if status.startswith("hit"):
                    report["kernels_from_cache"] += 1
                elif status.startswith("miss"):
                    report["kernels_built"] += 1
        return report

    def ping(self) -> int:
        return self.rank


def _kernel_cache_statuses(fn: CompiledFunction) -> list[str]:
    """The cache status of each generated kernel ("hit", "miss: ..."; "" or "none" for NumPy calls)."""
    statuses = []
    for variant in fn.order:
        for exe in (variant.forward_exec, variant.backward_exec):
            statuses += [getattr(r, "cache", "") for r in getattr(exe, "kernels", ())]
    return statuses
