"""tracead.distributed: data-parallel training on a local 2-CPU Ray cluster.

Every result is checked against a NumPy reference (a hand-written MLP
forward/backward and Adam/SGD update on the whole batch), step by step.
One Ray cluster serves the module; models are tiny so the file stays fast.
"""
import functools
import os
import pickle
import subprocess
import sys
import time

import numpy as np
import pytest
import ray

import tracead as ta
from tracead import nn, optim
from tracead.distributed import DataParallel, WorkerLostError, plan_shards
from tracead.distributed import checkpoint
from tracead.distributed.allreduce import tree_pairs

# Under pytest-xdist these tests share one worker (one Ray cluster per module).
pytestmark = pytest.mark.xdist_group("ray")

SIZES = [6, 10, 3]


def loss_fn(model, x, y):
    return nn.cross_entropy(model(x), y)


def model_factory(dtype):
    return nn.MLP(SIZES, seed=0, dtype=dtype)


# -- the NumPy reference: whole-batch gradient and update ---------------------------------
def reference_grads(params: dict, x, y):
    w1, b1 = params["layers.0.weight"], params["layers.0.bias"]
    w2, b2 = params["layers.2.weight"], params["layers.2.bias"]
    pre = x @ w1 + b1
    h = np.maximum(pre, 0)
    z = h @ w2 + b2
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    n = len(x)
    loss = -np.mean(np.log(p[np.arange(n), y]))
    dz = p.copy()
    dz[np.arange(n), y] -= 1
    dz /= n
    dh = (dz @ w2.T) * (pre > 0)
    grads = {"layers.0.weight": x.T @ dh, "layers.0.bias": dh.sum(0),
             "layers.2.weight": h.T @ dz, "layers.2.bias": dz.sum(0)}
    return loss, grads


class ReferenceAdam:
    def __init__(self, params: dict, lr, b1=0.9, b2=0.999, eps=1e-8):
        self.params = {k: v.astype(np.float64) for k, v in params.items()}
        self.m = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.v = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.lr, self.b1, self.b2, self.eps, self.t = lr, b1, b2, eps, 0

    def step(self, x, y) -> float:
        loss, grads = reference_grads(self.params, x.astype(np.float64), y)
        self.t += 1
        for k, g in grads.items():
            self.m[k] = self.b1 * self.m[k] + (1 - self.b1) * g
            self.v[k] = self.b2 * self.v[k] + (1 - self.b2) * g * g
            m_hat = self.m[k] / (1 - self.b1 ** self.t)
            v_hat = self.v[k] / (1 - self.b2 ** self.t)
            self.params[k] = self.params[k] - self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
        return loss


def make_batches(count, rows, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((rows, SIZES[0])).astype(dtype), rng.integers(0, SIZES[-1], rows))
            for _ in range(count)]


def assert_matches(state: dict, reference: ReferenceAdam, rtol, atol):
    for name, value in reference.params.items():
        np.testing.assert_allclose(state["model." + name], value, rtol=rtol, atol=atol, err_msg=name)


# -- without Ray ---------------------------------------------------------------------------
def test_importing_tracead_does_not_import_ray():
    code = "import sys, tracead, tracead.distributed; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert out.stdout.strip() == "False"


def test_modules_and_optimizers_pickle():
    model = model_factory(np.float32)
    opt = optim.Adam(model.parameters(), lr=0.1)
    model2, opt2 = pickle.loads(pickle.dumps((model, opt)))
    assert opt2.params[0] is model2.parameters()[0]  # still the same tensors
    for (name, a), b in zip(model.state_dict().items(), model2.parameters()):
        np.testing.assert_array_equal(a, b.numpy())
        assert b.requires_grad and b.dtype == np.float32
    x = np.ones((2, SIZES[0]), np.float32)
    np.testing.assert_array_equal(np.asarray(model(x)), np.asarray(model2(x)))


def test_shard_policy():
    shards = plan_shards(7, 3)
    assert [(s.start, s.stop) for s in shards] == [(0, 3), (3, 5), (5, 7)]
    assert [s.weight for s in shards] == [3 / 7, 2 / 7, 2 / 7]
    assert plan_shards(2, 2)[1].weight == 0.5
    with pytest.raises(ValueError, match="batch of 1 rows cannot be split across 2 workers"):
        plan_shards(1, 2)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 8])
def test_tree_allreduce_sums_every_rank_once(n):
    held = {rank: {rank} for rank in range(n)}
    for level in tree_pairs(n):
        receivers = [r for r, _ in level]
        assert len(set(receivers + [s for _, s in level])) == 2 * len(level)  # no rank twice a round
        for receiver, sender in level:
            held[receiver] |= held.pop(sender)
    assert held == {0: set(range(n))}


