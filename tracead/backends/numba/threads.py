"""The threads that run large kernels, and BLAS's (backend stage: run).

Large kernels are not Numba parfors (`parallel=True` + `prange`): a parfor
costs several times a serial kernel's compile, and Numba's threading
layers fight the BLAS and torch thread pools for the cores (OpenMP's threads
spin after each region; figures in benchmarks/NOTES.md). Every kernel is a
serial `@njit(nogil=True)` function instead, and a large one takes the range
of fixed chunks `c0, c1` of its outer loop to run (writer.chunk_loops).
`ChunkPool.run` splits the chunks over a few persistent Python threads, the
calling thread taking the first share itself; the kernels release the GIL,
so the shares truly run at once. Idle threads sleep on a queue, never spin.

Chunks are fixed (writer.CHUNKS) whatever the thread count, and a reduction
over the outer axis writes one partial result per chunk that the kernel's
`_combine` function adds up in chunk order: results do not depend on the
number of threads. Only one call uses the pool at a time; a second thread
calling meanwhile runs its kernel over all chunks itself (on a machine this
small, two pooled kernels at once would only oversubscribe the cores).
"""
from __future__ import annotations

import os
import queue
import threading

import numba
import numpy as np


def pool_size() -> int:
    """Threads a pooled kernel runs on, the caller included: NUMBA_NUM_THREADS
    (Numba's default: the CPU count), the knob users of Numba already set."""
    return max(int(numba.config.NUMBA_NUM_THREADS), 1)


class _Worker:
    """One pool thread: runs (fn, args, c0, c1) tasks from its queue, reports to `done`."""

    def __init__(self, done: queue.SimpleQueue) -> None:
        self.tasks: queue.SimpleQueue = queue.SimpleQueue()
        self.done = done
        threading.Thread(target=self.loop, name="tracead-chunks", daemon=True).start()

    def loop(self) -> None:
        while True:
            fn, args, c0, c1 = self.tasks.get()
            try:
                fn(*args, c0, c1)
                self.done.put(None)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller, which re-raises it
                self.done.put(exc)


class ChunkPool:
    """Runs a chunked kernel's chunks [0, chunks) over `size` threads (see the module doc)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.lock = threading.Lock()
        self.done: queue.SimpleQueue = queue.SimpleQueue()
        self.workers: list[_Worker] = []  # started on first use

    def run(self, fn, args: tuple, chunks: int) -> None:
        """fn(*args, c0, c1) over contiguous shares of the chunks, one per thread."""
        share = min(self.size, chunks)
        if share <= 1 or not self.lock.acquire(blocking=False):
            fn(*args, 0, chunks)
            return
        try:
            while len(self.workers) < share - 1:
                self.workers.append(_Worker(self.done))
            bounds = [k * chunks // share for k in range(share + 1)]
            for k in range(1, share):
                self.workers[k - 1].tasks.put((fn, args, bounds[k], bounds[k + 1]))
            error = None
            try:
                fn(*args, 0, bounds[1])
            except BaseException as exc:  # noqa: BLE001 - raised once every share has finished
                error = exc
            for _ in range(share - 1):  # every share finishes before the outputs are read
                failed = self.done.get()
                error = error or failed
            if error is not None:
                raise error
        finally:
            self.lock.release()


POOL = ChunkPool(pool_size())


def _after_fork() -> None:
    global POOL  # a forked child has none of the parent's threads
    POOL = ChunkPool(pool_size())


os.register_at_fork(after_in_child=_after_fork)


def pooled(fn, chunks: int, combine=None, part=None):
    """The call of a chunked kernel entry: its chunks over the pool, then, for a
    reduction over the outer axis, `combine` (same arguments) adds the per-chunk
    partial results, which live in a `part` array (shape, dtype) made per call."""
    def call(*args):
        if part is not None:
            args = args + (np.empty(*part),)
        POOL.run(fn, args, chunks)
        if combine is not None:
            combine(*args, 0, chunks)
    call.__wrapped__ = fn
    return call


class BlasCap:
    """Caps every loaded BLAS library's threads at `n` for a compiled call, then restores them.

    On a loaded machine (more runnable threads than cores) OpenBLAS's pool is the
    step's worst enemy: its workers rendezvous after each block of a matmul and
    spin while idle, so a matmul split over 2 threads waits for a core another
    process holds (W2 under load: several times faster with 1 BLAS thread than
    with 2; figures in benchmarks/NOTES.md). On an idle machine 2 threads are faster for large matmuls, so the cap is
    opt-in (TRACEAD_BLAS_THREADS) rather than a default, and it is applied only
    around calls whose graph has a matmul, so NumPy code outside compiled
    functions keeps the user's setting. The thread count is process-wide: two
    threads running compiled calls at once share one setting.
    """

    _libraries: list | None = None

    def __init__(self, n: int) -> None:
        self.n = n
        self.saved: list[tuple[object, int]] = []

    @classmethod
    def libraries(cls) -> list:
        """threadpoolctl's controllers of the BLAS libraries loaded now (found once: ~ms)."""
        if cls._libraries is None:
            try:
                from threadpoolctl import ThreadpoolController
            except ImportError as exc:
                raise ImportError("TRACEAD_BLAS_THREADS needs threadpoolctl "
                                  "(pip install threadpoolctl)") from exc
            cls._libraries = ThreadpoolController().select(user_api="blas").lib_controllers
        return cls._libraries

    def __enter__(self) -> "BlasCap":
        for lib in self.libraries():
            current = lib.get_num_threads()
            if current is not None and current > self.n:
                self.saved.append((lib, current))
                lib.set_num_threads(self.n)
        return self

    def __exit__(self, *exc) -> None:
        for lib, current in self.saved:
            lib.set_num_threads(current)
        self.saved.clear()
