"""Compile cost of large graphs: a linear planner, bounded kernels, canonical cache
keys (kernels identical up to renaming compile once), the compile ledger.

Structure is asserted, never time: a 3 000-node chain must come out as pieces of
at most MAX_KERNEL_NODES (the old planner made it one kernel, in seconds of
quadratic merging, and LLVM then took minutes over it).
"""
import math

import numpy as np
import pytest

import tracead as ta
from tracead.backends.numba import cache
from tracead.backends.numba.codegen import generate
from tracead.backends.numba.writer import Names
from tracead.plan import plan_fusion
from tracead.plan.split import HEAVY_WEIGHT, MAX_KERNEL_COST, MAX_KERNEL_NODES, compile_weight
from tracead.trace.capture import capture


@pytest.fixture(scope="module", autouse=True)
def kernel_cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TRACEAD_CACHE_DIR", str(tmp_path_factory.mktemp("tracead_cache")))
        cache.clear_memory()
        yield
        cache.clear_memory()


def chain(steps):
    def f(x):
        for _ in range(steps):
            x = ta.tanh(x * 0.9 + 0.1)
        return x.sum()
    return f


def chain_ref(x, steps):
    for _ in range(steps):
        x = np.tanh(x * 0.9 + 0.1)
    return x.sum()


def optimised(fn, *args):
    f = ta.compile(fn, backend="interpret")
    f(*args)
    return f.order[-1].forward_graph


def assert_partition(schedule):
    ids = [n.out.id for k in schedule.kernels for n in k.nodes]
    assert sorted(ids) == sorted(n.out.id for n in schedule.graph.nodes)


def test_a_3000_node_chain_plans_into_bounded_pieces():
    graph = optimised(chain(1000), np.linspace(-1, 1, 64))
    assert len(graph.nodes) == 3001
    schedule = plan_fusion(graph)
    assert_partition(schedule)
    sizes = [len(k.nodes) for k in schedule.kernels]
    assert max(sizes) <= MAX_KERNEL_NODES
    # 3 000 elementwise nodes (1 000 tanh) in the fewest pieces, and the sum in its own kernel
    per_piece = MAX_KERNEL_COST // (HEAVY_WEIGHT + 2) * 3  # whole tanh(0.9 * x + 0.1) blocks
    assert len(schedule.kernels) == math.ceil(3000 / per_piece) + 1
    pieces = [k for k in schedule.kernels if k.kind == "elementwise"]
    assert all(k.reason.startswith("split ") and "LLVM" in k.reason for k in pieces)
    assert "B of memory traffic" in pieces[1].reason


def test_value_and_grad_of_a_long_chain_plans_into_bounded_pieces():
    graph = optimised(ta.value_and_grad(chain(700)), np.linspace(-1, 1, 64))
    schedule = plan_fusion(graph)
    assert_partition(schedule)
    weights = [sum(compile_weight(n) for n in k.nodes) for k in schedule.kernels]
    assert max(len(k.nodes) for k in schedule.kernels) <= MAX_KERNEL_NODES
    assert max(weights) <= MAX_KERNEL_COST
    assert len(schedule.kernels) <= 2 * math.ceil(sum(weights) / MAX_KERNEL_COST) + 2


def test_small_graphs_are_not_split():
    graph = optimised(ta.value_and_grad(chain(5)), np.linspace(-1, 1, 64))
    schedule = plan_fusion(graph)
    assert len(schedule.kernels) == 1 and "split" not in schedule.kernels[0].reason


@pytest.fixture
def small_budget(monkeypatch):
    """Kernels of at most 64 compile weight (6 tanh blocks): split graphs stay cheap to compile."""
    from tracead.plan import fuse, split

    for module in (fuse, split):
        monkeypatch.setattr(module, "MAX_KERNEL_COST", 64)
    return 64


def test_split_chain_matches_numpy_and_its_pieces_compile_once(small_budget):
    steps, x = 24, np.linspace(-2, 2, 37)  # 72 elementwise nodes: 4 pieces, the middle two alike
    f = ta.compile(chain(steps))
    f(x)
    got = f(x)  # the second call runs the kernels
    assert f.stats["hits"] >= 1
    np.testing.assert_allclose(float(got.numpy()), chain_ref(x, steps), rtol=1e-12)
    kernels = f.order[-1].forward_exec.kernels
    assert len(kernels) >= 4 and all("split" in k.reason for k in kernels[:-1])
    ledger = f.order[-1].ledger
    assert max(sum(compile_weight(n) for n in k.nodes) for k in f.order[-1].forward_exec.schedule.kernels) <= 64
    assert ledger.counts()["reused"] >= 1  # a piece identical to an earlier one, renamed
    reused = next(k for k in kernels if k.cache == "hit (in memory)")
    graph = f.order[-1].forward_graph
    names = Names(graph)
    own = [names.node(n) for n in graph.nodes if n.out.id in reused.node_ids]
    assert all(line in reused.source for line in own)  # its own graph names and lines ...
    assert not any(line in kernels[0].source for line in own)  # ... not the first piece's


def test_split_with_a_broadcast_row_value_matches_numpy(small_budget):
    x, col = np.linspace(-1, 1, 24).reshape(4, 6), np.linspace(0.5, 1.0, 4).reshape(4, 1)

    def f(x, col):
        scale = col * 0.5  # a (4, 1) value read by every piece of the (4, 6) chain
        for _ in range(50):
            x = ta.tanh(x * scale + 0.1)
        return x

    def ref(x, col):
        for _ in range(50):
            x = np.tanh(x * (col * 0.5) + 0.1)
        return x

    compiled = ta.compile(f, jit=False)  # generated Python: the plan and code, not LLVM, are tested
    compiled(x, col)
    np.testing.assert_allclose(compiled(x, col).numpy(), ref(x, col), rtol=1e-12)
    assert compiled.stats["hits"] >= 1
    kernels = compiled.order[-1].forward_exec.schedule.kernels
    assert len(kernels) > 5 and all("split" in k.reason for k in kernels)
    assert kernels[0].shape == (4, 1)  # the row value first, on its own: it crosses every cut


