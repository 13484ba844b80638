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