def test_checkpoint_round_trip(tmp_path):
    model = model_factory(np.float32)
    opt = optim.Adam(model.parameters(), lr=0.05)
    for x, y in make_batches(2, 5, dtype=np.float32):
        opt.zero_grad()
        loss_fn(model, x, y).backward()
        opt.step()
    path = checkpoint.save(tmp_path / "ck.npz", checkpoint.gather_state(model, opt, step=2))
    model2 = nn.MLP(SIZES, seed=1)
    opt2 = optim.Adam(model2.parameters(), lr=0.05)
    assert checkpoint.restore_state(model2, opt2, checkpoint.load(path)) == 2
    assert float(opt2.t.numpy()) == 2.0
    for a, b in zip(opt.m + opt.v + model.parameters(), opt2.m + opt2.v + model2.parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    sgd = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)  # state: lr and momentum buffers
    sgd.buffers[1].assign_(np.full(SIZES[1], 3.0, np.float32))
    saved = checkpoint.gather_state(model, sgd, step=5)
    assert {k for k in saved if k.startswith("optimizer.")} == {
        "optimizer._lr", *(f"optimizer.buffers.{i}" for i in range(4))}
    sgd2 = optim.SGD(model2.parameters(), lr=0.5, momentum=0.9)
    assert checkpoint.restore_state(model2, sgd2, saved) == 5
    assert sgd2.lr == pytest.approx(0.1) and np.all(sgd2.buffers[1].numpy() == 3.0)
    with pytest.raises(KeyError, match="optimizer state"):
        checkpoint.restore_state(model2, optim.SGD(model2.parameters(), lr=0.1, momentum=0.9),
                                 checkpoint.load(path))


