"""How much of torch's op surface tracead covers: each probe of `op_coverage_probes`
run with torch and with tracead, values, dtypes and gradients compared.

    python tests/op_coverage.py                      # eager, summary by family
    python tests/op_coverage.py --modes eager,interpret -v   # + compiled, list failures

A probe passes in a mode when tracead's result has torch's shape, dtype and
values (NaN-aware, float32 tolerances) and, where an input requires grad,
the gradient of `(out * c).sum()` for a fixed random `c` matches torch's
(`c` is the same in both libraries). Compiled modes call `ta.compile(fn)`
twice and require the second call to have run compiled, for the forward
value and for the gradient (`ta.grad` of the same sum, compiled).
`tests/test_op_coverage.py` runs this in the test suite against a list of
known gaps, so a probe that starts failing, or one that starts passing,
is reported.
"""
from __future__ import annotations

import argparse
import math
import sys
import warnings
import zlib
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from op_coverage_probes import FAMILIES  # noqa: E402


def make_inputs(spec: list, seed: int) -> list[tuple[np.ndarray, bool]]:
    """(array, differentiable) per input spec (see op_coverage_probes' docstring)."""
    rng = np.random.default_rng(seed)
    out = []
    for s in spec:
        if isinstance(s, tuple):
            out.append((rng.uniform(-2, 2, s).astype(np.float32), True))
            continue
        if isinstance(s, list):
            a = np.array(s)
            if a.dtype.kind == "f":
                a = a.astype(np.float32)
            out.append((a, a.dtype.kind == "f"))
            continue
        kind, rest = s[0], s[1:]
        shape_text, _, high = rest.partition(":")
        shape = tuple(int(d) for d in shape_text.split(",") if d)
        if kind == "i":
            out.append((rng.integers(0, int(high), shape).astype(np.int64), False))
        elif kind == "b":
            out.append((rng.random(shape) > 0.5, False))
        elif kind == "n":
            out.append((rng.integers(-3, 4, shape).astype(np.float32), False))
        else:
            lo, hi = {"p": (0.5, 2.0), "u": (-0.9, 0.9), "g": (1.1, 3.0)}[kind]
            out.append((rng.uniform(lo, hi, shape).astype(np.float32), True))
    return out


def _namespace(lib, arrays):
    ns = {"T": lib, "F": lib.nn.functional, "nn": lib.nn, "np": np, "math": math}
    for names, a in zip((("x",), ("y", "w"), ("z", "b")), arrays):
        for n in names:
            ns[n] = a
    return ns


def _flatten(out) -> list:
    """Outputs as a flat list of arrays / Python values (tuples and lists opened)."""
    if isinstance(out, (tuple, list)) and not _is_shape(out):
        return [leaf for item in out for leaf in _flatten(item)]
    if hasattr(out, "detach") and hasattr(out, "numpy"):  # torch.Tensor
        return [out.detach().numpy()]
    if hasattr(out, "_aval"):  # tracead.Tensor
        return [np.asarray(out)]
    return [tuple(out) if _is_shape(out) else out]


def _is_shape(out) -> bool:
    """torch.Size, or a plain tuple of Python ints (tracead's `x.shape`, `x.size()`)."""
    return type(out).__name__ == "Size" or (type(out) is tuple and all(
        type(d) is int for d in out))


def _same(got, want) -> str | None:
    """None when equal, else why not."""
    if isinstance(want, np.ndarray) or isinstance(got, np.ndarray):
        got, want = np.asarray(got), np.asarray(want)
        if got.shape != want.shape:
            return f"shape {got.shape} != torch {want.shape}"
        if got.dtype != want.dtype:
            return f"dtype {got.dtype} != torch {want.dtype}"
        if want.dtype.kind in "fc":
            tol = 1e-4 if want.dtype == np.float32 else 1e-9
            ok = np.isclose(got, want, rtol=tol * 10, atol=tol, equal_nan=True)
            if not ok.all():
                i = np.argwhere(~ok)[0]
                return f"value {got[tuple(i)]} != torch {want[tuple(i)]} at {tuple(i)}"
            return None
        return None if np.array_equal(got, want) else "values differ"
    if isinstance(want, float) or isinstance(got, float):
        return None if math.isclose(got, want, rel_tol=1e-4, abs_tol=1e-5) else f"{got} != {want}"
    return None if got == want else f"{got!r} != torch {want!r}"


def _torch_run(torch, expr, inputs, cot_seed):
    arrays = [torch.tensor(a, requires_grad=bool(d)) for a, d in inputs]
    out = eval(expr, _namespace(torch, arrays))  # noqa: S307  (the probe table is ours)
    values = _flatten(out)
    grads = None
    first = _first_float(out, torch.Tensor)
    if first is not None and first.requires_grad:
        c = np.random.default_rng(cot_seed).standard_normal(first.shape).astype(first.detach().numpy().dtype)
        (first * torch.tensor(c)).sum().backward()
        grads = [None if not d else (t.grad.numpy() if t.grad is not None else np.zeros_like(a))
                 for t, (a, d) in zip(arrays, inputs)]
    return values, grads


def _first_float(out, tensor_type):
    if isinstance(out, (tuple, list)):
        for item in out:
            found = _first_float(item, tensor_type)
            if found is not None:
                return found
        return None
    if isinstance(out, tensor_type) and np.dtype(str(out.dtype).replace("torch.", "")).kind == "f":
        return out
    return None


