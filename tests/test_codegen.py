"""The Numba backend: generated kernels against the reference interpreter.

Kernels of every kind are built by hand from captured graphs (one kernel per
graph), so each code path of codegen.py is exercised whatever the fusion
planner decides; `ta.compile(backend="numba")` checks values and gradients
end to end against eager. Numba compiles are slow (~0.5 s each), so cases
are few and each packs many ops into one kernel. The kernel cache lives in a
temporary directory per module (TRACEAD_CACHE_DIR).
"""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import tracead as ta
from tracead.backends.numba import cache
from tracead.backends.numba.backend import NumbaBackend
from tracead.ir import interpret
from tracead.plan.schedule import Kernel, Schedule
from tracead.trace.capture import capture

RNG = np.random.default_rng(0)


@pytest.fixture(scope="module", autouse=True)
def kernel_cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        path = tmp_path_factory.mktemp("tracead_cache")
        mp.setenv("TRACEAD_CACHE_DIR", str(path))
        yield path


def one_kernel(fn, args, kind, shape=None) -> Schedule:
    """The whole captured graph of fn as one kernel of `kind`."""
    graph = capture(fn, args, {}).graph
    produced = {n.out.id for n in graph.nodes}
    inputs = {}
    for node in graph.nodes:
        for v in node.inputs:
            if v.id not in produced:
                inputs.setdefault(v.id, v)
    if shape is None:
        shape = graph.nodes[-1].inputs[0].shape if kind == "reduce" else graph.nodes[0].out.shape
    kernel = Kernel(0, kind, graph.nodes, tuple(inputs.values()), graph.outputs, tuple(shape), "test")
    return Schedule(graph, (kernel,))


def check(schedule, args, run_args=None, signed_zeros=True, **options):
    """Compile the schedule, run it, compare with the interpreter: dtype, shape, values, NaN, -0.0."""
    exe = NumbaBackend(options).compile_schedule(schedule, "test")
    run_args = args if run_args is None else run_args
    with np.errstate(all="ignore"):
        want = interpret(schedule.graph, list(run_args))
        got = exe(list(run_args))
    for w, g in zip(want, got):
        assert g.dtype == w.dtype and g.shape == w.shape
        if w.dtype.kind == "f":
            tol = 2e-5 if w.dtype == np.float32 else 1e-12
            np.testing.assert_allclose(g, w, rtol=tol, atol=tol, equal_nan=True)
            zeros = (w == 0) & signed_zeros
            assert np.array_equal(np.signbit(g[zeros]), np.signbit(w[zeros])), "sign of zero differs"
        else:
            np.testing.assert_array_equal(g, w)
    return exe


def min_vector_width() -> int:
    import llvmlite.binding as llvm
    return 256 if "+avx2" in llvm.get_host_cpu_features().flatten().split(",") else 128


def randn(*shape, dtype=np.float64):
    return RNG.standard_normal(shape).astype(dtype)


# -- elementwise ------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_elementwise_chain_broadcasts_0d_size1_and_full_dims(dtype):
    def f(x, row, col, s):
        y = ta.tanh(x) * ta.sigmoid(x) + 0.5 * x * x * ta.exp(-x * x)
        return y + row * s - col / (1.0 + x * x), ta.log(ta.abs(x) + 1) * s

    args = (randn(4, 5, dtype=dtype), randn(5, dtype=dtype), randn(4, 1, dtype=dtype),
            np.asarray(1.5, dtype))
    exe = check(one_kernel(f, args, "elementwise"), args)
    assert exe.kernels[0].entries == ("kernel_nd",)  # partial broadcasts: no flat entry
    source = exe.kernels[0].source
    assert "fsigmoid(" in source and "fexp(" in source and "math.exp" not in source  # mathlib


def test_flat_path_and_transposed_inputs():
    def f(x, y, s):
        return ta.maximum(x, y) / s + ta.minimum(x, y) * ta.exp(-ta.abs(y)), ta.where(x > y, x, s)

    x, y, s = randn(6, 8, dtype=np.float32), randn(6, 8, dtype=np.float32), np.asarray(2.0, np.float32)
    sched = one_kernel(f, (x, y, s), "elementwise")
    exe = check(sched, (x, y, s))
    assert exe.kernels[0].entries == ("kernel_flat", "kernel_nd")
    xt = np.ascontiguousarray(x.T).T  # same values, Fortran order: the N-d entry runs
    check(sched, (x, y, s), run_args=(xt, y, s))
    assert exe.kernels[0].cache == "miss: not in the cache"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_inf_signed_zero_and_division_by_zero_match_numpy(dtype):
    special = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 1.0, -1.0, 2.5, -3.0, 1e-30, 100.0, -100.0])

    def f(x, y):
        return [x / y, ta.log(x), ta.sqrt(x), ta.maximum(x, y), ta.minimum(x, y), ta.where(x > y, x, y),
                x ** -1, x ** 2, ta.exp(x), ta.tanh(x), ta.sigmoid(x), -x, x * y, ta.abs(x), x < y,
                x == y, x ** y, ta.clip(x, -1.0, 1.0)]

    x, y = special.astype(dtype), np.roll(special, 3).astype(dtype)
    with np.errstate(all="ignore"):
        check(one_kernel(f, (x, y), "elementwise"), (x, y))