def _kernel_key(fn, *args):
    graph = capture(fn, args, {}).graph
    schedule = plan_fusion(graph)
    kernel = [k for k in schedule.kernels if k.kind != "opaque"][-1]
    code = generate(kernel, Names(graph))
    return cache.file_text(code.body)[0], code.body


def test_canonical_keys_ignore_names_and_comments_not_code():
    x = np.linspace(-1, 1, 8)
    key1, body1 = _kernel_key(lambda x: ta.tanh(x * 2.0 + 1.0), x)
    # the same kernel in a larger graph: other value ids, other source line
    key2, body2 = _kernel_key(lambda x: ta.tanh(ta.exp(x).reshape(2, 4).reshape(8) * 2.0 + 1.0), x)
    key3, _ = _kernel_key(lambda x: ta.sigmoid(x * 2.0 + 1.0), x)
    key4, _ = _kernel_key(lambda x: ta.tanh(x * 2.0 - 1.0), x)
    assert body1 != body2  # different comments (graph names, lines) ...
    assert key1 == key2  # ... one kernel
    assert len({key1, key3, key4}) == 3


def test_identical_blocks_compile_once_in_process():
    w = np.eye(4) * 0.5

    def f(x, w):
        for _ in range(3):  # three identical blocks between matmuls: one kernel module
            x = ta.tanh((x @ w) * 0.9 + 0.1) * 2.0
        return x.sum()

    x = np.linspace(-1, 1, 16).reshape(4, 4)
    cf = ta.compile(f)
    cf(x, w)
    got = float(cf(x, w).numpy())
    ref = x
    for _ in range(3):
        ref = np.tanh((ref @ w) * 0.9 + 0.1) * 2.0
    np.testing.assert_allclose(got, ref.sum(), rtol=1e-12)
    statuses = [k.status for k in cf.order[-1].ledger.kernels]
    assert statuses.count("reused") >= 1, statuses


def test_ledger_stages_and_explain_section():
    x = np.linspace(-1, 1, 16)
    f = ta.compile(ta.value_and_grad(chain(3)))
    f(x)
    f(x)
    ledger = f.order[-1].ledger
    for stage in ("trace", "passes", "plan", "memory plan", "codegen", "cache load", "llvm"):
        assert stage in ledger.stages and ledger.stages[stage] >= 0
    assert ledger.total_seconds > 0 and sum(ledger.counts().values()) == len(ledger.kernels) >= 1
    assert ledger.compiled_call_seconds is not None and ledger.break_even_calls is not None
    d = ledger.as_dict()
    assert d["kernels"] == ledger.counts() and d["per_kernel"][0]["nodes"] >= 1
    text = str(ta.explain(f, x))
    assert "compile ledger:" in text and "kernels:" in text


def _wide_value_and_grad(x, **options):
    def f(x):
        total = None
        for i in range(6):  # distinct kernels: each term its own constants' positions
            term = ta.exp(ta.tanh(x * (1.0 + 0.25 * i)) * (i + 1))
            total = term if total is None else total * term
        return total.sum()

    cf = ta.compile(ta.value_and_grad(f), **options)
    cf(x)
    value, grad = cf(x)
    assert cf.stats["hits"] >= 1
    return cf, float(value.numpy()), grad.numpy()


def test_parallel_cold_compile_equals_in_process(fresh_cache, small_budget):
    x = np.linspace(-0.5, 0.5, 33)
    serial, v1, g1 = _wide_value_and_grad(x, compile_workers=0)
    cache.clear_memory()
    for path in fresh_cache.rglob("*"):  # cold again: nothing on disk
        if path.is_file():
            path.unlink()
    parallel, v2, g2 = _wide_value_and_grad(x, compile_workers=1, parallel_compile_threshold=0)
    assert v1 == v2 and np.array_equal(g1, g2)
    ledger = parallel.order[-1].ledger
    assert ledger.parallel_workers == 1 and serial.order[-1].ledger.parallel_workers == 0
    assert any("compiled by a worker process" in k.cache for k in ledger.kernels)  # Numba cache hits
    assert not any("worker process failed" in k.cache for k in ledger.kernels)


def test_a_failing_compile_worker_falls_back_to_in_process(fresh_cache, small_budget, monkeypatch):
    import subprocess
    import sys

    from tracead.backends.numba import compile_workers

    def broken(jobs):  # a worker that dies at once, having compiled nothing
        return subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])

    monkeypatch.setattr(compile_workers, "start", broken)
    x = np.linspace(-0.5, 0.5, 33)
    cf, value, grad = _wide_value_and_grad(x, compile_workers=1, parallel_compile_threshold=0)
    assert any("worker process failed, compiled here" in k.cache for k in cf.order[-1].ledger.kernels)
    ref = _wide_value_and_grad(x, backend="interpret")
    np.testing.assert_allclose(value, ref[1], rtol=1e-12)
    np.testing.assert_allclose(grad, ref[2], rtol=1e-12)


def test_explain_gives_split_pieces_the_size_cap_code(small_budget):
    from tracead.tools.fusion_report import fusion_report

    graph = optimised(chain(20), np.linspace(-1, 1, 8))
    report = fusion_report(plan_fusion(graph))
    between_pieces = [e for e in report.edges if e.dst == e.src + 1 and e.dst < 3]
    assert between_pieces and all(e.code == "size-cap" for e in between_pieces)
