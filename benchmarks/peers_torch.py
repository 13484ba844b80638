"""Peers: PyTorch eager (autograd) and torch.compile (Inductor, CPU).

torch.compile variants:
- "torch.compile" compiles `torch.func.grad_and_value(f)` (or, for W2, a
  functional SGD step built on it), so forward, backward and update are one
  Dynamo graph that AOTAutograd + Inductor turn into fused C++/OpenMP kernels.
- "torch.compile f+bwd" compiles only the forward; `.backward()` then runs the
  backward graph AOTAutograd compiled alongside it (the everyday usage: a
  compiled model called from an eager training loop; for W2 the optimizer
  step stays eager).
Torch uses its intra-op thread pool (`torch.get_num_threads()`, all cores
by default). Inductor caches compiled kernels on disk (TORCHINDUCTOR_CACHE_DIR,
default /tmp/torchinductor_$USER), which W5 uses for its warm-cache run.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .workloads import Case, register


def w1_loss(x):
    return (torch.tanh(x) * torch.sigmoid(x) + 0.5 * x * x * torch.exp(-x * x)).sum()


@register("W1", "torch eager")
def w1_torch_eager(case: Case):
    x = torch.from_numpy(case.data["x"]).requires_grad_()

    def fn():
        x.grad = None
        loss = w1_loss(x)
        loss.backward()
        return loss.detach(), x.grad
    return fn


@register("W1", "torch.compile", note="compiled torch.func.grad_and_value(f), one graph")
def w1_torch_compile(case: Case):
    x = torch.from_numpy(case.data["x"])
    step = torch.compile(torch.func.grad_and_value(w1_loss))

    def fn():
        grad, value = step(x)
        return value, grad
    return fn


@register("W1", "torch.compile f+bwd")
def w1_torch_compile_bwd(case: Case):
    x = torch.from_numpy(case.data["x"]).requires_grad_()
    loss_fn = torch.compile(w1_loss)

    def fn():
        x.grad = None
        loss = loss_fn(x)
        loss.backward()
        return loss.detach(), x.grad
    return fn


def mlp_loss(params, X, y):
    W1, b1, W2, b2, W3, b3 = params
    h = torch.relu(X @ W1 + b1)
    h = torch.relu(h @ W2 + b2)
    return F.cross_entropy(h @ W3 + b3, y)


def _mlp_tensors(case: Case):
    params = [torch.from_numpy(p.copy()) for p in case.data["params"]]
    return params, torch.from_numpy(case.data["X"]), torch.from_numpy(case.data["y"])


@register("W2", "torch eager", note="autograd + torch.optim.SGD (foreach)")
def w2_torch_eager(case: Case):
    params, X, y = _mlp_tensors(case)
    for p in params:
        p.requires_grad_()
    opt = torch.optim.SGD(params, lr=case.data["lr"])

    def fn():
        opt.zero_grad(set_to_none=True)
        loss = mlp_loss(params, X, y)
        loss.backward()
        opt.step()
        return loss.detach(), params
    return fn


@register("W2", "torch.compile", note="whole step = grad_and_value + in-place SGD, one graph")
def w2_torch_compile(case: Case):
    params, X, y = _mlp_tensors(case)
    lr = case.data["lr"]
    grad_and_loss = torch.func.grad_and_value(mlp_loss)

    @torch.compile
    def step(params, X, y):
        grads, loss = grad_and_loss(params, X, y)
        with torch.no_grad():
            for p, g in zip(params, grads):
                p.sub_(g, alpha=lr)
        return loss

    def fn():
        return step(params, X, y), params
    return fn


@register("W2", "torch.compile f+bwd", note="compiled loss, eager backward call and SGD step")
def w2_torch_compile_bwd(case: Case):
    params, X, y = _mlp_tensors(case)
    for p in params:
        p.requires_grad_()
    opt = torch.optim.SGD(params, lr=case.data["lr"])
    loss_fn = torch.compile(mlp_loss)

    def fn():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(params, X, y)
        loss.backward()
        opt.step()
        return loss.detach(), params
    return fn


def w3_loss(x, y, eps: float):
    xh = F.layer_norm(x, x.shape[-1:], eps=eps)
    return F.cross_entropy(xh, y)


@register("W3", "torch eager", note="F.layer_norm (no affine) + F.cross_entropy")
def w3_torch_eager(case: Case):
    x = torch.from_numpy(case.data["x"]).requires_grad_()
    y, eps = torch.from_numpy(case.data["y"]), case.data["eps"]

    def fn():
        x.grad = None
        loss = w3_loss(x, y, eps)
        loss.backward()
        return loss.detach(), x.grad
    return fn


@register("W3", "torch.compile")
def w3_torch_compile(case: Case):
    x = torch.from_numpy(case.data["x"])
    y, eps = torch.from_numpy(case.data["y"]), case.data["eps"]
    step = torch.compile(torch.func.grad_and_value(w3_loss))

    def fn():
        grad, value = step(x, y, eps)
        return value, grad
    return fn


@register("W3", "torch.compile f+bwd")
def w3_torch_compile_bwd(case: Case):
    x = torch.from_numpy(case.data["x"]).requires_grad_()
    y, eps = torch.from_numpy(case.data["y"]), case.data["eps"]
    loss_fn = torch.compile(w3_loss)

    def fn():
        x.grad = None
        loss = loss_fn(x, y, eps)
        loss.backward()
        return loss.detach(), x.grad
    return fn


def micrograd_torch(a, b):
    c = a + b
    d = a * b + b ** 3
    c = c + c + 1
    c = c + 1 + c + (-a)
    d = d + d * 2 + (b + a).relu()
    d = d + 3 * d + (b - a).relu()
    e = c - d
    f = e ** 2
    g = f / 2.0
    return g + 10.0 / f


def _scalars(case: Case, requires_grad: bool):
    return (torch.tensor(case.data["a"], dtype=torch.float64, requires_grad=requires_grad),
            torch.tensor(case.data["b"], dtype=torch.float64, requires_grad=requires_grad))


@register("W4", "torch eager", note="float64 0-d tensors made once; each call builds the graph")
def w4_torch_eager(case: Case):
    a, b = _scalars(case, True)

    def fn():
        a.grad = b.grad = None
        g = micrograd_torch(a, b)
        g.backward()
        return g.detach(), a.grad, b.grad
    return fn


@register("W4", "torch.compile")
def w4_torch_compile(case: Case):
    a, b = _scalars(case, False)
    step = torch.compile(torch.func.grad_and_value(micrograd_torch, argnums=(0, 1)))

    def fn():
        (ga, gb), g = step(a, b)
        return g, ga, gb
    return fn


@register("W4", "torch.compile f+bwd")
def w4_torch_compile_bwd(case: Case):
    a, b = _scalars(case, True)
    f = torch.compile(micrograd_torch)

    def fn():
        a.grad = b.grad = None
        g = f(a, b)
        g.backward()
        return g.detach(), a.grad, b.grad
    return fn


# -- W6 / W7: the same models as tracead's examples, from the case's parameters --------------------
def _params(case: Case) -> dict:
    return {k: torch.from_numpy(v.copy()).requires_grad_() for k, v in case.data["params"].items()}


def gpt_loss(p, x, y, d: dict):
    B, T = x.shape
    D, H = d["d"], d["heads"]
    h = p["tok.weight"][x] + p["pos.weight"][:T]
    for i in range(d["layers"]):
        b = f"blocks.{i}."
        a = F.layer_norm(h, (D,), p[b + "ln1.weight"], p[b + "ln1.bias"])
        q, k, v = (a @ p[b + "attn.in_proj_weight"].T + p[b + "attn.in_proj_bias"]).split(D, dim=-1)
        q, k, v = (t.reshape(B, T, H, D // H).transpose(1, 2) for t in (q, k, v))
        att = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, D)
        h = h + att @ p[b + "attn.out_proj.weight"] + p[b + "attn.out_proj.bias"]
        m = F.layer_norm(h, (D,), p[b + "ln2.weight"], p[b + "ln2.bias"])
        m = F.gelu(m @ p[b + "mlp.0.weight"] + p[b + "mlp.0.bias"], approximate="tanh")
        h = h + m @ p[b + "mlp.2.weight"] + p[b + "mlp.2.bias"]
    logits = F.layer_norm(h, (D,), p["ln_f.weight"], p["ln_f.bias"]) @ p["tok.weight"].T
    return F.cross_entropy(logits.reshape(B * T, -1), y.reshape(-1))


def cnn_loss(p, x, y, d: dict):
    h = F.max_pool2d(F.relu(F.conv2d(x, p["features.0.weight"], p["features.0.bias"], padding=1)), 2)
    h = F.max_pool2d(F.relu(F.conv2d(h, p["features.3.weight"], p["features.3.bias"], padding=1)), 2)
    return F.cross_entropy(h.flatten(1) @ p["head.weight"] + p["head.bias"], y)


def _train_step(loss_fn, compiled: bool):
    def factory(case: Case):
        d = case.data
        p = _params(case)
        x, y = torch.from_numpy(d["x"]), torch.from_numpy(d["y"])
        opt = torch.optim.AdamW(p.values(), lr=d["lr"], weight_decay=d["weight_decay"])

        def step():
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(p, x, y, d)
            loss.backward()
            opt.step()
            return loss.detach()

        step = torch.compile(step) if compiled else step
        return lambda: (step(),)
    return factory


for _w, _loss in (("W6", gpt_loss), ("W7", cnn_loss)):
    register(_w, "torch eager", note="autograd + torch.optim.AdamW")(_train_step(_loss, False))
    register(_w, "torch.compile", note="torch.compile of the whole step (backward and AdamW inside)")(
        _train_step(_loss, True))
