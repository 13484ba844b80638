"""Which Numba threading layer parallel kernels run on (backend stage: run).

Numba's default layer here is OpenMP (libgomp). Its worker threads spin after
each parallel region, and NumPy's OpenBLAS threads spin after each matmul; on
a machine with few cores the two pools take the cores from each other, and a
parallel kernel or a BLAS call right after the other waits for a scheduler
tick. On this 2-core machine a W2 step (matmuls between parallel epilogues)
ran about ten times faster on the `workqueue` layer, whose threads sleep when
idle, than on OpenMP (benchmarks/NOTES.md). A single parallel kernel launches
slower on workqueue, which PARALLEL_THRESHOLD (codegen.py) accounts for.

So the backend asks for workqueue, unless the user chose a layer
(NUMBA_THREADING_LAYER, or numba.config set in code) or Numba already
started one. Workqueue must not be entered by two threads at once (Numba
aborts the process), and which layer "default" resolves to is known only
after the first launch, so every parallel kernel call holds `LOCK` (`locked`);
serial kernels never take it. Parallel kernels are large (PARALLEL_THRESHOLD
elements), so the lock costs nothing measurable, and on a machine this small
two parallel kernels at once would only oversubscribe the cores.
"""
from __future__ import annotations

import threading

import numba

LAYER = "workqueue"
LOCK = threading.Lock()


def choose_layer() -> None:
    """Ask for workqueue before the first parallel launch, if nobody chose yet."""
    from numba.np.ufunc import parallel

    if not parallel._is_initialized and numba.config.THREADING_LAYER == "default":
        numba.config.THREADING_LAYER = LAYER


def locked(fn):
    """fn, called under LOCK (for a parallel kernel's dispatcher)."""
    def call(*args):
        with LOCK:
            return fn(*args)
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
