"""Reference workloads W1-W4: inputs, float64 references, checks, registry.

Every implementation is a *factory*: `factory(case) -> fn`, where `fn()` takes
no arguments and does one unit of work. Everything a user would do once
(converting inputs, building modules, jit decorators) goes in the factory;
the runner times the factory (setup), then the first call of `fn` on its own
(JIT compile / tracing latency, and the call whose result is checked), then
the steady state. Factories must copy any input they mutate.

What `fn()` returns, per workload (framework arrays are fine; they are
converted with `as_numpy` only for the check):
- W1 elementwise chain: `(value, dloss_dx)`; loss = sum(tanh(x)*sigmoid(x) +
  0.5*x*x*exp(-x*x)), x ~ N(0,1), float32 and float64.
- W2 MLP SGD step: `(loss, [W1, b1, W2, b2, W3, b3])` *after* the update.
  784->512->256->10, ReLU, mean softmax cross-entropy, plain SGD (lr=0.01),
  layer = x @ W + b with W of shape (in, out). The step really trains: each
  call starts from the parameters the previous call left. The first call
  starts from the case's initial parameters; its gradient is recovered as
  (initial - updated) / lr and checked, so W2's error is floored near 1e-4
  by float32 rounding of the parameters.
- W3 layernorm (no affine parameters, eps=1e-5, biased variance as in torch)
  then mean softmax cross-entropy against integer labels, on (4096, 1024)
  float32: `(loss, dloss_dx)`.
- W4 micrograd's scalar example at a=-4, b=2: `(g, dg_da, dg_db)` =
  (24.7041, 138.8338, 645.5773). Measures per-call overhead.

Registering: `IMPLEMENTATIONS[workload][name] = factory` (or the `register`
decorator). The first word of the name before any '.' or space is the peer
(`torch.compile f+bwd` -> torch) that `--peers` filters on. A factory may
carry a `note` attribute shown under the results table. Peers live in
`peers_<package>.py`; `load_peers` imports each (a missing package is
reported and skipped), then `load_tracead` imports `benchmarks/tracead_impls.py`
when `import tracead` works and that file exists, e.g.

    from .workloads import register
    @register("W1", "tracead numba")
    def w1(case):
        f = tracead.compile(tracead.value_and_grad(loss))
        return lambda: f(case.data["x"])

W5 times every W2 implementation (and numba's W1/W3 kernels) in new
processes; to give tracead a fresh on-disk cache there, add its cache
environment variable to `run.W5_CACHE_ENV`.
"""
from __future__ import annotations

import importlib
import math
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

Factory = Callable[["Case"], Callable[[], Any]]

WORKLOADS = {
    "W1": "elementwise chain, value + grad",
    "W2": "MLP 784-512-256-10 SGD step",
    "W3": "layernorm + softmax CE, fwd+bwd",
    "W4": "micrograd scalar example (call overhead)",
    "W6": "char GPT training step (2 layers, d 128, AdamW)",
    "W7": "CNN training step on 8x8 digits (AdamW)",
}
IMPLEMENTATIONS: dict[str, dict[str, Factory]] = {w: {} for w in WORKLOADS}
SKIPPED: dict[str, str] = {}  # peer module -> reason it is unavailable

LR = 0.01
LN_EPS = 1e-5
MLP_SIZES = (784, 512, 256, 10)


def register(workload: str, name: str, note: str = "") -> Callable[[Factory], Factory]:
    def deco(factory: Factory) -> Factory:
        if note:
            factory.note = note  # type: ignore[attr-defined]
        IMPLEMENTATIONS[workload][name] = factory
        return factory
    return deco


def peer_of(name: str) -> str:
    return name.replace(".", " ").split()[0]


@dataclass
class Case:
    workload: str
    variant: str
    data: dict[str, Any]
    params: dict[str, Any] = field(default_factory=dict)
    _reference: Any = None

    @property
    def key(self) -> str:
        return f"{self.workload} {self.variant}"

    def reference(self) -> Any:
        if self._reference is None:
            self._reference = REFERENCES[self.workload](self)
        return self._reference


# ---------------------------------------------------------------------------
# Deterministic inputs (fixed seeds; float32 inputs are float64 draws cast down).

