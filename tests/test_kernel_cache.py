"""The on-disk kernel cache heals itself and never stops a compile.

A damaged entry (our generated module, Numba's index `.nbi` or compiled code
`.nbc`, even one byte) is detected, deleted and rebuilt in the next process,
with one warning; an unusable cache directory makes the process use a
private temporary one, with one warning; TRACEAD_CACHE_DIR='' is the default
directory, not the working directory.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tracead as ta
from tracead import config
from tracead.backends.numba import cache

# Three distinct kernels; prints their cache status, paths and values as JSON.
_PROBE = r"""
import json, warnings, numpy as np, tracead as ta
from tracead.backends.numba.backend import NumbaBackend
from tracead.trace.capture import capture
fns = [lambda x: ta.exp(x) * 2.0 + x, lambda x: ta.tanh(x) - 3.0 * x, lambda x: (x * x + 1.5).sum(axis=1)]
x = np.linspace(-1.0, 1.0, 20).reshape(4, 5)
report = {"cache": [], "paths": [], "values": [], "warnings": []}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    for fn in fns:
        exe = NumbaBackend({}).compile(capture(fn, (x,), {}).graph, "probe")
        report["cache"] += [k.cache for k in exe.kernels if k.path]
        report["paths"] += [k.path for k in exe.kernels if k.path]
        report["values"].append(exe([x])[0].tolist())
