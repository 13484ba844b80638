"""Reference workloads W6 (char GPT training step) and W7 (CNN training step).

W6: 2 pre-LayerNorm transformer blocks, d_model 128, 4 heads, context 64,
batch 32, token + position embeddings, causal self-attention, GELU (tanh)
MLP 128-512-128, a head tied to the token embedding, AdamW (lr 3e-3, weight
decay 0.01); tokens are characters of text shipped with Python.
W7: conv(1->16, 3x3, pad 1) + ReLU + 2x2 max-pool, conv(16->32) + ReLU +
max-pool, Linear(128 -> 10), batch 128 of scikit-learn's 8x8 digits, AdamW
(lr 3e-3, weight decay 1e-4).

`fn()` returns `(loss,)` of its step; each call trains on (the parameters
the previous call left). The first call's loss is checked against a float64
NumPy forward pass from the case's initial parameters. Parameters are
{name: float32 array} with tracead's names and layouts (Linear weights are
(in, out)); peers convert.
"""
from __future__ import annotations

import math

import numpy as np

GPT = dict(vocab=91, d=128, heads=4, layers=2, context=64, batch=32, lr=3e-3, weight_decay=0.01)
CNN = dict(batch=128, lr=3e-3, weight_decay=1e-4)


def _uniform(rng, bound, shape):
    return rng.uniform(-bound, bound, shape).astype(np.float32)


def init_gpt(seed: int = 6) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    d, v, c = GPT["d"], GPT["vocab"], GPT["context"]
    p = {"tok.weight": (0.02 * rng.standard_normal((v, d))).astype(np.float32),
         "pos.weight": (0.02 * rng.standard_normal((c, d))).astype(np.float32)}
    for i in range(GPT["layers"]):
        b = f"blocks.{i}."
        for ln in ("ln1", "ln2"):
            p[b + ln + ".weight"], p[b + ln + ".bias"] = np.ones(d, np.float32), np.zeros(d, np.float32)
        p[b + "attn.in_proj_weight"] = _uniform(rng, math.sqrt(6 / (4 * d)), (3 * d, d))
        p[b + "attn.in_proj_bias"] = np.zeros(3 * d, np.float32)
        p[b + "attn.out_proj.weight"] = _uniform(rng, math.sqrt(6 / (2 * d)), (d, d))
        p[b + "attn.out_proj.bias"] = np.zeros(d, np.float32)
        p[b + "mlp.0.weight"] = _uniform(rng, math.sqrt(6 / (5 * d)), (d, 4 * d))
        p[b + "mlp.0.bias"] = np.zeros(4 * d, np.float32)
        p[b + "mlp.2.weight"] = _uniform(rng, math.sqrt(6 / (5 * d)), (4 * d, d))
        p[b + "mlp.2.bias"] = np.zeros(d, np.float32)
    p["ln_f.weight"], p["ln_f.bias"] = np.ones(d, np.float32), np.zeros(d, np.float32)
    return p


def init_cnn(seed: int = 7) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"features.0.weight": _uniform(rng, 1 / 3, (16, 1, 3, 3)),
            "features.0.bias": _uniform(rng, 1 / 3, (16,)),
            "features.3.weight": _uniform(rng, 1 / 12, (32, 16, 3, 3)),
            "features.3.bias": _uniform(rng, 1 / 12, (32,)),
            "head.weight": _uniform(rng, math.sqrt(6 / 128), (128, 10)),
            "head.bias": np.zeros(10, np.float32)}


def make_w6(case_cls):
    from examples.char_gpt import corpus

    text = corpus()
    chars = sorted(set(text))[:GPT["vocab"]]
    stoi = {ch: i for i, ch in enumerate(chars)}
    data = np.array([stoi.get(ch, 0) for ch in text], np.int64)
    rng = np.random.default_rng(6)
    start = rng.integers(0, len(data) - GPT["context"] - 1, GPT["batch"])
    chunk = data[start[:, None] + np.arange(GPT["context"] + 1)]
    return case_cls("W6", f"B={GPT['batch']} T={GPT['context']}",
                    {"x": chunk[:, :-1], "y": chunk[:, 1:], "params": init_gpt(), **GPT},
                    {"batch": GPT["batch"]})


def make_w7(case_cls):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = ((X - X.mean()) / X.std()).astype(np.float32).reshape(-1, 1, 8, 8)
    idx = np.random.default_rng(7).permutation(len(X))[:CNN["batch"]]
    return case_cls("W7", f"B={CNN['batch']}", {"x": X[idx], "y": y[idx].astype(np.int64),
                                               "params": init_cnn(), **CNN}, {"batch": CNN["batch"]})


# -- float64 NumPy forward passes (the first step's loss) ------------------------------------------
def _ce(logits, y):
    z = logits - logits.max(axis=-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    return float(-logp[np.arange(len(y)), y].mean())


def _ln(x, w, b, eps=1e-5):
    mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def ref_w6(case) -> tuple[float]:
    p = {k: v.astype(np.float64) for k, v in case.data["params"].items()}
    x, y = case.data["x"], case.data["y"]
    B, T = x.shape
    d, H = GPT["d"], GPT["heads"]
    h = p["tok.weight"][x] + p["pos.weight"][np.arange(T)]
    causal = np.tril(np.ones((T, T), bool))
    for i in range(GPT["layers"]):
        b = f"blocks.{i}."
        a = _ln(h, p[b + "ln1.weight"], p[b + "ln1.bias"])
        W, bias = p[b + "attn.in_proj_weight"], p[b + "attn.in_proj_bias"]
        q, k, v = ((a @ W[j * d:(j + 1) * d].T + bias[j * d:(j + 1) * d])
                   .reshape(B, T, H, d // H).transpose(0, 2, 1, 3) for j in range(3))
        s = np.where(causal, q @ k.transpose(0, 1, 3, 2) / math.sqrt(d // H), -np.inf)
        w = np.exp(s - s.max(-1, keepdims=True))
        att = (w / w.sum(-1, keepdims=True)) @ v
        att = att.transpose(0, 2, 1, 3).reshape(B, T, d)
        h = h + att @ p[b + "attn.out_proj.weight"] + p[b + "attn.out_proj.bias"]
        m = _ln(h, p[b + "ln2.weight"], p[b + "ln2.bias"]) @ p[b + "mlp.0.weight"] + p[b + "mlp.0.bias"]
        m = 0.5 * m * (1 + np.tanh(math.sqrt(2 / math.pi) * (m + 0.044715 * m ** 3)))
        h = h + m @ p[b + "mlp.2.weight"] + p[b + "mlp.2.bias"]
    logits = _ln(h, p["ln_f.weight"], p["ln_f.bias"]) @ p["tok.weight"].T
    return (_ce(logits.reshape(B * T, -1), y.reshape(-1)),)


def _conv_relu_pool(x, w, b):
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(2, 3))
    h = np.maximum(np.einsum("nchwij,ocij->nohw", win, w) + b[:, None, None], 0)
    n, c, hh, ww = h.shape
    return h.reshape(n, c, hh // 2, 2, ww // 2, 2).max(axis=(3, 5))


def ref_w7(case) -> tuple[float]:
    p = {k: v.astype(np.float64) for k, v in case.data["params"].items()}
    h = _conv_relu_pool(case.data["x"].astype(np.float64), p["features.0.weight"], p["features.0.bias"])
    h = _conv_relu_pool(h, p["features.3.weight"], p["features.3.bias"])
    logits = h.reshape(len(h), -1) @ p["head.weight"] + p["head.bias"]
    return (_ce(logits, case.data["y"]),)