def test_worker_environment(tmp_path, monkeypatch):
    from tracead.distributed.cluster import worker_env

    monkeypatch.syspath_prepend(str(tmp_path))  # a user's directory: workers must import from it too
    monkeypatch.setenv("TRACEAD_CACHE_DIR", "relative/cache")
    env = worker_env(threads_per_worker=1)
    paths = env["PYTHONPATH"].split(os.pathsep)
    assert paths[0] == os.path.dirname(os.path.dirname(os.path.abspath(ta.__file__)))
    assert str(tmp_path) in paths and not any("site-packages" in p for p in paths)
    assert env["TRACEAD_CACHE_DIR"] == os.path.abspath("relative/cache")
    assert env["NUMBA_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == "1"


# -- on a local Ray cluster ------------------------------------------------------------------
@pytest.fixture(scope="module")
def cluster():
    # This module's functions (loss_fn, factories) go to the workers by value:
    # the workers cannot import the tests directory.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             object_store_memory=128 * 2**20)
    yield
    ray.shutdown()


def data_parallel(dtype, **options):
    return DataParallel(loss_fn, functools.partial(model_factory, dtype),
                        functools.partial(optim.Adam, lr=0.05), num_workers=2, **options)


def initial_params(dtype):
    return model_factory(dtype).state_dict()


def test_two_workers_match_one_process_eager_with_uneven_shards(cluster, tmp_path):
    reference = ReferenceAdam(initial_params(np.float64), lr=0.05)
    batches = make_batches(3, rows=7)  # shards of 4 and 3 rows, weighted 4/7 and 3/7
    with data_parallel(np.float64, compile=False) as dp:
        for x, y in batches:
            loss = dp.step(x, y)
            assert loss == pytest.approx(reference.step(x, y), rel=1e-12)
            assert_matches(dp.state_dict(), reference, rtol=1e-11, atol=1e-13)
            if dp.steps == 2:
                dp.save_checkpoint(tmp_path / "ck.npz")
        states = ray.get([w.state.remote() for w in dp.workers])
        for name in states[0]:  # the replicas are bit-for-bit identical
            np.testing.assert_array_equal(states[0][name], states[1][name])
        assert dp.steps == 3 and states[0]["optimizer.t"] == 3
        np.testing.assert_allclose(dp.model.state_dict()["layers.0.weight"],
                                   reference.params["layers.0.weight"], rtol=1e-11)

        # Resuming from the step-2 checkpoint and skipping the batches it has seen
        # redoes step 3 exactly.
        dp.load_checkpoint(tmp_path / "ck.npz")
        assert dp.steps == 2 and dp.state_dict()["optimizer.t"] == 2
        dp.fit(batches, skip=dp.steps)
        assert dp.steps == 3
        resumed = dp.state_dict()
        for name in states[0]:
            np.testing.assert_array_equal(resumed[name], states[0][name])
        np.testing.assert_array_equal(dp.model.state_dict()["layers.0.weight"],
                                      states[0]["model.layers.0.weight"])


def test_two_workers_match_one_process_compiled_and_share_kernels(cluster, tmp_path, monkeypatch):
    monkeypatch.setenv("TRACEAD_CACHE_DIR", str(tmp_path / "cache"))  # a cold cache
    reference = ReferenceAdam(initial_params(np.float32), lr=0.05)
    with data_parallel(np.float32, compile=True) as dp:
        for x, y in make_batches(3, rows=8, dtype=np.float32):
            loss = dp.step(x, y)
            assert loss == pytest.approx(reference.step(x, y), rel=1e-5)
            assert_matches(dp.state_dict(), reference, rtol=1e-4, atol=1e-5)
        first, second = dp.worker_reports()
        seconds = dp.compile_seconds()
    for report in (first, second):  # steps 2 and 3 ran the compiled kernels, never eager
        assert report["compiled_calls"] >= 4 and report["eager_calls"] == 0
    # Rank 0 compiled the kernels; rank 1 (same shard shapes) loaded every one of them.
    assert first["kernels_built"] > 0 and first["kernels_from_cache"] == 0
    assert second["kernels_built"] == 0 and second["kernels_from_cache"] == first["kernels_built"]
    assert first["pid"] != second["pid"]
    assert seconds[0] > 0 and seconds[1] > 0
    assert any((tmp_path / "cache" / "kernels").glob("k_*.py"))


def wait_until_dead(actor, seconds=60.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            ray.get(actor.ping.remote(), timeout=seconds)
        except ray.exceptions.RayActorError:
            return
        time.sleep(0.05)
    raise AssertionError("the killed actor still answers")


def test_killed_worker_is_replaced_and_training_resumes(cluster, tmp_path):
    path = tmp_path / "run" / "checkpoint.npz"
    batches = make_batches(4, rows=6)
    reference = ReferenceAdam(initial_params(np.float64), lr=0.05)
    expected = [reference.step(x, y) for _ in range(2) for x, y in batches]
    killed = []

    with data_parallel(np.float64, compile=True, checkpoint_every=2, checkpoint_path=path) as dp:
        def kill_worker_once(step, loss):
            if step == 3 and not killed:  # mid-epoch, one step past the checkpoint at step 2
                worker = dp.workers[1]
                killed.append(ray.get(worker.report.remote())["pid"])
                ray.kill(worker)
                wait_until_dead(worker)  # the kill lands now, not at some later step

        x, y = batches[0]
        with pytest.raises(TypeError, match="labels must be integers"):  # raised in the workers
            dp.step(x, y.astype(np.float64))
        assert dp.steps == 0  # and the failed batch is not replayed by the next step
        losses = dp.fit(batches, epochs=2, callback=kill_worker_once)
        assert killed and dp.restarts == 1
        new_worker = ray.get(dp.workers[1].report.remote())
        state = dp.state_dict()
    assert new_worker["pid"] != killed[0]
    assert new_worker["kernels_built"] == 0  # it loaded the kernels the others had built
    # No step lost or counted twice: 8 steps, Adam's counter 8, the reference's parameters.
    assert dp.steps == 8 and state["step"] == 8 and state["optimizer.t"] == 8
    np.testing.assert_allclose(losses, expected, rtol=1e-11)
    assert_matches(state, reference, rtol=1e-10, atol=1e-12)
    assert checkpoint.load(path)["step"] == 8  # saved every 2 steps, the last at step 8


def test_bad_configuration_and_lost_worker_are_clear_errors(cluster):
    factory = functools.partial(model_factory, np.float64)
    with pytest.raises(ValueError, match=r"3 workers x 1 CPU each need 3 CPUs, but the Ray cluster has 2"):
        DataParallel(loss_fn, factory, optim.SGD, num_workers=3)
    with pytest.raises(ValueError, match="checkpoint_path needs checkpoint_every"):
        DataParallel(loss_fn, factory, optim.SGD, checkpoint_path="x.npz")
    with data_parallel(np.float64, compile=False) as dp:
        x, y = make_batches(1, rows=1)[0]
        with pytest.raises(ValueError, match="batch of 1 rows cannot be split across 2 workers"):
            dp.step(x, y)
        with pytest.raises(ValueError, match="x has 1 rows but y has 2"):
            dp.step(x, np.zeros(2, np.int64))
        with pytest.raises(TypeError, match="batches is an iterator"):
            dp.fit(iter(make_batches(2, rows=4)), epochs=2)
        assert dp.steps == 0
        ray.kill(dp.workers[0])
        wait_until_dead(dp.workers[0])
        with pytest.raises(WorkerLostError, match="checkpointing is off"):
            dp.step(*make_batches(1, rows=4)[0])