def make_w1(n: int, dtype: type) -> Case:
    x = np.random.default_rng(0).standard_normal(n).astype(dtype)
    return Case("W1", f"{np.dtype(dtype).name} N={n:,}", {"x": x},
                {"n": n, "dtype": np.dtype(dtype).name, "itemsize": np.dtype(dtype).itemsize})


def init_mlp(sizes: tuple[int, ...] = MLP_SIZES, seed: int = 1) -> list[np.ndarray]:
    """He-normal weights (in, out) and small nonzero biases, float32."""
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        params.append((rng.standard_normal((fan_in, fan_out)) * math.sqrt(2.0 / fan_in)).astype(np.float32))
        params.append((0.01 * rng.standard_normal(fan_out)).astype(np.float32))
    return params


def make_w2(batch: int) -> Case:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((batch, MLP_SIZES[0])).astype(np.float32)
    y = rng.integers(0, MLP_SIZES[-1], batch).astype(np.int64)
    return Case("W2", f"B={batch}", {"X": x, "y": y, "params": init_mlp(), "lr": LR}, {"batch": batch})


def make_w3(rows: int, cols: int) -> Case:
    rng = np.random.default_rng(3)
    x = (2.0 * rng.standard_normal((rows, cols)) + 0.5).astype(np.float32)
    y = rng.integers(0, cols, rows).astype(np.int64)
    return Case("W3", f"{rows}x{cols}", {"x": x, "y": y, "eps": LN_EPS}, {"rows": rows, "cols": cols})


def make_w4() -> Case:
    return Case("W4", "scalar", {"a": -4.0, "b": 2.0})


def make_cases(quick: bool = False) -> list[Case]:
    from .workloads_models import make_w6, make_w7  # W6/W7: benchmarks/workloads_models.py

    if quick:
        return [make_w1(200_000, np.float32), make_w1(200_000, np.float64),
                make_w2(64), make_w3(256, 1024), make_w4(), make_w7(Case)]
    return [make_w1(4_000_000, np.float32), make_w1(4_000_000, np.float64),
            make_w2(1024), make_w2(64), make_w3(4096, 1024), make_w4(), make_w6(Case),
            make_w7(Case)]


# ---------------------------------------------------------------------------
# Float64 references: plain, unoptimised NumPy (hand-derived gradients; see
# `verify_references` for the finite-difference check of each).

def ref_w1(x: np.ndarray) -> tuple[float, np.ndarray]:
    x = x.astype(np.float64)
    t, s, e = np.tanh(x), 1.0 / (1.0 + np.exp(-x)), np.exp(-x * x)
    value = float(np.sum(t * s + 0.5 * x * x * e))
    grad = (1.0 - t * t) * s + t * s * (1.0 - s) + x * e - x ** 3 * e
    return value, grad


