"""The long fuzz run: many random programs through one backend, outside pytest.

    python -m tests.fuzz --programs 10000 --backend interpret
    python -m tests.fuzz --programs 1000 --backend numba --small

Each program (programs.py, from a seeded RNG: program i of seed s is the same
on every run) is called as a user would (`check_scenario`: scalars, outside
state updated in place, .grad reads, zero sizes, identities, resizes, a new size on
every call), and
plain programs also have their compiled gradients compared with central
differences of the NumPy twin. Some calls also rebind the outside tensors
(a dict entry, a module attribute), read an argument's .grad, or pass 0.0 then
-0.0 as a scalar. `--small` draws from a few ops and small
shapes, so Numba kernels repeat and the kernel cache keeps compile time down.
Prints a summary and writes each failing program to --log.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import tracead as ta  # noqa: E402
from programs import Features, RngChoices, check_scenario, random_program  # noqa: E402

FEATURE_SETS = [
    Features(),
    Features(scalars=True, free=True, grads=True, zero_size=True, identity=True, special=True, resize=True),
    Features(scalars=True, identity=True, special=True),
    Features(zero_size=True, resize=True, identity=True),
    Features(free=True, grads=True, special=True),
    Features(scalars=True, free=True, resize=True, identity=True, sizes=4),  # dynamic shapes
]
SMALL_OPS = ("neg", "tanh", "square", "relu", "add", "mul", "sub", "maximum")


def check_gradients(program, backend: str, rng) -> None:
    """Compiled value_and_grad of <ct, f> against central differences of the NumPy twin."""
    out = program.ref(*program.inputs)
    ct = rng.standard_normal(out.shape)
    argnums = tuple(range(len(program.inputs)))

    def h(*xs):
        return ta.sum(program.fn(*xs) * ct)

    vg = ta.compile(ta.value_and_grad(h, argnums), backend=backend)
    args = [ta.tensor(a) for a in program.inputs]
    vg(*args)
    _, grads = vg(*args)
    assert vg.stats["hits"] == 1, f"gradient never ran compiled: {vg.stats}"
    eps = 1e-6
    for k, (x, g) in enumerate(zip(program.inputs, grads)):
        v = rng.standard_normal(x.shape)
        plus, minus = list(program.inputs), list(program.inputs)
        plus[k], minus[k] = x + eps * v, x - eps * v
        numeric = (np.sum(program.ref(*plus) * ct) - np.sum(program.ref(*minus) * ct)) / (2 * eps)
        reverse = float(np.vdot(g.numpy(), v))
        assert abs(reverse - numeric) <= 1e-6 * (1 + abs(numeric)), (
            f"input {k}: <J^T ct, v> = {reverse!r}, finite differences {numeric!r}\n{program!r}")


def fuzz(programs: int, backend: str, seed: int = 0, small: bool = False, log=None) -> dict:
    counts = {"programs": 0, "mismatches": 0, "errors": 0, "gradient_checks": 0, "compiled_calls": 0}
    start = time.perf_counter()
    for i in range(programs):
        features = FEATURE_SETS[i % len(FEATURE_SETS)]
        if small:
            features = Features(**{**features.__dict__, "ops": SMALL_OPS, "max_dim": 2, "max_nodes": 3})
        choices = RngChoices(seed * 1_000_003 + i)
        try:
            program = random_program(choices, features)
            with np.errstate(all="ignore"):
                counts["compiled_calls"] += check_scenario(
                    program, backend, seed=i, rebind=i % 2 == 1, arg_grad=i % 7 == 3, flip_zero=i % 5 == 2)
                if features == FEATURE_SETS[0] or (small and i % len(FEATURE_SETS) == 0):
                    counts["gradient_checks"] += 1
                    check_gradients(program, backend, np.random.default_rng(i))
        except AssertionError as e:
            counts["mismatches"] += 1
            _report(log, f"program {i} (seed {seed}): MISMATCH\n{e}\n")
        except Exception:  # noqa: BLE001 - an error is a finding too
            counts["errors"] += 1
            _report(log, f"program {i} (seed {seed}): ERROR\n{traceback.format_exc()}\n")
        counts["programs"] += 1
        if (i + 1) % 500 == 0:
            print(f"{i + 1} programs, {counts['mismatches']} mismatches, {counts['errors']} errors, "
                  f"{time.perf_counter() - start:.0f} s", flush=True)
    counts["seconds"] = round(time.perf_counter() - start, 1)
    return counts


def _report(log, text: str) -> None:
    if log is not None:
        log.write(text + "\n" + "-" * 80 + "\n")
        log.flush()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--programs", type=int, default=1000)
    parser.add_argument("--backend", choices=["eager", "interpret", "numba"], default="interpret")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--small", action="store_true", help="few ops, small shapes (kernel cache hits)")
    parser.add_argument("--log", default="fuzz_failures.log")
    args = parser.parse_args(argv)
    import warnings

    warnings.simplefilter("ignore")
    with open(args.log, "w") as log:
        counts = fuzz(args.programs, args.backend, args.seed, args.small, log)
    print(f"backend {args.backend}: {counts}  (failures in {args.log})")
    return 1 if counts["mismatches"] or counts["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