report["warnings"] = [str(w.message) for w in caught if "tracead" in str(w.message)]
print(json.dumps(report))
"""


def _probe(cache_dir: Path) -> dict:
    env = dict(os.environ, TRACEAD_CACHE_DIR=str(cache_dir))
    done = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def _numba_file(kernel_path: str, suffix: str) -> Path:
    path = Path(kernel_path)
    (found,) = (path.parent / "__pycache__").glob(f"{path.stem}.*{suffix}")
    return found


def test_damaged_entries_heal_in_the_next_process(tmp_path):
    x = np.linspace(-1.0, 1.0, 20).reshape(4, 5)
    want = [np.exp(x) * 2.0 + x, np.tanh(x) - 3.0 * x, (x * x + 1.5).sum(axis=1)]
    cold = _probe(tmp_path)
    assert all(c.startswith("miss") for c in cold["cache"]) and not cold["warnings"]
    a, b, c = cold["paths"]
    index = _numba_file(a, ".nbi")  # truncated: was UnpicklingError in every later process
    index.write_bytes(index.read_bytes()[:50])
    code = _numba_file(b, ".nbc")  # one byte: was LLVM aborting the process
    raw = bytearray(code.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    code.write_bytes(bytes(raw))
    module = Path(c)  # our own module file, edited
    module.write_text(module.read_text().replace(" + ", " - ", 1))

    healed = _probe(tmp_path)
    assert len(healed["warnings"]) == 1 and "damaged" in healed["warnings"][0], healed["warnings"]
    again = _probe(tmp_path)
    assert again["cache"] == ["hit"] * 3 and not again["warnings"]
    for run in (cold, healed, again):
        for got, ref in zip(run["values"], want):
            np.testing.assert_allclose(got, ref, rtol=1e-14)


@pytest.fixture
def fresh_cache_state(monkeypatch):
    """No kernel imported yet, no warning given, no private directory chosen."""
    monkeypatch.setattr(cache, "_WARNED", set())
    monkeypatch.setattr(cache, "_PRIVATE", {})
    cache.clear_memory()
    yield monkeypatch
    cache.clear_memory()


def _compile_and_check(fn, ref):
    x = np.linspace(-2.0, 2.0, 12).reshape(3, 4)
    cf = ta.compile(fn)
    cf(x)
    got = cf(x)
    assert cf.stats["hits"] >= 1 and cf.stats["eager_calls"] == 0
    np.testing.assert_allclose(got.numpy(), ref(x), rtol=1e-14)
    return cf


@pytest.mark.parametrize("where", ["under a regular file", "/dev/null/x"])
def test_unusable_directory_falls_back_to_a_private_one(tmp_path, fresh_cache_state, where):
    # Tests run as root, so a chmod would not stop writes: a path through a file does.
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    target = str(blocker / "cache") if where == "under a regular file" else where
    fresh_cache_state.setenv("TRACEAD_CACHE_DIR", target)
    with pytest.warns(RuntimeWarning, match="cannot use the kernel cache directory") as caught:
        _compile_and_check(lambda x: ta.exp(x) * 3.0 - x, lambda x: np.exp(x) * 3.0 - x)
        _compile_and_check(lambda x: ta.tanh(x) + 0.25 * x, lambda x: np.tanh(x) + 0.25 * x)
    assert len([w for w in caught if "tracead" in str(w.message)]) == 1
    private = cache.kernels_dir()
    assert private != Path(target) / "kernels" and private.is_dir()
    assert any(private.glob("k_*.py"))


def test_empty_cache_dir_means_the_default_not_the_working_directory(tmp_path, fresh_cache_state):
    fresh_cache_state.chdir(tmp_path)
    fresh_cache_state.setenv("TRACEAD_CACHE_DIR", "")
    assert config.cache_dir() == os.path.join(os.path.expanduser("~"), ".cache", "tracead")
    _compile_and_check(lambda x: ta.exp(x) * 5.0 - x, lambda x: np.exp(x) * 5.0 - x)
    assert not (tmp_path / "kernels").exists() and not list(tmp_path.iterdir())


def test_relative_cache_dir_is_made_absolute(tmp_path, fresh_cache_state):
    fresh_cache_state.chdir(tmp_path)
    fresh_cache_state.setenv("TRACEAD_CACHE_DIR", "rel")
    assert config.cache_dir() == str(tmp_path / "rel")


# -- what a dropped compiled function leaves behind ------------------------------------------
def _distinct(i: int):
    """A function whose kernel differs for every i (a different chain of ops)."""
    ops = [ta.exp, ta.tanh, ta.sigmoid, ta.abs]
    chain = [ops[(i >> (2 * k)) % 4] for k in range(4)]

    def fn(x):
        for k, op in enumerate(chain):
            x = op(x) * (0.5 + 0.1 * k)
        return x

    def twin(x):
        for k, op in enumerate(chain):
            x = {ta.exp: np.exp, ta.tanh: np.tanh, ta.abs: np.abs,
                 ta.sigmoid: lambda v: 1 / (1 + np.exp(-v))}[op](x) * (0.5 + 0.1 * k)
        return x

    return fn, twin


def _kernel_modules() -> set[str]:
    return {name for name in sys.modules if name.startswith("tracead_kernel_")}


def _run(i: int, **options):
    fn, twin = _distinct(i)
    x = np.linspace(-1.0, 1.0, 8)
    cf = ta.compile(fn, **options)
    cf(x)
    np.testing.assert_allclose(cf(x).numpy(), twin(x), rtol=1e-12)
    assert cf.stats["hits"] >= 1
    return cf


def test_dropped_functions_release_their_kernel_modules(fresh_cache_state):
    import gc
    import linecache

    fresh_cache_state.setattr(cache, "MEMORY_LIMIT", 4)
    lines_before, modules_before = len(linecache.cache), _kernel_modules()
    kept = _run(0, jit=False)  # stays alive through all the evictions below
    for i in range(1, 13):
        _run(i, jit=False)
    gc.collect()
    assert len(cache._MEMORY) <= 4
    assert len(_kernel_modules() - modules_before) <= 5  # the in-memory ones and the kept one's
    assert len(linecache.cache) <= lines_before + 5  # no generated call source left behind
    x = np.linspace(-1.0, 1.0, 8)
    np.testing.assert_allclose(kept(x).numpy(), _distinct(0)[1](x), rtol=1e-12)
    del kept
    gc.collect()
    assert len(_kernel_modules() - modules_before) <= 4


def test_memory_of_dropped_jitted_functions_stays_bounded(fresh_cache_state):
    """Each dropped function with its own kernel used to keep ~160 KiB of Python objects
    (plus its Numba dispatcher's LLVM modules, ~2 MiB of native memory); what stays now is
    what Numba never frees (its JIT engine keeps the machine code, ~20 KiB traced)."""
    import gc
    import tracemalloc

    fresh_cache_state.setattr(cache, "MEMORY_LIMIT", 2)
    for i in range(100, 104):  # warm up: Numba's own one-off allocations
        _run(i)
    gc.collect()
    modules_before = _kernel_modules()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        n = 10
        for i in range(200, 200 + n):
            _run(i)
        gc.collect()
        grown = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(before, "filename"))
    finally:
        tracemalloc.stop()
    assert grown / n < 80 * 1024, f"{grown / n / 1024:.0f} KiB per dropped function"
    assert len(cache._MEMORY) <= 2 and len(_kernel_modules() - modules_before) <= 2
