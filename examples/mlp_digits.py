"""Train a small MLP on scikit-learn's bundled digits with tracead.

    python examples/mlp_digits.py            # eager
    python examples/mlp_digits.py --compile  # the same step, traced and compiled

The training step (forward, cross-entropy, backward, Adam update) is one
ordinary Python function; `tracead.compile` turns all of it into one graph.
"""
import sys
import time

import numpy as np
from sklearn.datasets import load_digits

import tracead as ta
from tracead import nn, optim

# Data: 1797 8x8 images, standardised with the training split's statistics.
X, y = load_digits(return_X_y=True)
rng = np.random.default_rng(0)
order = rng.permutation(len(X))
train, test = order[450:], order[:450]
mean, std = X[train].mean(0), X[train].std(0) + 1e-8
X = ((X - mean) / std).astype(np.float32)
X_train, y_train, X_test, y_test = X[train], y[train], X[test], y[test]

model = nn.MLP([64, 128, 64, 10], activation="relu", seed=0)
opt = optim.Adam(model.parameters(), lr=3e-3)


def train_step(model, xb, yb):
    opt.zero_grad()
    loss = nn.cross_entropy(model(xb), yb)
    loss.backward()
    opt.step()
    return loss


step = ta.compile(train_step) if "--compile" in sys.argv else train_step

batch_size, steps = 64, 0
start = time.perf_counter()
for epoch in range(8):
    perm = rng.permutation(len(X_train))
    for b in range(len(X_train) // batch_size):  # drop the ragged last batch
        idx = perm[b * batch_size:(b + 1) * batch_size]
        loss = step(model, X_train[idx], y_train[idx])
        steps += 1
    print(f"epoch {epoch}: loss {loss.item():.4f}")
elapsed = time.perf_counter() - start

with ta.no_grad():
    predictions = np.asarray(model(X_test)).argmax(axis=1)
print(f"test accuracy {np.mean(predictions == y_test):.1%}, {1e3 * elapsed / steps:.2f} ms/step")
