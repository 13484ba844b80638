"""The threads that run large kernels, and BLAS's (backend stage: run).

Large kernels are not Numba parfors (`parallel=True` + `prange`): a parfor
costs several times a serial kernel's compile, and Numba's threading
layers fight the BLAS and torch thread pools for the cores (OpenMP's threads
spin after each region; figures in benchmarks/NOTES.md). Every kernel is a
serial `@njit(nogil=True)` function instead, and a large one takes the range
of fixed chunks `c0, c1` of its outer loop to run (writer.chunk_loops).
`ChunkPool.run` cuts the chunks into a few pieces that persistent Python
threads and the calling thread take in turn, so on a loaded machine a thread
the OS has not woken yet leaves its share to the others instead of making the
call wait for it. The kernels release the GIL, so the pieces truly run at
once. Idle threads sleep on a queue, never spin.

Chunks are fixed (writer.CHUNKS) whatever the thread count, and a reduction
over the outer axis writes one partial result per chunk that the kernel's
`_combine` function adds up in chunk order: results do not depend on the
number of threads. Only one call uses the pool at a time; a second thread
calling meanwhile runs its kernel over all chunks itself (on a machine this
small, two pooled kernels at once would only oversubscribe the cores).
"""
from __future__ import annotations

import itertools
import os
import queue
import threading

import numba
import numpy as np


def pool_size() -> int:
    """Threads a pooled kernel runs on, the caller included: NUMBA_NUM_THREADS
    (Numba's default: the CPU count), the knob users of Numba already set."""
    return max(int(numba.config.NUMBA_NUM_THREADS), 1)


class _Call:
    """One pooled call: its pieces (contiguous chunk ranges), taken in order by whichever
    thread asks next, so a thread the OS has not woken yet leaves its share to the others."""

    def __init__(self, fn, args: tuple, bounds: list[int]) -> None:
        self.fn, self.args, self.bounds = fn, args, bounds
        self.pieces = len(bounds) - 1
        self.next = itertools.count()  # next() is atomic under the GIL
        self.finished = itertools.count(1)
        self.all_done = threading.Event()
        self.error: BaseException | None = None

    def work(self) -> None:
        """Run pieces until none is left."""
        while (k := next(self.next)) < self.pieces:
            try:
                self.fn(*self.args, self.bounds[k], self.bounds[k + 1])
            except BaseException as exc:  # noqa: BLE001 - the caller raises it when all pieces ended
                self.error = self.error or exc
            if next(self.finished) == self.pieces:
                self.all_done.set()


def _worker(tasks: queue.SimpleQueue) -> None:
    while True:
        tasks.get().work()


class ChunkPool:
    """Runs a chunked kernel's chunks [0, chunks) over `size` threads (see the module doc)."""

    PIECES_PER_THREAD = 2  # pieces a call is cut into, per thread: slack for a late thread

    def __init__(self, size: int) -> None:
        self.size = size
        self.lock = threading.Lock()
        self.queues: list[queue.SimpleQueue] = []  # one per worker thread, started on first use

    def run(self, fn, args: tuple, chunks: int) -> None:
        """fn(*args, c0, c1) over contiguous pieces of the chunks, on up to `size` threads."""
        threads = min(self.size, chunks)
        if threads <= 1 or not self.lock.acquire(blocking=False):
            fn(*args, 0, chunks)
            return
        try:
            while len(self.queues) < threads - 1:
                self.queues.append(queue.SimpleQueue())
                threading.Thread(target=_worker, args=(self.queues[-1],), name="tracead-chunks",
                                 daemon=True).start()
            pieces = min(chunks, threads * self.PIECES_PER_THREAD)
            call = _Call(fn, args, [k * chunks // pieces for k in range(pieces + 1)])
            for q in self.queues[:threads - 1]:
                q.put(call)
            call.work()
            call.all_done.wait()  # every piece finished before the outputs are read
            if call.error is not None:
                raise call.error
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


class BlasTuner:
    """Chooses, per compiled graph, between the BLAS pool's own thread count and 1, by timing
    whole calls (used when TRACEAD_BLAS_THREADS is unset).

    Which is faster depends on what else runs on the machine now, not on the graph alone:
    on idle cores two BLAS threads nearly halve a large matmul, but when the cores are
    busy (other processes, other pools) OpenBLAS's threads rendezvous after each block
    and spin waiting for one another, and a step can take many times longer than on one
    thread (W2 on a loaded 2-core machine: benchmarks/NOTES.md, W2). So the first calls
    alternate the two settings; then each call uses the one with the lower median of its
    last `KEEP` calls, and now and then one call tries the other setting again, less often
    (up to every `MAX_GAP` calls) while the choice stands, more often again when it
    flips. The chosen setting's median follows every call, so when it turns slow (the
    machine got busy) the choice flips within a few calls; a setting turned faster is
    found at the next try. Exploring costs one slower call in up to `MAX_GAP`; calls
    under `MIN_SECONDS` with the pool's own count are left alone.
    """

    KEEP = 5
    FIRST_GAP, MAX_GAP = 16, 256
    MIN_SECONDS = 1e-3  # calls faster than this with the pool's own count keep it

    def __init__(self) -> None:
        self.times: dict[int | None, list[float]] = {None: [], 1: []}
        self.calls = 0
        self.gap, self.next_try = self.FIRST_GAP, 2 * self.KEEP + self.FIRST_GAP

    def best(self) -> int | None:
        """The setting with the lower median so far (None: the pool's own count)."""
        own, one = self.times[None], self.times[1]
        if not own or not one:
            return None
        return 1 if _median(one) < _median(own) else None

    def choose(self) -> int | None:
        """The cap for this call: 1 or None (no cap)."""
        self.calls += 1
        if self.calls <= 2 * self.KEEP:  # learn both
            return 1 if self.calls % 2 else None
        best = self.best()
        if best is None and _median(self.times[None]) < self.MIN_SECONDS:
            return None  # too short for the cap's own cost (threadpoolctl: some µs) to pay
        if self.calls >= self.next_try:
            return 1 if best is None else None
        return best

    def record(self, cap: int | None, seconds: float) -> None:
        before = self.best()
        times = self.times[cap]
        times.append(seconds)
        del times[:-self.KEEP]
        if self.calls >= self.next_try:  # an exploring call: back off while the choice stands
            self.gap = self.FIRST_GAP if self.best() != before else min(2 * self.gap, self.MAX_GAP)
            self.next_try = self.calls + self.gap

    @staticmethod
    def available() -> bool:
        try:
            BlasCap.libraries()
        except ImportError:
            return False
        return True


def _median(times: list[float]) -> float:
    return sorted(times)[len(times) // 2] if times else float("inf")