def _ta_run(ta, expr, inputs, cot_seed, mode):
    def fn(*arrays):
        return eval(expr, _namespace(ta, arrays))  # noqa: S307

    diff = tuple(i for i, (_, d) in enumerate(inputs) if d)
    if mode == "eager":
        arrays = [ta.tensor(a, requires_grad=bool(d)) for a, d in inputs]
        out = fn(*arrays)
        values = _flatten(out)
        first = _first_float(out, ta.Tensor)
        grads = None
        if first is not None and diff and first.requires_grad:
            c = np.random.default_rng(cot_seed).standard_normal(first.shape).astype(first.dtype)
            (first * ta.tensor(c)).sum().backward()
            grads = [None if not d else (np.asarray(t.grad) if t.grad is not None else np.zeros_like(a))
                     for t, (a, d) in zip(arrays, inputs)]
        return values, grads
    compiled = ta.compile(fn, backend=mode)
    fresh = lambda: [ta.tensor(a) for a, _ in inputs]  # noqa: E731
    compiled(*fresh())
    out = compiled(*fresh())
    _assert_compiled(compiled, "forward")
    values = _flatten(out)
    first = _first_float(out, ta.Tensor)
    grads = None
    if first is not None and diff:
        c = np.random.default_rng(cot_seed).standard_normal(first.shape).astype(first.dtype)

        def loss(*arrays):
            return (_first_float(fn(*arrays), ta.Tensor) * ta.tensor(c)).sum()
        g = ta.compile(ta.grad(loss, argnums=diff), backend=mode)
        g(*fresh())
        got = g(*fresh())
        _assert_compiled(g, "gradient")
        got = got if isinstance(got, tuple) else (got,)
        by_index = dict(zip(diff, got))
        grads = [np.asarray(by_index[i]) if i in by_index else None for i in range(len(inputs))]
    return values, grads


def _assert_compiled(compiled, what):
    stats = compiled.stats
    if not (stats["hits"] >= 1 and stats["eager_calls"] == 0):
        raise RuntimeError(f"{what} did not run compiled: {dict(stats)}")


def run_probe(expr: str, spec: list, mode: str) -> tuple[str, str]:
    """('pass' | 'fail' | 'torch-error', reason) for one probe in one mode."""
    import torch

    import tracead as ta

    seed = zlib.crc32(f"{expr}{spec}".encode())
    inputs = make_inputs(spec, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            want, want_g = _torch_run(torch, expr, inputs, seed + 1)
        except Exception as e:  # noqa: BLE001
            return "torch-error", f"{type(e).__name__}: {e}"
        try:
            got, got_g = _ta_run(ta, expr, inputs, seed + 1, mode)
        except Exception as e:  # noqa: BLE001
            return "fail", f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:160]
    if len(got) != len(want):
        return "fail", f"{len(got)} outputs, torch has {len(want)}"
    for k, (g, w) in enumerate(zip(got, want)):
        why = _same(g, w)
        if why:
            return "fail", f"output {k}: {why}"
    if want_g is not None:
        if got_g is None:
            return "fail", "no gradient"
        for k, (g, w) in enumerate(zip(got_g, want_g)):
            if w is not None:
                why = _same(np.asarray(g, w.dtype) if g is not None else np.zeros_like(w), w)
                if why:
                    return "fail", f"grad of input {k}: {why}"
    return "pass", ""


def all_probes():
    """[(family, expr, spec)] in table order."""
    return [(fam, expr, spec) for fam, probes in FAMILIES.items() for expr, spec in probes]


def probe_id(expr: str, spec: list) -> str:
    return f"{expr} {spec}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default="eager", help="comma list: eager, interpret, numba")
    parser.add_argument("-v", "--verbose", action="store_true", help="list every failure")
    parser.add_argument("-k", default="", help="only probes whose expression contains this")
    args = parser.parse_args(argv)
    modes = [m for m in args.modes.split(",") if m]
    by_family: dict[str, Counter] = {}
    failures = []
    for fam, expr, spec in all_probes():
        if args.k not in expr:
            continue
        counts = by_family.setdefault(fam, Counter())
        results = {m: run_probe(expr, spec, m) for m in modes}
        if any(r[0] == "torch-error" for r in results.values()):
            counts["torch-error"] += 1
            failures.append((fam, "torch-error", expr, spec, results[modes[0]][1]))
            continue
        counts["total"] += 1
        ok = all(r[0] == "pass" for r in results.values())
        counts["pass"] += ok
        for m, (status, why) in results.items():
            counts[f"pass-{m}"] += status == "pass"
            if status != "pass":
                failures.append((fam, m, expr, spec, why))
    total = Counter()
    width = max(len(f) for f in by_family) if by_family else 10
    print(f"{'family':<{width}}  " + "  ".join(f"{m:>9}" for m in modes) + "   all modes")
    for fam, c in by_family.items():
        total.update(c)
        print(f"{fam:<{width}}  " + "  ".join(f"{c[f'pass-{m}']:>4}/{c['total']:<4}" for m in modes)
              + f"   {c['pass']}/{c['total']}")
    print(f"{'TOTAL':<{width}}  " + "  ".join(f"{total[f'pass-{m}']:>4}/{total['total']:<4}" for m in modes)
          + f"   {total['pass']}/{total['total']}"
          + (f"   ({total['torch-error']} probes torch rejects)" if total["torch-error"] else ""))
    if args.verbose:
        for fam, m, expr, spec, why in failures:
            print(f"  [{m}] {fam}: {expr}  {spec}\n      {why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