def test_templates_agree_with_numpy_on_special_values():
    """relu(-inf), sign(nan), (-inf)**0.5 (the full sweep: test_templates.py)."""
    x = np.array([-np.inf, np.nan, -1.0, 2.0])
    with np.errstate(all="ignore"):
        check(one_kernel(lambda x: [ta.relu(x), ta.sign(x), x ** 0.5], (x,), "elementwise"), (x,))


def test_integers_bools_casts_and_a_0d_kernel():
    def f(i, j, x):
        return i * j + i, (i > j), ta.where(i > j, x, -x), ta.cast(i, np.float32) * 0.5, ta.cast(x, np.int64)

    args = (RNG.integers(-5, 5, (3, 4)), RNG.integers(-5, 5, (3, 4)), randn(3, 4) * 4)
    check(one_kernel(f, args, "elementwise"), args)
    scalar = (np.asarray(0.75),)
    exe = check(one_kernel(lambda x: x * 2.0 + ta.exp(x), scalar, "elementwise"), scalar)
    assert exe([np.asarray(0.75)])[0].shape == ()


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_statements_left_uncast_are_typed_as_the_graph_says(dtype):
    """A statement whose result Numba already types as the node's dtype has no cast
    around it (scalar.keeps_dtype: fewer calls to type and lower); every value of the
    kernel must still have exactly its node's dtype in Numba's typing."""
    import numba

    def f(x, y):
        return (ta.tanh(x) * ta.sigmoid(y) - ta.exp(-x) / (1.0 + y * y) + ta.log(1.0 + x * x) * 0.5
                + ta.sqrt(x * x) + ta.maximum(x, y) + (x > y))

    def ints(x, y):  # int32 + int32 is int64 in Numba: every statement keeps its cast
        return (x * y + x - y * 3) * -x + ta.maximum(x, y) * 2

    if dtype == np.int32:
        f, args = ints, tuple(RNG.integers(-50, 50, (4, 5)).astype(np.int32) for _ in range(2))
    else:
        args = (randn(4, 5, dtype=dtype), randn(4, 5, dtype=dtype))
    sched = one_kernel(f, args, "elementwise")
    exe = check(sched, args)
    source = exe.kernels[0].source
    uncast = re.search(r"v\d+ = v\d+ \* v\d+ ", source) and re.search(r"v\d+ = ftanh\(v\d+\) ", source)
    assert bool(uncast) == (dtype != np.int32)
    kernel = sched.kernels[0]
    values_in_order = list(kernel.inputs) + [n.out for n in kernel.nodes]  # writer.Names: v0, v1, ...
    want = {f"v{i}": numba.from_dtype(v.dtype) for i, v in enumerate(values_in_order)}
    fn = exe.steps[0].fns["kernel_flat"]
    fresh = numba.njit(**{k: v for k, v in fn.targetoptions.items() if k != "nopython"})(fn.py_func)
    sig = fn.signatures[0]
    fresh.compile(sig)
    typemap = fresh.overloads[sig].type_annotation.typemap
    values = {k: t for k, t in typemap.items() if re.fullmatch(r"v\d+(\.\d+)?", k)}
    assert len(values) > 10
    wrong = {k: (t, want[k.split(".")[0]]) for k, t in values.items() if t != want[k.split(".")[0]]}
    assert not wrong, wrong


