"""The compiled call of one graph: slots, planned buffers, steps (backend stage: run).

Built once per compiled graph, so a call does no work proportional to the
graph, only to its kernels, inputs and outputs:
  - every value and every buffer of the memory plan (plan/memory.py) gets an
    integer slot; a call copies one template list (constants already in it),
    puts the inputs in, and each step reads and writes slots;
  - the plan's buffers are allocated per call, when the first kernel that
    writes one runs, and dropped after the last value stored in them dies, so
    the peak follows the plan and no array handed out (outputs, effects, values
    saved for backward: all graph outputs, which the plan never shares) is
    ever written again. Fused kernels and np.matmul write into them (`out=`);
    reshape/transpose run as NumPy views where the plan says so;
  - an opaque kernel allocates its own result (its impl's); when that result
    may be a view of a buffer the plan later gives to another value, it is
    copied (`private` below), so reuse never changes a value still needed.
"""
from __future__ import annotations

import contextlib
import time

import numpy as np

from ...ir.cost import bytes_moved, flops
from ...plan.memory import MemoryPlan, written
from ...plan.schedule import Schedule
from ... import config
from .steps import Alloc, FusedStep, MatmulStep, OpaqueStep, Out
from .threads import BlasCap, BlasTuner


def written_into_buffers(schedule: Schedule) -> set[int]:
    """Values a step writes into their planned buffer (fused outputs, matmul products and
    epilogues); opaque results live in their impl's own allocation."""
    return {v.id for k in schedule.kernels if k.kind != "opaque" for v in written(k)}


def private_inputs(schedule: Schedule, plan: MemoryPlan) -> dict[int, set[int]]:
    """kernel index -> ids of an opaque kernel's inputs stored in a buffer that a later
    value is written into: a view of them must be copied (views the plan itself
    tracks, `plan.views`, keep their base's buffer alive instead)."""
    writers = written_into_buffers(schedule)

    def storage(vid):
        while vid in plan.views:
            vid = plan.views[vid]
        return vid if vid in writers else None

    def reused_later(vid) -> bool:
        buf = plan.buffers[plan.assignment[vid]]
        later = buf.vars[buf.vars.index(vid) + 1:]
        return not buf.output and any(v in writers for v in later)

    private: dict[int, set[int]] = {}
    for k in schedule.kernels:
        if k.kind == "opaque" and k.outputs[0].id not in plan.views:
            ids = {v.id for v in k.inputs if storage(v.id) is not None and reused_later(storage(v.id))}
            if ids:
                private[k.index] = ids
    return private


def buffer_segments(plan: MemoryPlan, writers: set[int], end: int) -> list[tuple[int, int, int]]:
    """(buffer index, first kernel, last kernel) spans during which a call holds each buffer.

    A buffer is held from the first kernel writing a value into it to the last kernel
    reading one (graph outputs' buffers: to the end, `end`). Between two values a reused
    buffer sits idle; where that idle stretch covers the step at which the call holds the
    most bytes, the buffer is dropped after the first value and allocated again for the
    next, until the most-held step holds live values only. Opaque results (arrays their
    impls allocate) count towards the bytes held at a step, so the peak is found where
    the call really has it."""
    spans: dict[int, list[tuple[int, int]]] = {}
    segments = []
    for buf in plan.buffers:
        placed = sorted(plan.live[v] for v in buf.vars if v in writers)
        if not placed:
            continue  # only opaque results, which their impls allocate
        spans[buf.index] = placed
        last = end if buf.output else min(max(b for _, b in placed), end - 1)
        segments.append([buf.index, placed[0][0], last])
    held = [0] * (end + 1)
    sizes = {v.id: v.nbytes for k in plan.schedule.kernels for v in k.outputs}
    for vid, (first, last) in plan.live.items():  # opaque results: their impls' own arrays
        if vid not in writers and vid not in plan.views:
            for k in range(first, min(last, end - 1) + 1):
                held[k] += sizes[vid]
    for index, first, last in segments:
        for k in range(first, min(last, end - 1) + 1):
            held[k] += plan.buffers[index].nbytes
    while segments:
        peak = max(range(end), key=held.__getitem__)
        split = False
        for seg in list(segments):
            index, first, last = seg
            if plan.buffers[index].output or not first <= peak <= last:
                continue
            before = [s for s in spans[index] if first <= s[0] and s[1] < peak]
            after = [s for s in spans[index] if s[0] > peak and s[1] <= last]
            if not before or not after or any(a <= peak <= b for a, b in spans[index]):
                continue  # a value occupies it at the peak
            gap_start, gap_end = max(b for _, b in before) + 1, min(a for a, _ in after) - 1
            seg[2] = gap_start - 1
            segments.append([index, gap_end + 1, last])
            for k in range(gap_start, gap_end + 1):
                held[k] -= plan.buffers[index].nbytes
            split = True
        if not split:
            break
    return [tuple(s) for s in segments]


