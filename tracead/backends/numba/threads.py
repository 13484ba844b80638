"""Which Numba threading layer parallel kernels run on (backend stage: run).

Numba's default layer here is OpenMP (libgomp). Its worker threads spin after
each parallel region, and NumPy's OpenBLAS threads spin after each matmul; on
a machine with few cores the two pools take the cores from each other, and a
parallel kernel or a BLAS call right after the other waits for a scheduler
tick (4 ms). Measured on this 2-core machine, W2 at batch 64 (matmuls
between parallel epilogues): 14.5 ms per step on OpenMP, 1.5 ms on the
`workqueue` layer, whose threads sleep when idle (NumPy eager: 3.0 ms).
A single parallel kernel launches slower on workqueue (~20 us vs ~6 us at
70k elements), which PARALLEL_THRESHOLD (codegen.py) should account for.

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
    process holds. Measured on this 2-core machine under load ~12, W2 steps
    side by side in one process: B=64 127 ms with 2 BLAS threads, 2.0 ms with 1;
    B=1024 228 ms vs 69 ms (NumPy hand-written: 130 vs 7.8 ms, 123 vs 68 ms).
    On an idle machine 2 threads are faster for large matmuls, so the cap is
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
