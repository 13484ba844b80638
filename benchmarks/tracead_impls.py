"""tracead's implementations of W1-W4: eager, interpret and numba backends.

Each is the code a user would write: the loss in tracead ops, then
`ta.value_and_grad` (eager) or `ta.compile(ta.value_and_grad(...))` (one joint
forward+backward graph). W2 is a whole training step compiled as one graph:
forward, backward and the SGD update written with `assign_`.
"""
from __future__ import annotations

import numpy as np

import tracead as ta
from examples.micrograd_example import micrograd_example as micrograd

from .workloads import Case, register

BACKENDS = {"eager": None, "interpret": "interpret", "numba": "numba"}


def w1_loss(x):
    return (ta.tanh(x) * ta.sigmoid(x) + 0.5 * x * x * ta.exp(-x * x)).sum()


def w3_loss(x, y, eps):
    xc = x - x.mean(axis=1, keepdims=True)
    xn = xc / ta.sqrt((xc * xc).mean(axis=1, keepdims=True) + eps)
    logp = ta.log_softmax(xn, axis=1)
    return -logp[np.arange(x.shape[0]), y].mean()


def _maybe_compile(fn, backend):
    return fn if backend is None else ta.compile(fn, backend=backend)


def _w1(backend):
    def factory(case: Case):
        f = _maybe_compile(ta.value_and_grad(w1_loss), backend)
        x = case.data["x"]
        return lambda: f(x)
    return factory


def _w3(backend):
    def factory(case: Case):
        x, y, eps = case.data["x"], case.data["y"], np.float32(case.data["eps"])
        f = _maybe_compile(ta.value_and_grad(w3_loss), backend)
        return lambda: f(x, y, eps)
    return factory


def mlp_step(params, lr):
    """The W2 training step over `params` (W, b per layer): forward, backward, SGD update."""
    def step(X, y):
        h = X
        for i in range(0, len(params), 2):
            h = h @ params[i] + params[i + 1]
            if i < len(params) - 2:
                h = ta.relu(h)
        logp = ta.log_softmax(h, axis=1)
        loss = -logp[np.arange(X.shape[0]), y].mean()
        loss.backward()
        with ta.no_grad():
            for p in params:
                p.assign_(p - lr * p.grad)
                p.grad = None
        return loss
    return step


def _w2(backend):
    def factory(case: Case):
        params = [ta.tensor(p, requires_grad=True) for p in case.data["params"]]
        X, y = case.data["X"], case.data["y"]
        f = _maybe_compile(mlp_step(params, np.float32(case.data["lr"])), backend)
        return lambda: (f(X, y), [p.numpy() for p in params])
    return factory


def _w4(backend):
    def factory(case: Case):
        f = _maybe_compile(ta.value_and_grad(micrograd, argnums=(0, 1)), backend)
        # 0-d arrays, not Python floats: Python scalars are static guards, so a
        # compiled call on floats would be a constant-folded cache lookup.
        a, b = np.asarray(case.data["a"]), np.asarray(case.data["b"])

        def fn():
            g, (da, db) = f(a, b)
            return g, da, db
        return fn
    return factory


for _name, _backend in BACKENDS.items():
    register("W1", f"tracead {_name}")(_w1(_backend))
    register("W2", f"tracead {_name}", note="" if _name != "numba" else
             "one compiled graph: forward, backward and SGD update")(_w2(_backend))
    register("W3", f"tracead {_name}")(_w3(_backend))
    register("W4", f"tracead {_name}")(_w4(_backend))



# -- W6 / W7: whole training steps of the example models, compiled into one graph --------------
def _model_step(workload: str, backend):
    def factory(case: Case):
        from examples.char_gpt import CharGPT, make_step as gpt_step
        from examples.cnn_digits import SmallCNN, make_step as cnn_step

        d = case.data
        if workload == "W6":
            model, make_step = CharGPT(d["vocab"], d["d"], d["heads"], d["layers"], d["context"]), gpt_step
        else:
            model, make_step = SmallCNN(), cnn_step
        model.load_state_dict(d["params"])
        opt = ta.optim.AdamW(model.parameters(), lr=d["lr"], weight_decay=d["weight_decay"])
        f = _maybe_compile(make_step(model, opt), backend)
        x, y = d["x"], d["y"]
        return lambda: (f(x, y),)
    return factory


for _name, _backend in (("eager", None), ("numba", "numba")):
    register("W6", f"tracead {_name}", note="" if _backend is None else
             "forward, backward and AdamW in one compiled graph")(_model_step("W6", _backend))
    register("W7", f"tracead {_name}")(_model_step("W7", _backend))