def ref_mlp_loss_grad(X, y, params) -> tuple[float, list[np.ndarray]]:
    W = [p.astype(np.float64) for p in params]
    acts, h = [X.astype(np.float64)], None
    for i in range(0, len(W), 2):
        h = acts[-1] @ W[i] + W[i + 1]
        if i + 2 < len(W):
            acts.append(np.maximum(h, 0.0))
    logits = h
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    n = X.shape[0]
    loss = float(-logp[np.arange(n), y].mean())
    dh = np.exp(logp)
    dh[np.arange(n), y] -= 1.0
    dh /= n
    grads: list[np.ndarray] = [None] * len(W)  # type: ignore[list-item]
    for i in range(len(W) - 2, -1, -2):
        a = acts[i // 2]
        grads[i], grads[i + 1] = a.T @ dh, dh.sum(axis=0)
        if i > 0:
            dh = (dh @ W[i].T) * (a > 0)
    return loss, grads


def ref_w3(x: np.ndarray, y: np.ndarray, eps: float = LN_EPS) -> tuple[float, np.ndarray]:
    x = x.astype(np.float64)
    n, d = x.shape
    mu = x.mean(axis=1, keepdims=True)
    rstd = 1.0 / np.sqrt(((x - mu) ** 2).mean(axis=1, keepdims=True) + eps)
    xh = (x - mu) * rstd
    z = xh - xh.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    loss = float(-logp[np.arange(n), y].mean())
    g = np.exp(logp)
    g[np.arange(n), y] -= 1.0
    g /= n
    dx = rstd * (g - g.mean(axis=1, keepdims=True) - xh * (g * xh).mean(axis=1, keepdims=True))
    return loss, dx


def micrograd_forward(a, b):
    """micrograd's README example as plain arithmetic, generic over the number type."""
    def relu(v):
        return v if v > 0 else v * 0

    c = a + b
    d = a * b + b ** 3
    c = c + c + 1
    c = c + 1 + c + (-a)
    d = d + d * 2 + relu(b + a)
    d = d + 3 * d + relu(b - a)
    e = c - d
    f = e ** 2
    g = f / 2.0
    return g + 10.0 / f


@dataclass(frozen=True)
class _Dual:
    """Forward-mode dual number, just enough for micrograd_forward (exact W4 gradients)."""
    val: float
    der: float = 0.0

    def _lift(self, o):
        return o if isinstance(o, _Dual) else _Dual(float(o))

    def __add__(self, o):
        o = self._lift(o)
        return _Dual(self.val + o.val, self.der + o.der)

    __radd__ = __add__

    def __neg__(self):
        return _Dual(-self.val, -self.der)

    def __sub__(self, o):
        return self + (-self._lift(o))

    def __mul__(self, o):
        o = self._lift(o)
        return _Dual(self.val * o.val, self.der * o.val + self.val * o.der)

    __rmul__ = __mul__

    def __truediv__(self, o):
        o = self._lift(o)
        return _Dual(self.val / o.val, (self.der * o.val - self.val * o.der) / (o.val * o.val))

    def __rtruediv__(self, o):
        return self._lift(o) / self

    def __pow__(self, k: int):
        return _Dual(self.val ** k, k * self.val ** (k - 1) * self.der)

    def __gt__(self, o):
        return self.val > self._lift(o).val


def _ref_w4(case: Case) -> tuple[float, float, float]:
    a, b = case.data["a"], case.data["b"]
    ga = micrograd_forward(_Dual(a, 1.0), _Dual(b)).der
    gb = micrograd_forward(_Dual(a), _Dual(b, 1.0)).der
    return micrograd_forward(a, b), ga, gb


REFERENCES: dict[str, Callable[[Case], Any]] = {
    "W1": lambda c: ref_w1(c.data["x"]),
    "W2": lambda c: ref_mlp_loss_grad(c.data["X"], c.data["y"], c.data["params"]),
    "W3": lambda c: ref_w3(c.data["x"], c.data["y"], c.data["eps"]),
    "W4": _ref_w4,
    "W6": lambda c: _models().ref_w6(c),
    "W7": lambda c: _models().ref_w7(c),
}


def _models():
    from . import workloads_models

    return workloads_models


# ---------------------------------------------------------------------------
# Checking results against the references.

def as_numpy(obj: Any) -> np.ndarray:
    """Copy a NumPy / torch / JAX array or a Python number into a float64 ndarray."""
    if hasattr(obj, "detach") and hasattr(obj, "cpu"):  # torch
        obj = obj.detach().cpu().numpy()
    return np.array(obj, dtype=np.float64, copy=True)


def _rel(got: Any, ref: Any) -> float:
    """Normwise relative error max|got - ref| / max|ref| (robust to zeros in ref)."""
    got, ref = as_numpy(got), np.asarray(ref, dtype=np.float64)
    if got.shape != ref.shape:
        raise ValueError(f"shape {got.shape} != reference {ref.shape}")
    scale = max(float(np.max(np.abs(ref))), 1e-300)
    return float(np.max(np.abs(got - ref))) / scale


def snapshot(workload: str, result: Any) -> Any:
    """Copy a result to NumPy immediately (W2 parameters change on the next call)."""
    if workload == "W2":
        loss, params = result
        return as_numpy(loss), [as_numpy(p) for p in params]
    return tuple(as_numpy(r) for r in result)


def check(case: Case, result: Any) -> dict[str, float]:
    """{'value_err', 'grad_err'}: relative errors of a snapshot vs the float64 reference."""
    ref = case.reference()
    if case.workload == "W2":
        loss, params = result
        lr = case.data["lr"]
        grads = [(p0.astype(np.float64) - p1) / lr for p0, p1 in zip(case.data["params"], params)]
        return {"value_err": _rel(loss, ref[0]), "grad_err": max(_rel(g, r) for g, r in zip(grads, ref[1]))}
    if case.workload in ("W6", "W7"):  # the first step's loss only (the step trains on)
        return {"value_err": _rel(result[0], ref[0]), "grad_err": float("nan")}
    if case.workload == "W4":
        return {"value_err": _rel(result[0], ref[0]),
                "grad_err": max(_rel(result[1], ref[1]), _rel(result[2], ref[2]))}
    return {"value_err": _rel(result[0], ref[0]), "grad_err": _rel(result[1], ref[1])}


def verify_references(seed: int = 0) -> dict[str, float]:
    """Central-difference check of the hand-derived reference gradients (small inputs)."""
    rng = np.random.default_rng(seed)

    def fd(f, x, h=1e-6, k=6):
        idx = rng.choice(x.size, k, replace=False)
        out = []
        for i in idx:
            xp, xm = x.copy(), x.copy()
            xp.flat[i] += h
            xm.flat[i] -= h
            out.append((f(xp) - f(xm)) / (2 * h))
        return idx, np.array(out)

    errs = {}
    x = rng.standard_normal(50)
    idx, num = fd(lambda v: ref_w1(v)[0], x)
    errs["W1"] = float(np.max(np.abs(num - ref_w1(x)[1][idx])))
    X, y = rng.standard_normal((8, 784)), rng.integers(0, 10, 8)
    params = [p.astype(np.float64) for p in init_mlp()]
    _, grads = ref_mlp_loss_grad(X, y, params)
    worst = 0.0
    for j in range(len(params)):
        def loss_j(pj, j=j):
            ps = list(params)
            ps[j] = pj
            return ref_mlp_loss_grad(X, y, ps)[0]
        idx, num = fd(loss_j, params[j])
        worst = max(worst, float(np.max(np.abs(num - grads[j].flat[idx]))))
    errs["W2"] = worst
    x3, y3 = rng.standard_normal((6, 16)), rng.integers(0, 16, 6)
    idx, num = fd(lambda v: ref_w3(v, y3)[0], x3)
    errs["W3"] = float(np.max(np.abs(num - ref_w3(x3, y3)[1].flat[idx])))
    g, ga, gb = _ref_w4(make_w4())
    errs["W4"] = max(abs(g - 24.7041), abs(ga - 138.8338), abs(gb - 645.5773))
    return errs


# ---------------------------------------------------------------------------
# Peer loading.

PEER_MODULES = ["peers_numpy", "peers_numexpr", "peers_numba", "peers_torch", "peers_jax"]
_loaded = False


def load_peers(verbose: bool = True) -> dict[str, dict[str, Factory]]:
    """Import every peer module (missing packages are recorded in SKIPPED), then tracead's."""
    global _loaded
    if _loaded:
        return IMPLEMENTATIONS
    _loaded = True
    for mod in PEER_MODULES:
        try:
            importlib.import_module(f"{__package__}.{mod}")
        except ImportError as exc:
            SKIPPED[mod] = f"{type(exc).__name__}: {exc}"
    load_tracead()
    if verbose:
        for mod, why in SKIPPED.items():
            print(f"skipped {mod}: {why}")
    return IMPLEMENTATIONS


def load_tracead() -> None:
    """Register tracead's implementations from benchmarks/tracead_impls.py, if both exist."""
    try:
        import tracead  # noqa: F401
    except Exception as exc:  # a half-built library may raise anything on import
        SKIPPED["tracead"] = f"import tracead failed: {type(exc).__name__}: {exc}"
        return
    if not (Path(__file__).parent / "tracead_impls.py").exists():
        SKIPPED["tracead"] = "tracead imports, but benchmarks/tracead_impls.py does not exist yet"
        return
    try:
        importlib.import_module(f"{__package__}.tracead_impls")
    except Exception:
        SKIPPED["tracead_impls"] = "import failed:\n" + traceback.format_exc(limit=3)
