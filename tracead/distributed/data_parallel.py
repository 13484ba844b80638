"""`DataParallel`: synchronous data-parallel training on Ray actors.

Each of N workers (a Ray actor) holds a replica of the model and of the
optimizer state. A step cuts the batch into N shards (sharding.py), every
worker computes the gradient of its shard's mean loss, weighted by the
shard's share of the batch, the weighted gradients are summed by a
deterministic tree all-reduce (allreduce.py), and every worker applies the
same sum with its own optimizer. All replicas therefore stay identical, and
equal, up to float rounding, to one process training on the whole batch.

Fault tolerance: with `checkpoint_every=K`, the replicas' state (parameters,
optimizer state, step count) is saved every K steps (to `checkpoint_path`
as `.npz`, or kept in memory), and the batches since are remembered. When a
worker dies, it is replaced, every replica is reset to the checkpoint and
the remembered batches are replayed: no step is lost or counted twice.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np

from ..nn import Module
from ..optim import Optimizer
from . import checkpoint
from .allreduce import tree_allreduce
from .cluster import check_cpus, ensure_started, worker_env
from .replica import Replica, ReplicaSpec
from .sharding import as_array, plan_shards

__all__ = ["DataParallel", "StepTiming", "WorkerLostError"]


class WorkerLostError(RuntimeError):
    """A worker died and training could not recover (no checkpoints, or too many restarts)."""


@dataclass(frozen=True, slots=True)
class StepTiming:
    """Wall-clock seconds of one step's phases, as seen by the driver."""

    compute: float  # shards sent, forward + backward on every worker
    allreduce: float  # gradients summed across workers
    apply: float  # optimizer update on every replica, and losses fetched
    total: float


