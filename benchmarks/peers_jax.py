"""Peer: jax.jit of value_and_grad (W1, W3, W4) and of the whole SGD step (W2).

- 64-bit mode is switched on so W1's float64 case really runs in float64
  (JAX silently demotes float64 inputs otherwise); float32 inputs stay float32.
- Inputs are put on the device once, in the factory. Every call ends with
  `block_until_ready`, since JAX dispatches asynchronously.
- W2's step is functional (params in, new params out) with the parameters
  donated (`donate_argnums`), so XLA may update them in place, as the other
  peers do.
- The persistent compilation cache is off unless JAX_COMPILATION_CACHE_DIR is
  set (W5's child process sets it, with the minimum compile time and entry
  size for caching lowered to 0).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from .workloads import Case, register

jax.config.update("jax_enable_x64", True)


def w1_loss(x):
    return jnp.sum(jnp.tanh(x) * jax.nn.sigmoid(x) + 0.5 * x * x * jnp.exp(-x * x))


def _ready(out):
    return jax.block_until_ready(out)


@register("W1", "jax.jit", note="jax.jit(jax.value_and_grad(f)); x64 mode on")
def w1_jax(case: Case):
    x = jax.device_put(case.data["x"])
    vg = jax.jit(jax.value_and_grad(w1_loss))
    return lambda: _ready(vg(x))


def mlp_loss(params, X, y):
    W1, b1, W2, b2, W3, b3 = params
    h = jax.nn.relu(X @ W1 + b1)
    h = jax.nn.relu(h @ W2 + b2)
    logp = jax.nn.log_softmax(h @ W3 + b3)
    return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))


@register("W2", "jax.jit", note="jax.jit of the whole step (value_and_grad + SGD), params donated")
def w2_jax(case: Case):
    lr = case.data["lr"]

    def step(params, X, y):
        loss, grads = jax.value_and_grad(mlp_loss)(params, X, y)
        return loss, [p - lr * g for p, g in zip(params, grads)]

    step_jit = jax.jit(step, donate_argnums=0)
    state = {"params": [jax.device_put(p.copy()) for p in case.data["params"]]}
    X, y = jax.device_put(case.data["X"]), jax.device_put(case.data["y"])

    def fn():
        loss, state["params"] = _ready(step_jit(state["params"], X, y))
        return loss, state["params"]
    return fn


def w3_loss(x, y, eps):
    mu = jnp.mean(x, axis=-1, keepdims=True)
    var = jnp.mean(jnp.square(x - mu), axis=-1, keepdims=True)
    xh = (x - mu) * jax.lax.rsqrt(var + eps)
    logp = jax.nn.log_softmax(xh)
    return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))


@register("W3", "jax.jit")
def w3_jax(case: Case):
    x, y = jax.device_put(case.data["x"]), jax.device_put(case.data["y"])
    eps = case.data["eps"]
    vg = jax.jit(jax.value_and_grad(lambda x, y: w3_loss(x, y, eps)))
    return lambda: _ready(vg(x, y))


def micrograd_jax(a, b):
    c = a + b
    d = a * b + b ** 3
    c = c + c + 1
    c = c + 1 + c + (-a)
    d = d + d * 2 + jax.nn.relu(b + a)
    d = d + 3 * d + jax.nn.relu(b - a)
    e = c - d
    f = e ** 2
    g = f / 2.0
    return g + 10.0 / f


@register("W4", "jax.jit", note="float64 device scalars made once; jit(value_and_grad(argnums=(0, 1)))")
def w4_jax(case: Case):
    a, b = jnp.float64(case.data["a"]), jnp.float64(case.data["b"])
    vg = jax.jit(jax.value_and_grad(micrograd_jax, argnums=(0, 1)))

    def fn():
        g, (ga, gb) = _ready(vg(a, b))
        return g, ga, gb
    return fn
