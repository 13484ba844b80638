"""A character-level GPT trained with tracead (workload W6).

    python examples/char_gpt.py            # eager
    python examples/char_gpt.py --compile  # the whole step as one compiled graph

2 transformer blocks (d_model 128, 4 heads, context 64, pre-LayerNorm,
causal self-attention, GELU MLP), token + position embeddings and a head
tied to the token embedding, trained with AdamW on text that ships with
Python (the docstrings of standard-library modules; no download). It prints
the loss as it falls, then samples a line.
"""
from __future__ import annotations

import contextlib
import importlib
import io
import sys
import time

import numpy as np

import tracead as ta
from tracead import nn, optim

MODULES = ("this", "collections", "functools", "itertools", "json", "argparse", "typing",
           "dataclasses", "pathlib", "subprocess", "logging", "threading", "unittest", "csv",
           "decimal", "fractions", "statistics", "random", "string", "textwrap", "heapq", "bisect")


def corpus() -> str:
    """The Zen of Python and standard-library module docstrings."""
    parts = []
    for name in MODULES:
        with contextlib.redirect_stdout(io.StringIO()) as out:  # `import this` prints the Zen
            module = importlib.import_module(name)
        parts.append(out.getvalue() or (module.__doc__ or ""))
    return "\n".join(p for p in parts if p)


class Block(nn.Module):
    def __init__(self, d: int, heads: int, rng) -> None:
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True, rng=rng)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d, rng=rng, init="glorot"),
                                 nn.GELU(approximate="tanh"),
                                 nn.Linear(4 * d, d, rng=rng, init="glorot"))

    def forward(self, x):
        h = self.ln1(x)
        x = x + self.attn(h, h, h, need_weights=False, is_causal=True)[0]
        return x + self.mlp(self.ln2(x))


class CharGPT(nn.Module):
    def __init__(self, vocab: int, d: int = 128, heads: int = 4, layers: int = 2,
                 context: int = 64, seed: int = 0) -> None:
        super().__init__()
        rng = np.random.default_rng(seed)
        self.context = context
        self.tok = nn.Embedding(vocab, d, rng=rng)
        self.tok.weight.assign_(self.tok.weight.numpy() * 0.02)  # GPT-2's init scale
        self.pos = nn.Embedding(context, d, rng=rng)
        self.pos.weight.assign_(self.pos.weight.numpy() * 0.02)
        self.blocks = nn.Sequential(*(Block(d, heads, rng) for _ in range(layers)))
        self.ln_f = nn.LayerNorm(d)

    def forward(self, idx):
        t = idx.shape[1]
        x = self.tok(idx) + self.pos(np.arange(t))
        x = self.ln_f(self.blocks(x))
        return x @ self.tok.weight.T  # the head is tied to the token embedding


def make_step(model, opt):
    def train_step(xb, yb):
        opt.zero_grad()
        logits = model(xb)
        loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), yb.reshape(-1))
        loss.backward()
        opt.step()
        return loss
    return train_step


def batches(data: np.ndarray, batch: int, context: int, rng):
    while True:
        start = rng.integers(0, len(data) - context - 1, batch)
        rows = start[:, None] + np.arange(context + 1)
        chunk = data[rows]
        yield chunk[:, :-1], chunk[:, 1:]


def sample(model, stoi, itos, prompt: str, length: int, rng, temperature: float = 0.8) -> str:
    ids = [stoi[c] for c in prompt]
    with ta.no_grad():
        for _ in range(length):
            ctx = np.array([ids[-model.context:]])
            logits = np.asarray(model(ctx))[0, -1] / temperature
            p = np.exp(logits - logits.max())
            ids.append(int(rng.choice(len(p), p=p / p.sum())))
    return "".join(itos[i] for i in ids)


def main(compiled: bool, steps: int = 200, batch: int = 32, context: int = 64) -> list[float]:
    text = corpus()
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = np.array([stoi[c] for c in text], np.int64)
    model = CharGPT(len(chars), context=context)
    opt = optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    step = make_step(model, opt)
    step = ta.compile(step) if compiled else step
    rng = np.random.default_rng(0)
    losses, start = [], time.perf_counter()
    for i, (xb, yb) in zip(range(steps), batches(data, batch, context, rng)):
        losses.append(float(step(xb, yb)))
        if i % 50 == 0 or i == steps - 1:
            print(f"step {i}: loss {losses[-1]:.3f}")
    elapsed = time.perf_counter() - start
    print(f"{len(text)} characters, vocabulary {len(chars)}, {1e3 * elapsed / steps:.1f} ms/step")
    print("sample:", sample(model, stoi, chars, "The ", 80, rng).splitlines()[0])
    return losses


if __name__ == "__main__":
    main("--compile" in sys.argv)