# -- reductions -------------------------------------------------------------------------
REDUCTIONS = [  # (id, fn, input shapes, dtype, parallel_threshold)
    ("sum_all_flat_f32", lambda x: (x * x).sum(), [(6, 7)], np.float32, None),
    ("sum_all_broadcast", lambda x, b: (ta.exp(x) * b).sum(), [(6, 7), (7,)], np.float64, None),
    ("sum_axis0_keepdims", lambda x: (x * 2.0).sum(axis=0, keepdims=True), [(6, 7)], np.float32, None),
    ("sum_axis1_with_prologue_output",
     lambda x: (ta.exp(x), ta.exp(x).sum(axis=1)), [(6, 7)], np.float64, None),
    ("sum_axes02_3d", lambda x: ta.tanh(x).sum(axis=(0, 2), keepdims=True), [(3, 4, 5)], np.float32, None),
    ("max_axis1_nan", lambda x: ta.max(x * 1.0, axis=1), [(6, 7)], np.float64, None),
    ("count_bool", lambda x: (x > 0).sum(axis=1), [(6, 7)], np.float64, None),
    ("par_sum_all_chunked", lambda x: (x * x).sum(), [(50, 7)], np.float32, 0),
    ("par_sum_axis0_chunked", lambda x: ta.exp(x).sum(axis=0), [(50, 7)], np.float64, 0),
    ("par_max_axis1_rows", lambda x: ta.max(x + 1.0, axis=1, keepdims=True), [(50, 7)], np.float32, 0),
    # reduced axes of length 1: a loop nest with no reduction loop (found by mutation testing)
    ("sum_size1_axis_with_prologue_output",
     lambda x: (ta.exp(x), ta.exp(x).sum(axis=1, keepdims=True)), [(6, 1)], np.float64, None),
    ("max_size1_axes_3d", lambda x: ta.max(x * 2.0, axis=(0, 2), keepdims=True), [(1, 4, 1)], np.float32, None),
]


@pytest.mark.parametrize("case", REDUCTIONS, ids=[c[0] for c in REDUCTIONS])
def test_reduce_kernels(case):
    _, fn, shapes, dtype, threshold = case
    args = tuple(randn(*s, dtype=dtype) for s in shapes)
    args[0].flat[3] = np.nan if "nan" in case[0] else args[0].flat[3]
    options = {} if threshold is None else {"parallel_threshold": threshold}
    exe = check(one_kernel(fn, args, "reduce"), args, **options)
    assert exe.kernels[0].parallel == (threshold == 0)
    if args[0].ndim == 2:  # transposed storage: the N-d entry with strides
        xt = np.ascontiguousarray(args[0].T).T
        check(one_kernel(fn, args, "reduce"), args, run_args=(xt,) + args[1:], **options)


# -- rowwise ----------------------------------------------------------------------------
def _softmax_backward(x, g):
    y = ta.softmax(x)
    return y * (g - (g * y).sum(axis=-1, keepdims=True))


def _log_softmax_both(x, g):
    ls = ta.log_softmax(x)
    return ls, g - ta.exp(ls) * g.sum(axis=-1, keepdims=True)


def _layernorm(x, w, b):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) * (x - mu)).mean(axis=-1, keepdims=True)
    return (x - mu) / ta.sqrt(var + 1e-5) * w + b


ROWWISE = [  # (id, fn, input shapes, dtype, parallel_threshold)
    ("softmax_f32", lambda x: ta.softmax(x), [(6, 7)], np.float32, None),
    ("softmax_backward_f32", _softmax_backward, [(6, 7), (6, 7)], np.float32, None),
    ("log_softmax_fwd_bwd_f64", _log_softmax_both, [(6, 7), (6, 7)], np.float64, None),
    ("layernorm_f32", _layernorm, [(6, 7), (7,), (7,)], np.float32, None),
    ("softmax_and_max_3d_parallel", lambda x: (ta.softmax(x), ta.max(x, axis=-1, keepdims=True)),
     [(2, 3, 5)], np.float64, 0),
]


@pytest.mark.parametrize("case", ROWWISE, ids=[c[0] for c in ROWWISE])
def test_rowwise_kernels(case):
    _, fn, shapes, dtype, threshold = case
    args = tuple(randn(*s, dtype=dtype) * 3 for s in shapes)
    options = {} if threshold is None else {"parallel_threshold": threshold}
    check(one_kernel(fn, args, "rowwise", shapes[0]), args, **options)


def test_float32_sums_blocks_accuracy_row_buffers_and_vector_loops():
    """float32 sums run in float32 blocks added up in float64: about as accurate as
    NumPy's pairwise sum, far better than one float32 running sum; each loop vectorises
    (reduce_steps), and rowwise kernels keep an exp for later passes in a row buffer."""
    from tracead.backends.numba.vectorcheck import vector_report

    x = (RNG.standard_normal(70_001) + 3.0).astype(np.float32)  # not a multiple of the block
    exact = np.sum(x.astype(np.float64))
    for threshold in (0, 10**9):  # parallel chunks, one serial loop
        exe = check(one_kernel(lambda x: x.sum(), (x,), "reduce"), (x,), parallel_threshold=threshold)
        got = float(exe([x])[0])
        assert abs(got - exact) <= 2 * abs(np.sum(x) - exact) + 2 * np.spacing(np.float32(exact))
        assert "in blocks of 256" in exe.kernels[0].source
    rows = randn(8, 300, dtype=np.float32)
    exe = check(one_kernel(_softmax_backward, (rows, rows), "rowwise", rows.shape), (rows, rows),
                parallel_threshold=0)
    source = exe.kernels[0].source
    assert source.count("fexp(") == 1 and "row buffer" in source and "fmaximum(" in source
    fn = cache._MEMORY[next(reversed(cache._MEMORY))].kernel_nd
    report = vector_report(fn, fn.signatures[0])  # float32 loops: no float64 arithmetic in them
    assert report.width >= min_vector_width() and not {"vaddpd", "vcvtps2pd"} & report.ops(), str(report)


