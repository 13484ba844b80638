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
