"""Train a small CNN on scikit-learn's 8x8 digits with tracead (workload W7).

    python examples/cnn_digits.py            # eager
    python examples/cnn_digits.py --compile  # the whole step as one compiled graph

Two conv(3x3, padding 1) + ReLU + 2x2 max-pool blocks and a linear head. The
training step (forward, cross-entropy, backward, AdamW update) is one Python
function; `ta.compile` turns all of it into one graph.
"""
import sys
import time

import numpy as np
from sklearn.datasets import load_digits

import tracead as ta
from tracead import nn, optim


class SmallCNN(nn.Module):
    """(N, 1, 8, 8) -> conv 16 -> pool -> conv 32 -> pool -> (N, 32*2*2) -> 10 logits."""

    def __init__(self, seed: int = 0, dtype=np.float32) -> None:
        super().__init__()
        rng = np.random.default_rng(seed)
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1, rng=rng, dtype=dtype), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1, rng=rng, dtype=dtype), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten())
        self.head = nn.Linear(32 * 2 * 2, 10, rng=rng, dtype=dtype)

    def forward(self, x):
        return self.head(self.features(x))


def load_data(seed: int = 0):
    """Standardised (N, 1, 8, 8) float32 images, split 1347 train / 450 test."""
    X, y = load_digits(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(X))
    train, test = order[450:], order[:450]
    mean, std = X[train].mean(), X[train].std()
    X = ((X - mean) / std).astype(np.float32).reshape(-1, 1, 8, 8)
    return X[train], y[train], X[test], y[test]


def make_step(model, opt):
    def train_step(xb, yb):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        return loss
    return train_step


def accuracy(model, X, y) -> float:
    with ta.no_grad():
        return float(np.mean(np.asarray(model(X)).argmax(axis=1) == y))


def main(compiled: bool, epochs: int = 10, batch_size: int = 128) -> float:
    X_train, y_train, X_test, y_test = load_data()
    model = SmallCNN(seed=0)
    opt = optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    step = make_step(model, opt)
    step = ta.compile(step) if compiled else step
    rng = np.random.default_rng(1)
    steps, start = 0, time.perf_counter()
    for epoch in range(epochs):
        perm = rng.permutation(len(X_train))
        for b in range(len(X_train) // batch_size):  # drop the ragged last batch
            idx = perm[b * batch_size:(b + 1) * batch_size]
            loss = step(X_train[idx], y_train[idx])
            steps += 1
        print(f"epoch {epoch}: loss {loss.item():.4f}")
    elapsed = time.perf_counter() - start
    acc = accuracy(model, X_test, y_test)
    print(f"test accuracy {acc:.1%}, {1e3 * elapsed / steps:.2f} ms/step")
    return acc


if __name__ == "__main__":
    main("--compile" in sys.argv)