# -- matmul -----------------------------------------------------------------------------
def test_matmul_with_epilogue_in_place_and_kept_product():
    x, w, b = randn(5, 6, dtype=np.float32), randn(6, 4, dtype=np.float32), randn(4, dtype=np.float32)
    exe = check(one_kernel(lambda x, w, b: ta.relu(x @ w + b), (x, w, b), "matmul"), (x, w, b))
    assert "np.matmul" in exe.kernels[0].source
    # No free buffer in a one-kernel graph: the product goes where the output will, and
    # the loop reads it through the output's name (writer.in_place).
    assert list(exe.memory_plan.in_place) == [exe.steps[0].mm.out.id]
    assert "a0 = out3" in exe.steps[0].epilogue.record.source
    args = (randn(5, 6), randn(6, 4), randn(4))

    def kept(x, w, b):
        p = x @ w
        return p, ta.tanh(p + b)

    exe = check(one_kernel(kept, args, "matmul"), args)
    assert not exe.memory_plan.in_place  # the product is an output itself
    assert "in place" not in exe.steps[0].epilogue.record.source


def test_kernels_breaking_the_schedule_contract_are_refused():
    from tracead.backends.numba.codegen import generate
    from tracead.backends.numba.writer import Names

    sched = one_kernel(lambda x, b: x * b, (randn(3, 4), randn(4)), "elementwise")
    kernel = sched.kernels[0]
    too_wide = kernel.__class__(0, "elementwise", kernel.nodes, kernel.inputs, kernel.outputs, (3, 2))
    with pytest.raises(ValueError, match="does not broadcast"):
        generate(too_wide, Names(sched.graph))


@pytest.mark.parametrize("kind", ["elementwise", "reduce_inner", "reduce_outer", "rowwise"])
@pytest.mark.parametrize("parallel", [False, True])
def test_every_size_in_the_source_goes_through_size_expr(monkeypatch, kind, parallel):
    """Loop bounds, chunk bounds and buffer lengths are all written by writer.size_expr
    (one place to change for sizes known only at run time): with it patched to name
    the size, no dimension of the kernel is left as a number in the code."""
    from tracead.backends.numba import gen_rowwise, writer
    from tracead.backends.numba.codegen import generate
    from tracead.backends.numba.writer import Names

    def named(n):
        return f"size_{int(n)}"

    monkeypatch.setattr(writer, "size_expr", named)
    monkeypatch.setattr(gen_rowwise, "size_expr", named)
    x, row = randn(13, 29, dtype=np.float32), randn(29, dtype=np.float32)
    fn, k, shape = {"elementwise": (lambda x, r: ta.exp(x) * r, "elementwise", None),
                    "reduce_inner": (lambda x, r: (x * r).sum(axis=1), "reduce", None),
                    "reduce_outer": (lambda x, r: (x * r).sum(axis=0), "reduce", None),
                    "rowwise": (lambda x, r: ta.softmax(x * r), "rowwise", x.shape)}[kind]
    sched = one_kernel(fn, (x, row), k, shape)
    code = cache.canonical(generate(sched.kernels[0], Names(sched.graph), 0 if parallel else 10**9).body)
    assert "size_13" in code and "size_29" in code
    assert ("range(c0, c1)" in code) == parallel and "prange" not in code  # chunks, no parfors
    assert not re.search(r"(?<![\w.])(13|29)(?![\w.])", code), code


# -- end to end through ta.compile --------------------------------------------------------
def _close(a, b, dtype):
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compile_value_and_grad_matches_eager(dtype):
    def loss(x):  # workload W1
        return (ta.tanh(x) * ta.sigmoid(x) + 0.5 * x * x * ta.exp(-x * x)).sum()

    x = randn(300, dtype=dtype)
    compiled = ta.compile(ta.value_and_grad(loss), backend="numba")
    value, grad = compiled(x)
    e_value, e_grad = ta.value_and_grad(loss)(x)
    assert value.dtype == dtype and grad.dtype == dtype
    _close(value, e_value, dtype)
    _close(grad, e_grad, dtype)


