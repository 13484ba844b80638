"""A value-dependent branch inside a compiled function is guarded, not frozen.

`if x.sum() > 0:` is Python control flow on a tensor value: `bool()` of a
traced tensor. The tracer records the boolean it saw as a guard, computed in
the compiled graph; a call where it differs re-traces (and says why), so the
compiled function never takes the wrong branch. Guarding `bool(x.sum() > 0)`
rather than `x.sum().item() > 0` matters: the latter guards the exact float,
so any new data would re-trace.

    python examples/guarded_branch.py
"""
import numpy as np

import tracead as ta


@ta.compile
def scaled(x):
    if x.sum() > 0:  # bool(tensor): a concretisation point, guarded
        return x * 2.0
    return -x


def main() -> None:
    rng = np.random.default_rng(0)
    pos, neg = rng.uniform(0.1, 1, 4), -rng.uniform(0.1, 1, 4)
    for data in (pos, neg, pos * 3, neg * 3):
        print(f"sum {data.sum():+.0f} -> {scaled(data).numpy()}")
    print(f"compiles: {scaled.stats['misses']}, reuses: {scaled.stats['hits']}")
    for i, reason in enumerate(scaled.recompile_reasons):
        print(f"  compile {i + 1}: {reason}")
    print("guards of the latest variant:")
    for line in scaled.guards():
        print("  " + line)


if __name__ == "__main__":
    main()