class DataParallel:
    """Train `model_factory()` with `optimizer_factory(model)` on `num_workers` Ray workers.

        dp = DataParallel(lambda m, x, y: nn.cross_entropy(m(x), y),
                          lambda: nn.MLP([64, 128, 10], seed=0),
                          lambda m: optim.Adam(m.parameters(), lr=3e-3),
                          num_workers=2)
        loss = dp.step(x, y)              # one synchronous step on the whole batch
        dp.fit(batches, epochs=8)         # batches: a list of (x, y), or epoch -> iterable
        dp.model                          # a local Module with the trained parameters
        dp.shutdown()                     # or use `with DataParallel(...) as dp:`

    loss_fn(model, x, y) must return the *mean* loss over the rows of x (as
    `nn.cross_entropy` and `nn.mse_loss` do): shard gradients are weighted by
    shard size, so a sum would be scaled wrongly. The factories run in every
    worker; functions defined in a script (`__main__`) are sent by value,
    those in an importable module by reference. The replicas start from
    worker 0's parameters, so a factory need not be seeded.

    Options: `compile` (default True) compiles each worker's gradient and
    update steps with `ta.compile`; `checkpoint_every` / `checkpoint_path` /
    `max_restarts` enable recovery from dead workers; `address` is passed to
    `ray.init` if Ray is not running yet (None: a local cluster, "auto": the
    cluster started with `ray start`). Each worker reserves `cpus_per_worker`
    CPUs and runs `threads_per_worker` Numba/BLAS threads.
    """

    def __init__(self, loss_fn: Callable, model_factory: Callable[[], Module],
                 optimizer_factory: Callable[[Module], Optimizer], num_workers: int = 2, *,
                 compile: bool = True, checkpoint_every: int | None = None,
                 checkpoint_path: str | os.PathLike | None = None, max_restarts: int = 3,
                 address: str | None = None, cpus_per_worker: float = 1,
                 threads_per_worker: int = 1, startup_timeout: float = 120.0,
                 compile_options: dict | None = None) -> None:
        if not isinstance(num_workers, int) or num_workers < 1:
            raise ValueError(f"DataParallel: num_workers must be a positive int, got {num_workers!r}")
        if checkpoint_every is not None and (not isinstance(checkpoint_every, int) or checkpoint_every < 1):
            raise ValueError(f"DataParallel: checkpoint_every must be a positive int or None, "
                             f"got {checkpoint_every!r}")
        if checkpoint_path is not None and checkpoint_every is None:
            raise ValueError("DataParallel: checkpoint_path needs checkpoint_every (save every K steps)")
        if not all(callable(f) for f in (loss_fn, model_factory, optimizer_factory)):
            raise TypeError("DataParallel: loss_fn, model_factory and optimizer_factory must be callables")
        self.num_workers = num_workers
        self.checkpoint_every = checkpoint_every
        self.checkpoint_path = None if checkpoint_path is None else os.fspath(checkpoint_path)
        self.max_restarts = int(max_restarts)
        self.cpus_per_worker = cpus_per_worker
        self.startup_timeout = float(startup_timeout)
        self._spec = ReplicaSpec(loss_fn, model_factory, optimizer_factory, bool(compile),
                                 tuple(sorted((compile_options or {}).items())))
        self._env = worker_env(threads_per_worker)
        self.steps = 0  # steps applied to the replicas
        self.restarts = 0  # workers replaced after dying
        self.timings: list[StepTiming] = []
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []  # batches since the checkpoint
        self._applied = 0  # how many of _pending the replicas have applied
        self._checkpoint: dict[str, np.ndarray] | None = None
        self._warm = False  # has a step compiled yet (the first one staggers the workers)
        self._local: Module | None = None
        self._local_step = -1
        self._workers: list = []
        self._ray, self._owns_ray = ensure_started(address)
        try:
            check_cpus(self._ray, num_workers, cpus_per_worker)
            self._actor_class = self._ray.remote(Replica)
            self._workers = [self._spawn(rank) for rank in range(num_workers)]
            self._wait_started(self._workers)
            # Every replica starts from worker 0's parameters (like torch DDP's broadcast).
            self._load_all(self._ray.get(self._workers[0].state.remote()))
        except BaseException:
            self.shutdown()
            raise

    # -- workers ---------------------------------------------------------------------------
    def _spawn(self, rank: int):
        return self._actor_class.options(
            num_cpus=self.cpus_per_worker, runtime_env={"env_vars": self._env},
            name=None, max_restarts=0).remote(rank, self._spec)

    def _wait_started(self, workers: list) -> None:
        ray = self._ray
        try:
            ray.get([w.ping.remote() for w in workers], timeout=self.startup_timeout)
        except ray.exceptions.GetTimeoutError:
            raise RuntimeError(
                f"DataParallel: workers did not start within {self.startup_timeout:g} s; "
                f"free resources: {ray.available_resources()} (other actors may hold the CPUs)") from None
        except ray.exceptions.RayActorError as exc:
            raise RuntimeError(
                "DataParallel: a worker could not build its replica (the error is below). If it "
                "cannot import a module of yours, make the module importable on the workers "
                "(PYTHONPATH, or ray.init(runtime_env={'working_dir': ...}) on a cluster) or send "
                "it by value: ray.cloudpickle.register_pickle_by_value(module).") from exc

    @property
    def workers(self) -> list:
        """The Ray actor handles, rank order (for inspection; `ray.kill` one to test recovery)."""
        return list(self._workers)

    def _load_all(self, state: dict[str, np.ndarray]) -> None:
        ref = self._ray.put(state)
        self._ray.get([w.load.remote(ref) for w in self._workers])
        self.steps = int(state[checkpoint.STEP_KEY])
        self._local_step = -1  # the local copy (`model`) is stale
        self._set_checkpoint(state)

    # -- one step --------------------------------------------------------------------------
    def step(self, x, y) -> float:
        """One synchronous training step on the batch (x, y); returns its mean loss."""
        x, y = as_array(x, "x"), as_array(y, "y")
        if len(x) != len(y):
            raise ValueError(f"DataParallel.step: x has {len(x)} rows but y has {len(y)}")
        plan_shards(len(x), self.num_workers)  # a clear error before anything runs
        self._pending.append((x, y))
        try:
            return self._run(self._checkpoint_if_due)
        except BaseException:
            # An error _run does not recover from (the user's loss_fn raised, or the
            # workers are lost): forget this batch, so the next step does not replay it.
            if self._applied < len(self._pending):
                self._pending.pop()
            raise
        finally:
            if self.checkpoint_every is None:  # nothing to replay from: keep no batches
                self._pending.clear()
                self._applied = 0

    def _step(self, x: np.ndarray, y: np.ndarray) -> float:
        ray, workers = self._ray, self._workers
        stagger = not self._warm  # rank 0 compiles first, the others then load its kernels
        start = time.perf_counter()
        # The whole step is submitted at once; Ray runs each call when its inputs are
        # ready, so the driver's waits below only time the phases and add no latency.
        loss_refs, grad_refs = [], []
        for rank, (w, s) in enumerate(zip(workers, plan_shards(len(x), len(workers)))):
            loss_ref, grad_ref = w.gradients.options(num_returns=2).remote(
                x[s.start:s.stop], y[s.start:s.stop], s.weight)
            loss_refs.append(loss_ref)
            grad_refs.append(grad_ref)
            if stagger and rank == 0:
                ray.wait([grad_ref], fetch_local=False)
        total = tree_allreduce(workers, grad_refs)
        apply_refs = []
        for w in workers:
            apply_refs.append(w.apply.remote(total))
            if stagger:
                ray.wait(apply_refs[-1:], fetch_local=False)
        ray.wait(grad_refs, num_returns=len(grad_refs), fetch_local=False)
        computed = time.perf_counter()
        ray.wait([total], fetch_local=False)
        reduced = time.perf_counter()
        try:
            losses = ray.get(loss_refs)  # a dead worker raises here first, with the clearest error
            counts = ray.get(apply_refs)
        except Exception:
            _settle(ray, loss_refs + grad_refs + [total] + apply_refs)
            raise
        done = time.perf_counter()
        if counts != [counts[0]] * len(counts):
            raise RuntimeError(f"DataParallel: replicas disagree on the step count: {counts}")
        self._warm = True
        self.timings.append(StepTiming(computed - start, reduced - computed, done - reduced, done - start))
        return float(sum(losses))  # the weights sum to 1: the whole batch's mean loss

    # -- recovery --------------------------------------------------------------------------
    def _run(self, then: Callable):
        """Apply the pending batches, then `then()`; on a dead worker, recover and redo."""
        while True:
            try:
                loss = None
                while self._applied < len(self._pending):
                    loss = self._step(*self._pending[self._applied])
                    self._applied += 1
                    self.steps += 1
                result = then()
                return loss if result is None else result
            except self._ray.exceptions.RayActorError as exc:
                self._recover(exc)

    def _recover(self, failure: BaseException) -> None:
        if self.checkpoint_every is None:
            raise WorkerLostError(f"DataParallel: a worker died ({type(failure).__name__}) and "
                                  f"checkpointing is off; pass checkpoint_every=K to recover") from failure
        if self.restarts >= self.max_restarts:
            raise WorkerLostError(f"DataParallel: a worker died after {self.restarts} restarts "
                                  f"(max_restarts={self.max_restarts})") from failure
        ray = self._ray
        for rank, w in enumerate(self._workers):
            try:
                ray.get(w.ping.remote(), timeout=self.startup_timeout)
            except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError):
                ray.kill(w)
                self._workers[rank] = self._spawn(rank)
                self.restarts += 1
        self._wait_started(self._workers)
        state = checkpoint.load(self.checkpoint_path) if self.checkpoint_path else self._checkpoint
        replay = self._pending
        self._load_all(state)
        self._pending, self._applied = replay, 0  # _load_all reset them; replay these

    def _checkpoint_if_due(self) -> None:
        if self.checkpoint_every is not None and self.steps % self.checkpoint_every == 0:
            self._set_checkpoint(self._ray.get(self._workers[0].state.remote()))

    def _set_checkpoint(self, state: dict[str, np.ndarray]) -> None:
        if self.checkpoint_every is not None:
            if self.checkpoint_path:
                checkpoint.save(self.checkpoint_path, state)
            else:
                self._checkpoint = state
        self._pending, self._applied = [], 0

    # -- training loop ---------------------------------------------------------------------
    def fit(self, batches, epochs: int = 1, *, callback: Callable[[int, float], None] | None = None,
            skip: int = 0) -> list[float]:
        """Run `step` on every (x, y) of `batches`, `epochs` times; returns the losses.

        batches: a re-iterable of (x, y) pairs (a list), or a function
        epoch -> iterable (to shuffle per epoch). callback(step, loss) runs
        after every step. skip: steps to pass over, to resume a run from a
        checkpoint (`dp.load_checkpoint(path); dp.fit(batches, epochs, skip=dp.steps)`).
        """
        if epochs > 1 and not callable(batches) and iter(batches) is batches:
            raise TypeError("DataParallel.fit: batches is an iterator, which would be empty after "
                            "the first epoch; pass a list, or a function epoch -> iterable")
        losses, index = [], 0
        for epoch in range(epochs):
            epoch_batches: Iterable = batches(epoch) if callable(batches) else batches
            for x, y in epoch_batches:
                index += 1
                if index <= skip:
                    continue
                loss = self.step(x, y)
                losses.append(loss)
                if callback is not None:
                    callback(self.steps, loss)
        return losses

    # -- state -----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """The replicas' state: "model.*" parameters, "optimizer.*" state and "step"."""
        return self._run(lambda: self._ray.get(self._workers[0].state.remote()))

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self._run(lambda: self._load_all(dict(state)))

    def save_checkpoint(self, path: str | os.PathLike) -> None:
        checkpoint.save(path, self.state_dict())

    def load_checkpoint(self, path: str | os.PathLike) -> None:
        self.load_state_dict(checkpoint.load(path))

    @property
    def model(self) -> Module:
        """A model in this process holding the replicas' current parameters."""
        if self._local is None:
            self._local = self._spec.model_factory()
        if self._local_step != self.steps:
            state = self.state_dict()
            self._local.load_state_dict({k[len("model."):]: v for k, v in state.items()
                                         if k.startswith("model.")})
            self._local_step = self.steps
        return self._local

    # -- reports ---------------------------------------------------------------------------
    def worker_reports(self) -> list[dict]:
        """Per worker: pid, steps, compile_seconds, kernels_from_cache / kernels_built, ..."""
        return self._ray.get([w.report.remote() for w in self._workers])

    def compile_seconds(self) -> list[float]:
        """Seconds each worker spent tracing and compiling (0 when compile=False)."""
        return [r["compile_seconds"] for r in self.worker_reports()]

    # -- lifetime --------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Stop the workers (and Ray, if this object started it)."""
        for w in self._workers:
            self._ray.kill(w)
        self._workers = []
        if self._owns_ray and self._ray.is_initialized():
            self._ray.shutdown()
        self._owns_ray = False

    def __enter__(self) -> "DataParallel":
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()

    def __repr__(self) -> str:
        return (f"DataParallel(num_workers={self.num_workers}, compile={self._spec.compile}, "
                f"steps={self.steps}, restarts={self.restarts})")


def _settle(ray, refs: list) -> None:
    """Fetch (and drop) the outcome of every call of a failed step, so Ray does not
    later log the errors as unhandled: the step is redone after recovery, or the
    first error is raised to the caller."""
    for ref in refs:
        try:
            ray.get(ref, timeout=60)
        except Exception:  # the caller handles the first failure; these are its echoes
            pass