def test_compile_mlp_softmax_and_transpose_gradients():
    def loss(x, w1, b1, w2):
        h = ta.relu(x @ w1 + b1)
        return -(ta.log_softmax(h @ w2.T)).mean()

    args = (randn(8, 5), randn(5, 6), randn(6), randn(3, 6))
    compiled = ta.compile(ta.value_and_grad(loss, argnums=(1, 2, 3)), backend="numba")
    value, grads = compiled(*args)
    e_value, e_grads = ta.value_and_grad(loss, argnums=(1, 2, 3))(*args)
    _close(value, e_value, np.float64)
    for g, e in zip(grads, e_grads):
        _close(g, e, np.float64)
    out = ta.compile(loss, backend="numba")(*args)  # the forward graph alone
    _close(out, e_value, np.float64)


def test_jit_false_runs_the_generated_python():
    def f(x, b):
        return (ta.exp(x) + b).sum(axis=1)

    args = (randn(3, 4), randn(4))
    exe = check(one_kernel(f, args, "reduce"), args, jit=False)
    assert "not jitted" in exe.kernels[0].cache


# -- the on-disk cache --------------------------------------------------------------------
def _cache_case():
    def f(x, y):
        return ta.exp(x) * y + 1.0

    args = (randn(3, 4), randn(3, 4))
    return one_kernel(f, args, "elementwise"), args


def test_second_compile_hits_disk_cache_and_source_names_nodes(fresh_cache):
    sched, args = _cache_case()
    first = check(sched, args).kernels[0]
    assert first.cache == "miss: not in the cache"
    assert first.path.startswith(str(fresh_cache)) and first.path.endswith(".py")
    text = open(first.path).read()
    assert text == first.source and text.startswith('KEY = "')
    assert "= exp %0 | test_codegen.py:" in text and "= mul " in text and "in f" in text
    cache.clear_memory()  # as a new process would: import the file, load Numba's cache
    second = check(sched, args).kernels[0]
    assert second.cache == "hit" and second.path == first.path
    assert second.compile_seconds < first.compile_seconds


@pytest.mark.parametrize("damage", ["garbage", "wrong key", "edited body"])
def test_corrupted_cache_file_is_rebuilt(fresh_cache, damage):
    sched, args = _cache_case()
    path = check(sched, args).kernels[0].path
    text = open(path).read()
    first, rest = text.split("\n", 1)
    lines = text.split("\n")
    i = next(k for k, line in enumerate(lines) if "= add" in line and " + " in line)
    lines[i] = lines[i].replace(" + ", " - ")
    bad = {"garbage": "def kernel_flat(:\n",
           "wrong key": 'KEY = "' + "0" * 64 + '"\n' + rest,
           "edited body": "\n".join(lines)}[damage]
    with open(path, "w") as fh:
        fh.write(bad)
    cache.clear_memory()
    rebuilt = check(sched, args).kernels[0]  # correct values: the damaged file was not trusted
    assert rebuilt.cache.startswith("miss: corrupted file") and rebuilt.cache.endswith("rebuilt")
    assert open(path).read() == text


_SUBPROCESS = r"""
import json, numpy as np, tracead as ta
from tracead.backends.numba.backend import NumbaBackend
from tracead.trace.capture import capture
src = "def f(x):\n    return (ta.exp(x) * 2.0 + x).sum(axis=1)\n"
scope = {"ta": ta}
exec(compile(src, "cache_probe.py", "exec"), scope)
graph = capture(scope["f"], (np.ones((4, 5)),), {}).graph
exe = NumbaBackend({}).compile(graph, "probe")
out = exe([np.ones((4, 5))])[0]
print(json.dumps({"cache": [k.cache for k in exe.kernels if k.path],
                  "seconds": sum(k.compile_seconds for k in exe.kernels), "sum": float(out.sum())}))
"""


def test_new_process_with_warm_cache_skips_numba_compile(fresh_cache):
    env = dict(os.environ, TRACEAD_CACHE_DIR=str(fresh_cache))
    runs = [json.loads(subprocess.run([sys.executable, "-c", _SUBPROCESS], env=env, check=True,
                                      capture_output=True, text=True).stdout) for _ in range(2)]
    cold, warm = runs
    assert cold["cache"] and all(c.startswith("miss") for c in cold["cache"])
    assert all(c == "hit" for c in warm["cache"]), warm["cache"]
    assert warm["seconds"] < cold["seconds"] and warm["sum"] == cold["sum"]