class NumbaExecutable:
    # Every output has exactly its graph value's shape and dtype (planned buffers are
    # shaped from the value, inputs and opaque results are checked, constants converted),
    # so callers may reuse the graph's avals.
    exact_outputs = True

    def __init__(self, schedule: Schedule, steps, records, plan: MemoryPlan, layout: dict,
                 known: set) -> None:
        """layout: predicted layout per value id ("C" or "A"); known: ids whose layout is
        certain before a call (constants, values written into planned buffers)."""
        self.schedule, self.graph = schedule, schedule.graph
        self.steps, self.kernels = steps, records
        self.has_matmul = any(isinstance(step, MatmulStep) for step in steps)  # TRACEAD_BLAS_THREADS
        self.tuner = BlasTuner() if self.has_matmul and BlasTuner.available() else None
        self.memory_plan = plan
        self._number_values()
        self.buf_slot = [self._new_slot() for _ in plan.buffers]
        self.allocs: dict[int, list[Alloc]] = {}  # kernel index -> buffers it allocates first
        self.dies: dict[int, list] = {}  # kernel index -> slots dropped after it
        self._buffer_lifetimes()
        private = private_inputs(schedule, plan)
        for k, step in zip(schedule.kernels, steps):
            ins = [self.slot[v.id] for v in k.inputs]
            if isinstance(step, OpaqueStep):
                step.link(ins, self.slot[k.outputs[0].id],
                          [self.slot[v.id] for v in k.inputs if v.id in private.get(k.index, ())])
            elif isinstance(step, FusedStep):
                self._link_fused(step, k, layout, known)
            else:
                self._link_matmul(step, k, ins, layout, known)
        for k, step in zip(schedule.kernels, steps):
            step.allocs = tuple(self.allocs.get(k.index, ()))
            step.frees = tuple(self.dies.get(k.index, ()))
            step.prepare()
        # Distinct arrays a call allocates for kernel outputs (opaque impls' own aside).
        self.allocations = sum(len(a) for a in self.allocs.values())

    def _new_slot(self, value=None) -> int:
        self.template.append(value)
        return len(self.template) - 1

    def _number_values(self) -> None:
        """One slot per graph input, constant and kernel-produced value; constants are
        stored in the template in their value's dtype."""
        graph, kernels = self.graph, self.schedule.kernels
        self.template: list = [None] * len(graph.inputs)
        self.slot = {v.id: i for i, v in enumerate(graph.inputs)}
        var_of = {v.id: v for k in kernels for v in k.inputs}
        var_of.update((v.id, v) for v in graph.outputs)
        for vid, c in graph.constants.items():
            var = var_of.get(vid)
            value = np.asarray(c) if var is None else np.asarray(c, var.dtype)
            if var is not None and value.shape != var.shape:
                value = np.array(np.broadcast_to(value, var.shape))
            self.slot[vid] = self._new_slot(value)
        self.constants = {self.slot[vid]: self.template[self.slot[vid]] for vid in graph.constants}
        for k in kernels:
            for v in k.outputs + (k.nodes[0].out,):  # a matmul's product may stay inside its kernel
                if v.id not in self.slot:
                    self.slot[v.id] = self._new_slot()
        self.in_specs = [(v.shape, v.dtype) for v in graph.inputs]
        self.in_sizes = [v.size for v in graph.inputs]
        self.out_slots = [self.slot[v.id] for v in graph.outputs]
        # A constant handed out would let the caller edit it for every later call.
        self.copied = [k for k, v in enumerate(graph.outputs) if v.id in graph.constants]

    def _buffer_lifetimes(self) -> None:
        """Buffers are allocated and dropped per segment (`buffer_segments`); a value slot
        is dropped after its last reader."""
        plan, end = self.memory_plan, len(self.schedule.kernels)
        for vid, (_, last) in plan.live.items():
            if last < end:
                self.dies.setdefault(last, []).append(self.slot[vid])
        for index, first, last in buffer_segments(plan, written_into_buffers(self.schedule), end):
            buf = plan.buffers[index]
            self.allocs.setdefault(first, []).append(
                Alloc(self.buf_slot[index], buf.nbytes // buf.dtype.itemsize, buf.dtype))
            if last < end:
                self.dies.setdefault(last, []).append(self.buf_slot[index])

    def _out(self, var, kernel: int) -> Out:
        """Where `var` is written: its planned buffer, or, when there is none, a scratch
        buffer the kernel allocates and drops."""
        b = self.memory_plan.assignment.get(var.id)
        if b is None:
            slot = self._new_slot()
            self.allocs.setdefault(kernel, []).append(Alloc(slot, var.size, var.dtype))
            self.dies.setdefault(kernel, []).append(slot)
            return Out(self.slot[var.id], slot, var.size, var.shape, var.dtype, True)
        buf = self.memory_plan.buffers[b]
        return Out(self.slot[var.id], self.buf_slot[b], var.size, var.shape, var.dtype,
                   buf.nbytes == var.nbytes)

    def _link_fused(self, step: FusedStep, k, layout, known, extra_known=()) -> None:
        step.link([self.slot[v.id] for v in k.inputs], [self._out(v, k.index) for v in k.outputs],
                  [layout.get(v.id, "C") for v in k.inputs],
                  [v.id in known or v.id in extra_known or v.size <= 1 for v in k.inputs],
                  self.constants)

    def _link_matmul(self, step: MatmulStep, k, ins, layout, known) -> None:
        mm = step.mm
        product = self._out(mm.out, k.index)  # planned apart from the epilogue's outputs
        step.link(ins, product)
        if not step.keep_product:  # read inside its kernel only
            self.dies.setdefault(k.index, []).append(self.slot[mm.out.id])
        if step.epilogue is not None:
            self._link_fused(step.epilogue, step.epilogue.kernel, layout, known, (mm.out.id,))

    def _start(self, args) -> list:
        if len(args) != len(self.in_specs):
            raise ValueError(f"graph takes {len(self.in_specs)} inputs, got {len(args)}")
        env = self.template.copy()
        for i, a in enumerate(args):
            shape, dtype = self.in_specs[i]
            if type(a) is not np.ndarray or a.dtype != dtype:
                a = np.asarray(a, dtype)
            if a.shape != shape:  # kernels index without bounds checks: never read past the end
                if a.size != self.in_sizes[i]:
                    raise ValueError(f"graph input {i} must have shape {shape}, got {a.shape}")
                a = a.reshape(shape)
            env[i] = a
        return env

    def run_guarded(self, arrays):
        """For a caller whose guards already fixed every input's shape and dtype (a
        compiled call): exact ndarrays are taken without checking them again."""
        if len(arrays) != len(self.in_specs):
            raise ValueError(f"graph takes {len(self.in_specs)} inputs, got {len(arrays)}")
        for a in arrays:
            if type(a) is not np.ndarray:
                return self(arrays)
        env = self.template.copy()
        env[:len(arrays)] = arrays
        self._run_steps(env)
        return self._finish(env)

    def _finish(self, env) -> list:
        outs = [env[s] for s in self.out_slots]
        for k in self.copied:
            outs[k] = outs[k].copy()
        return outs

    def __call__(self, args):
        env = self._start(args)
        self._run_steps(env)
        return self._finish(env)

    def _run_steps(self, env) -> None:
        if not self.has_matmul:
            for step in self.steps:
                step.run(env)
            return
        cap, tuner = config.blas_threads(), None
        if cap is None and self.tuner is not None:  # measured, not guessed (threads.BlasTuner)
            tuner = self.tuner
            cap = tuner.choose()
            start = time.perf_counter()
        if cap is None:
            for step in self.steps:
                step.run(env)
        else:
            with BlasCap(cap):
                for step in self.steps:
                    step.run(env)
        if tuner is not None:
            tuner.record(cap, time.perf_counter() - start)

    def run_timed(self, args):
        """Run kernel by kernel, timing each (for `profile`)."""
        env, timings = self._start(args), []
        cap = config.blas_threads() if self.has_matmul else None
        if cap is None and self.tuner is not None:
            cap = self.tuner.best()
        with BlasCap(cap) if cap is not None else contextlib.nullcontext():
            for kernel, step in zip(self.schedule.kernels, self.steps):
                start = time.perf_counter()
                step.run(env)
                seconds = time.perf_counter() - start
                timings.append({"index": kernel.index, "kind": kernel.kind,
                                "ops": " ".join(n.prim.name for n in kernel.nodes), "seconds": seconds,
                                "bytes": bytes_moved(kernel.inputs, kernel.outputs),
                                "flops": sum(flops(n) for n in kernel.nodes)})
        return self._finish(env), timings
